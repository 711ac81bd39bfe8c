//! A warning when the command would start pytest-xdist workers in a shard.
//!
//! A shard's stack is as private as the suite's own run was: xdist workers
//! inside it share its one database and cache again, which is what sharding
//! avoids, and they compete with the other shards for the cores. Projects
//! often turn xdist on in their pytest settings (`addopts = -n auto`), which
//! every shard then reads: the warning says where, and how to turn it off.

use std::path::Path;

/// The files pytest reads its settings from, in the order it looks, with
/// the section that holds them.
const SETTINGS: [(&str, &str); 4] = [
    ("pytest.ini", "[pytest]"),
    ("pyproject.toml", "[tool.pytest.ini_options]"),
    ("tox.ini", "[pytest]"),
    ("setup.cfg", "[tool:pytest]"),
];

/// Warn on stderr when the command line's command would start xdist.
pub fn warn(cli: &crate::cli::Cli) {
    // The folder compose runs in, as `Context` finds it: where the project's
    // settings usually are.
    let project = match (&cli.project_directory, cli.files.first()) {
        (Some(dir), _) => dir.as_path(),
        (None, Some(file)) => file.parent().unwrap_or(Path::new("")),
        (None, None) => Path::new(""),
    };
    let project = if project.as_os_str().is_empty() {
        Path::new(".")
    } else {
        project
    };
    if let Some(warning) = warning(&cli.command, project) {
        eprintln!("stack-run: warning: {warning}");
    }
}

/// What to say, if anything: `command` is the shard's command line,
/// `project` the folder whose pytest settings the command reads.
pub fn warning(command: &[String], project: &Path) -> Option<String> {
    if disables_xdist(command) {
        return None;
    }
    const HOW: &str = "add `-p no:xdist` (or `-n 0`) to the command";
    if let Some(workers) = workers(command) {
        return (workers != "0").then(|| {
            format!("COMMAND starts pytest-xdist ({workers} workers) inside every shard; {HOW}")
        });
    }
    for (name, section) in SETTINGS {
        let Ok(text) = std::fs::read_to_string(project.join(name)) else {
            continue;
        };
        let Some(addopts) = addopts(&text, section) else {
            // pytest.ini is pytest's whatever it holds; the others only with the section.
            if name == "pytest.ini" {
                return None;
            }
            continue;
        };
        let words = words(&addopts);
        return workers(&words)
            .filter(|workers| *workers != "0" && !disables_xdist(&words))
            .map(|workers| {
                format!(
                    "{}'s addopts start pytest-xdist ({workers} workers) inside every shard; {HOW}",
                    project.join(name).display()
                )
            });
    }
    None
}

/// `-p no:xdist` among the arguments.
fn disables_xdist(args: &[String]) -> bool {
    args.windows(2)
        .any(|pair| pair[0] == "-p" && pair[1] == "no:xdist")
        || args.iter().any(|arg| arg == "-pno:xdist")
}

/// The value of the last `-n`/`--numprocesses` among the arguments.
fn workers(args: &[String]) -> Option<String> {
    let mut found = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = if arg == "-n" || arg == "--numprocesses" {
            args.next().cloned()
        } else if let Some(value) = arg.strip_prefix("--numprocesses=") {
            Some(value.to_string())
        } else {
            arg.strip_prefix("-n")
                .filter(|v| !v.is_empty())
                .map(|value| value.trim_start_matches('=').to_string())
        };
        if value.is_some() {
            found = value;
        }
    }
    found
}

/// The `addopts` value of `section`, continuation lines (ini) or a list
/// over several lines (TOML) included.
fn addopts(text: &str, section: &str) -> Option<String> {
    let mut in_section = false;
    let mut value: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && !trimmed.starts_with("[\"") && value.is_none() {
            in_section = trimmed == section;
            continue;
        }
        if !in_section {
            continue;
        }
        match &mut value {
            Some(value) => {
                // Indented lines continue an ini value; an open TOML list goes on to its `]`.
                let open_list = value.contains('[') && !value.contains(']');
                if open_list || (line.starts_with([' ', '\t']) && !trimmed.is_empty()) {
                    value.push(' ');
                    value.push_str(trimmed);
                } else {
                    break;
                }
            }
            None => {
                let Some((key, rest)) = trimmed.split_once(['=', ':']) else {
                    continue;
                };
                if key.trim() == "addopts" {
                    value = Some(rest.trim().to_string());
                }
            }
        }
    }
    value
}

/// The options in an addopts value: words, with TOML's quotes, commas and
/// brackets taken off.
fn words(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '"' | '\''))
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn workers_in_the_command() {
        assert_eq!(workers(&args("pytest -n 4 @t")), Some("4".into()));
        assert_eq!(workers(&args("pytest -nauto")), Some("auto".into()));
        assert_eq!(
            workers(&args("pytest -n=auto --numprocesses=2")),
            Some("2".into())
        );
        assert_eq!(workers(&args("pytest --no-header @t")), None);
    }

    #[test]
    fn the_command_warns_unless_it_turns_xdist_off() {
        let none = Path::new("/nonexistent");
        let warned = warning(&args("pytest -n auto @{tests}"), none).unwrap();
        assert!(
            warned.starts_with("COMMAND starts pytest-xdist (auto workers)"),
            "{warned}"
        );
        assert_eq!(warning(&args("pytest -n 0 @{tests}"), none), None);
        assert_eq!(warning(&args("pytest -n 4 -p no:xdist"), none), None);
    }

    #[test]
    fn addopts_of_each_settings_file() {
        let ini = "[pytest]\nDJANGO_SETTINGS_MODULE = x\naddopts = --reuse-db\n    -n=auto --failed-first\nmarkers = a\n";
        assert_eq!(
            addopts(ini, "[pytest]").as_deref(),
            Some("--reuse-db -n=auto --failed-first")
        );
        let toml = "[project]\nname = \"x\"\n[tool.pytest.ini_options]\naddopts = [\n  \"-n\", \"auto\",\n  \"--strict-markers\",\n]\ntestpaths = [\"t\"]\n";
        let value = addopts(toml, "[tool.pytest.ini_options]").unwrap();
        assert_eq!(workers(&words(&value)), Some("auto".into()));
        let cfg = "[metadata]\nname = x\n[tool:pytest]\naddopts = -p no:xdist -n 4\n";
        assert!(disables_xdist(&words(
            &addopts(cfg, "[tool:pytest]").unwrap()
        )));
        assert_eq!(addopts("[flake8]\naddopts = -n 2\n", "[tool:pytest]"), None);
    }

    #[test]
    fn project_settings_are_named_in_the_warning() {
        let dir = std::env::temp_dir().join(format!("stack-run-xdist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("setup.cfg"), "[tool:pytest]\naddopts = -n auto\n").unwrap();
        let warned = warning(&args("pytest @{tests}"), &dir);
        // A pytest.ini, even one without addopts, is the one pytest reads.
        std::fs::write(dir.join("pytest.ini"), "[pytest]\n").unwrap();
        let shadowed = warning(&args("pytest @{tests}"), &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let warned = warned.unwrap();
        assert!(
            warned.contains("setup.cfg's addopts start pytest-xdist (auto workers)"),
            "{warned}"
        );
        assert!(warned.ends_with("add `-p no:xdist` (or `-n 0`) to the command"));
        assert_eq!(shadowed, None);
    }
}
