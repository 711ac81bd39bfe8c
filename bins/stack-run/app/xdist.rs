//! A warning when a command would start pytest-xdist workers in a stack.
//!
//! A shard's stack is as private as the suite's own run was: xdist workers
//! inside it share its one database and cache again, which is what sharding
//! avoids, and they compete with the other shards for the cores. A seed
//! command under xdist is worse, and silent: pytest-django names a worker's
//! database `test_NAME_gw0`, so the seed holds a database the shards (without
//! xdist) never open, and each makes its own from scratch. Projects often
//! turn xdist on in their pytest settings (`addopts = -n auto`), which every
//! command then reads: the warning says where, and how to turn it off.
//!
//! The settings are looked for as pytest finds them, in the folders the
//! service's code comes from: its bind mounts, its build context, then the
//! compose project's folder.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::app::context::Context;
use crate::model::derive::bind_mounts;

/// The files pytest reads its settings from, in the order it looks in a
/// folder, with the sections that hold them (pytest 9 reads pyproject.toml's
/// own `[tool.pytest]` table, older ones `[tool.pytest.ini_options]`). A
/// `pytest.ini` is pytest's whatever it holds; the others only with a section.
const SETTINGS: [(&str, &[&str]); 5] = [
    ("pytest.ini", &["[pytest]"]),
    (".pytest.ini", &["[pytest]"]),
    (
        "pyproject.toml",
        &["[tool.pytest]", "[tool.pytest.ini_options]"],
    ),
    ("tox.ini", &["[pytest]"]),
    ("setup.cfg", &["[tool:pytest]"]),
];

const HOW: &str = "add `-p no:xdist` (or `-n 0`) to the command";

/// Options pytest adds to every command: where from (`FILE's addopts`,
/// `the options in PYTEST_ADDOPTS`), and their words.
#[derive(Debug, PartialEq)]
pub struct Addopts {
    pub source: String,
    pub words: Vec<String>,
}

/// Warn on stderr for each command of the run that would start xdist: the
/// shards' command and the seed's.
pub fn warn(ctx: &Context) {
    let settings = folders(ctx).iter().find_map(|folder| settings_in(folder));
    let settings = settings.flatten();
    let env_addopts = pytest_addopts_env(ctx);
    let env = env_addopts.as_ref();
    if let Some(warning) = warning(&ctx.config.task.command, settings.as_ref(), env) {
        eprintln!("stack-run: warning: {warning}");
    }
    if let Some(seed) = &ctx.seed {
        if let Some(warning) = seed_warning(&seed.command, settings.as_ref(), env) {
            eprintln!("stack-run: warning: {warning}");
        }
        let shards = &ctx.config.task.command;
        if let Some(warning) = reuse_db_warning(&seed.command, shards, settings.as_ref(), env) {
            eprintln!("stack-run: warning: {warning}");
        }
    }
}

/// What to say when the seed keeps pytest-django's test database
/// (`--reuse-db`) but the shards' command does not take it up: each shard
/// would build its database again, and the seed would be for nothing.
fn reuse_db_warning(
    seed: &[String],
    shards: &[String],
    settings: Option<&Addopts>,
    env: Option<&Addopts>,
) -> Option<String> {
    let words = |command: &[String]| -> Vec<String> {
        let added = [settings, env].into_iter().flatten();
        let added = added.flat_map(|addopts| addopts.words.iter().cloned());
        let own = command
            .iter()
            .flat_map(|word| word.split_whitespace())
            .map(str::to_string);
        added.chain(own).collect()
    };
    let (seed, shards) = (words(seed), words(shards));
    let reuses = |words: &[String]| words.iter().any(|word| word == "--reuse-db");
    if !runs_pytest(&seed) || !reuses(&seed) || !runs_pytest(&shards) || reuses(&shards) {
        return None;
    }
    Some(
        "--seed keeps pytest-django's test database (--reuse-db), but COMMAND does not \
         reuse it: every shard builds its own again and the seed goes unused; add \
         --reuse-db to COMMAND"
            .into(),
    )
}

/// What to say of the shards' command, if anything.
pub fn warning(
    command: &[String],
    settings: Option<&Addopts>,
    env: Option<&Addopts>,
) -> Option<String> {
    let (workers, from) = starts_xdist(command, settings, env)?;
    Some(match from {
        None => {
            format!("COMMAND starts pytest-xdist ({workers} workers) inside every shard; {HOW}")
        }
        Some(source) => {
            format!("{source} start pytest-xdist ({workers} workers) inside every shard; {HOW}")
        }
    })
}

/// What to say of the seed command, if anything.
fn seed_warning(
    command: &[String],
    settings: Option<&Addopts>,
    env: Option<&Addopts>,
) -> Option<String> {
    let (workers, from) = starts_xdist(command, settings, env)?;
    let from = from
        .map(|source| format!(", from {source}"))
        .unwrap_or_default();
    Some(format!(
        "--seed's command starts pytest-xdist ({workers} workers{from}): pytest-django \
         then seeds test_NAME_gw0, a database shards without xdist never open, and each \
         shard makes its own from scratch; add `-p no:xdist` (or `-n 0`) to --seed"
    ))
}

/// The number of workers `command` would start, and the settings that
/// start them (`None`: the command itself); `None` when it does not run
/// pytest or runs it without xdist.
fn starts_xdist(
    command: &[String],
    settings: Option<&Addopts>,
    env: Option<&Addopts>,
) -> Option<(String, Option<String>)> {
    let words: Vec<String> = command
        .iter()
        .flat_map(|word| word.split_whitespace())
        .map(str::to_string)
        .collect();
    if !runs_pytest(&words) {
        return None;
    }
    // pytest reads the settings' addopts, then PYTEST_ADDOPTS, then the
    // command line: the last `-n` wins, and `-p no:xdist` anywhere ends it.
    let sources = [settings, env]
        .into_iter()
        .flatten()
        .map(|addopts| (addopts.words.as_slice(), Some(addopts.source.clone())))
        .chain([(words.as_slice(), None)]);
    let mut found = None;
    for (args, from) in sources {
        if disables_xdist(args) {
            return None;
        }
        if let Some(workers) = workers(args) {
            found = Some((workers, from));
        }
    }
    found.filter(|(workers, _)| workers != "0")
}

/// Whether the command runs pytest: a word `pytest` or `py.test` (a path to
/// one too), or `-m pytest`.
fn runs_pytest(words: &[String]) -> bool {
    let named = |word: &str| {
        let name = word.rsplit('/').next().unwrap_or(word);
        name == "pytest" || name == "py.test"
    };
    words.iter().any(|word| named(word))
        || words
            .windows(2)
            .any(|pair| pair[0] == "-m" && pair[1] == "pytest")
}

/// The folders the service's code may come from, most likely first: its
/// bind mounts (the one at its working folder first), its build context,
/// the compose project's folder.
fn folders(ctx: &Context) -> Vec<PathBuf> {
    let service = ctx
        .stacks
        .blueprint
        .model
        .service(&ctx.stacks.blueprint.service);
    let mut folders = code_folders(service);
    folders.push(
        ctx.stacks
            .blueprint
            .compose
            .project_directory()
            .to_path_buf(),
    );
    let mut unique = Vec::new();
    for folder in folders {
        if !unique.contains(&folder) {
            unique.push(folder);
        }
    }
    unique
}

/// The service's bind mounts and build context, as `compose config` gives
/// them (absolute paths; v1 writes mounts as `SOURCE:TARGET:MODE`).
fn code_folders(service: &Value) -> Vec<PathBuf> {
    let working_dir = service["working_dir"].as_str().map(PathBuf::from);
    let mut mounted = Vec::new();
    for (source, target) in bind_mounts(service) {
        if !source.starts_with('/') || target.is_empty() {
            continue;
        }
        // The working folder's own copy, when it is inside the mount.
        let inside = working_dir
            .as_deref()
            .and_then(|dir| dir.strip_prefix(target).ok());
        match inside {
            Some(rest) => mounted.insert(0, Path::new(source).join(rest)),
            None => mounted.push(PathBuf::from(source)),
        }
    }
    let context = match &service["build"] {
        Value::String(context) => Some(context.as_str()),
        build => build["context"].as_str(),
    };
    mounted.extend(context.map(PathBuf::from));
    mounted
}

/// pytest's settings in `folder`: `None` when it has no settings file,
/// `Some(None)` when it has one without addopts (pytest looks no further).
fn settings_in(folder: &Path) -> Option<Option<Addopts>> {
    for (name, sections) in SETTINGS {
        let file = folder.join(name);
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let has_section = sections
            .iter()
            .any(|section| text.lines().any(|line| line.trim() == *section));
        if !has_section && !name.ends_with("pytest.ini") {
            continue;
        }
        let value = sections.iter().find_map(|section| addopts(&text, section));
        return Some(value.map(|value| Addopts {
            source: format!("{}'s addopts", file.display()),
            words: words(&value),
        }));
    }
    None
}

/// PYTEST_ADDOPTS as the command gets it: from `-e`, else the service's
/// environment in the compose file.
pub fn pytest_addopts_env(ctx: &Context) -> Option<Addopts> {
    const NAME: &str = "PYTEST_ADDOPTS";
    let from_cli = ctx.config.task.env.iter().find(|(key, _)| key == NAME);
    let service = ctx
        .stacks
        .blueprint
        .model
        .service(&ctx.stacks.blueprint.service);
    let value = match from_cli {
        Some((_, value)) => value.clone(),
        None => match &service["environment"] {
            Value::Object(env) => env.get(NAME)?.as_str()?.to_string(),
            Value::Array(list) => list
                .iter()
                .filter_map(Value::as_str)
                .find_map(|pair| pair.strip_prefix("PYTEST_ADDOPTS="))?
                .to_string(),
            _ => return None,
        },
    };
    Some(Addopts {
        source: format!("the options in {NAME}"),
        words: words(&value),
    })
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
    use serde_json::json;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    fn settings(folder: &Path) -> Option<Addopts> {
        settings_in(folder).flatten()
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
        let warned = warning(&args("pytest -n auto @{tests}"), None, None).unwrap();
        assert!(
            warned.starts_with("COMMAND starts pytest-xdist (auto workers)"),
            "{warned}"
        );
        assert_eq!(warning(&args("pytest -n 0 @{tests}"), None, None), None);
        assert_eq!(warning(&args("pytest -n 4 -p no:xdist"), None, None), None);
        // Not pytest: its `-n` is its own.
        assert_eq!(warning(&args("/seeded.sh shard -n 2"), None, None), None);
        assert!(warning(&args("sh -c 'python -m pytest -n 2'"), None, None).is_some());
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
    fn pytest_9s_own_table_in_pyproject_is_read() {
        // Issue 26 item 9: the project's addopts were under `[tool.pytest]`.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"shop\"\n\n[tool.pytest]\naddopts = ['-n=auto', '--strict-markers']\n",
        )
        .unwrap();
        let found = settings(dir.path()).unwrap();
        assert_eq!(found.words, ["-n=auto", "--strict-markers"]);
        let warned = warning(&args("pytest @{tests}"), Some(&found), None).unwrap();
        assert_eq!(
            warned,
            format!(
                "{}'s addopts start pytest-xdist (auto workers) inside every shard; {HOW}",
                dir.path().join("pyproject.toml").display()
            )
        );
        let seed = seed_warning(&args("pytest --create-db -q t.py"), Some(&found), None);
        assert!(seed.unwrap().starts_with(&format!(
            "--seed's command starts pytest-xdist (auto workers, from {}'s addopts): ",
            dir.path().join("pyproject.toml").display()
        )));
        assert_eq!(
            seed_warning(&args("pytest -p no:xdist --create-db"), Some(&found), None),
            None
        );
    }

    #[test]
    fn settings_are_found_as_pytest_finds_them() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        // A pyproject without pytest's table is not pytest's: setup.cfg is.
        std::fs::write(
            dir.join("pyproject.toml"),
            "[tool.black]\nline-length = 99\n",
        )
        .unwrap();
        std::fs::write(dir.join("setup.cfg"), "[tool:pytest]\naddopts = -n auto\n").unwrap();
        let found = settings(dir).unwrap().source;
        assert_eq!(
            found,
            format!("{}'s addopts", dir.join("setup.cfg").display())
        );
        std::fs::write(dir.join("tox.ini"), "[tox]\n[pytest]\naddopts = -n 3\n").unwrap();
        assert_eq!(settings(dir).unwrap().words, ["-n", "3"]);
        // A pytest.ini, even one without addopts, is the one pytest reads.
        std::fs::write(dir.join("pytest.ini"), "[pytest]\n").unwrap();
        assert_eq!(settings_in(dir), Some(None));
        assert_eq!(settings_in(&dir.join("nope")), None);
    }

    #[test]
    fn the_code_is_looked_for_where_the_service_gets_it() {
        let v2 = json!({
            "build": {"context": "/src/shop", "dockerfile": "Dockerfile"},
            "working_dir": "/code/backend",
            "volumes": [
                {"type": "volume", "source": "data", "target": "/data"},
                {"type": "bind", "source": "/cache", "target": "/root/.cache"},
                {"type": "bind", "source": "/src/shop", "target": "/code"}
            ]
        });
        assert_eq!(
            code_folders(&v2),
            [
                PathBuf::from("/src/shop/backend"),
                PathBuf::from("/cache"),
                PathBuf::from("/src/shop")
            ]
        );
        let v1 = json!({"build": "/src/shop", "volumes": ["/src/shop:/code:rw", "data:/data:rw"]});
        assert_eq!(
            code_folders(&v1),
            [PathBuf::from("/src/shop"), PathBuf::from("/src/shop")]
        );
    }

    #[test]
    fn pytest_addopts_in_the_environment_counts_after_the_settings() {
        let env = Addopts {
            source: "the options in PYTEST_ADDOPTS".into(),
            words: args("-n 2"),
        };
        let off = Addopts {
            source: "pytest.ini's addopts".into(),
            words: args("-n 0"),
        };
        let warned = warning(&args("pytest"), Some(&off), Some(&env)).unwrap();
        assert!(
            warned.starts_with("the options in PYTEST_ADDOPTS start pytest-xdist (2 workers)"),
            "{warned}"
        );
        assert_eq!(warning(&args("pytest -n0"), Some(&off), Some(&env)), None);
    }

    #[test]
    fn a_seeded_database_that_the_shards_would_not_reuse_is_warned_about() {
        let seed = args("pytest --create-db --reuse-db -q tests/test_health.py");
        let warned = reuse_db_warning(&seed, &args("pytest @{tests}"), None, None).unwrap();
        assert!(warned.ends_with("add --reuse-db to COMMAND"), "{warned}");
        let reusing = args("pytest --reuse-db @{tests}");
        assert_eq!(reuse_db_warning(&seed, &reusing, None, None), None);
        // The project's settings may reuse it for every command.
        let settings = Addopts {
            source: "pytest.ini's addopts".into(),
            words: args("--reuse-db"),
        };
        let plain = args("pytest @{tests}");
        assert_eq!(reuse_db_warning(&seed, &plain, Some(&settings), None), None);
        // A seed that is not pytest-django's database says nothing.
        let migrate = args("python manage.py migrate");
        assert_eq!(reuse_db_warning(&migrate, &plain, None, None), None);
    }
}
