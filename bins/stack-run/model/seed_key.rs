//! `--seed-key` patterns, and what a key covers.
//!
//! Django keeps migrations in every app, at any depth (`shop/orders/migrations`),
//! and a shell's `*/migrations` sees one level only: a seed keyed by it goes
//! stale in silence when a nested app's migration changes. So stack-run
//! expands a quoted pattern itself, `**` matching any number of folders, and
//! says how many files the key covers, so that a pattern that matches too
//! little shows.

use std::path::{Component, Path, PathBuf};

use anyhow::bail;

/// Each `--seed-key` argument as paths: a pattern (`*`, `?`, `**`) by what it
/// matches, in name order, folders skipped as the key skips them; a plain
/// path as it is. A pattern that matches nothing, or a path that is not
/// there, is an error.
pub fn expand(given: &[PathBuf]) -> anyhow::Result<Vec<Expanded>> {
    let mut expanded = Vec::new();
    for path in given {
        let text = path.to_string_lossy();
        if !is_pattern(&text) {
            if !path.exists() {
                bail!("--seed-key {}: no such file or folder", path.display());
            }
            expanded.push(Expanded {
                given: path.clone(),
                paths: vec![path.clone()],
            });
            continue;
        }
        let paths = matches(path);
        if paths.is_empty() {
            bail!(
                "--seed-key '{}': the pattern matches no file or folder",
                path.display()
            );
        }
        expanded.push(Expanded {
            given: path.clone(),
            paths,
        });
    }
    Ok(expanded)
}

/// One `--seed-key` argument and the paths it stands for.
pub struct Expanded {
    pub given: PathBuf,
    pub paths: Vec<PathBuf>,
}

/// `seed key: 231 files: requirements.txt (1 file), '**/migrations' (13
/// matches, 230 files)`: what the key covers, for stderr.
pub fn coverage(expanded: &[Expanded], files_in: impl Fn(&Path) -> usize) -> String {
    let mut total = 0;
    let mut parts = Vec::new();
    for argument in expanded {
        let files: usize = argument.paths.iter().map(|path| files_in(path)).sum();
        total += files;
        let given = argument.given.display();
        parts.push(match is_pattern(&argument.given.to_string_lossy()) {
            true => format!(
                "'{given}' ({} match{}, {})",
                argument.paths.len(),
                if argument.paths.len() == 1 { "" } else { "es" },
                count(files, "file")
            ),
            false => format!("{given} ({})", count(files, "file")),
        });
    }
    format!("seed key: {}: {}", count(total, "file"), parts.join(", "))
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// What `pattern` matches, sorted; a match inside another is left out (the
/// outer one's files hold its files already).
fn matches(pattern: &Path) -> Vec<PathBuf> {
    // The literal components first: where the walk starts.
    let mut base = PathBuf::new();
    let mut rest: Vec<String> = Vec::new();
    for component in pattern.components() {
        let text = component.as_os_str().to_string_lossy().to_string();
        if rest.is_empty() && !is_pattern(&text) {
            base.push(component);
        } else if !matches!(component, Component::CurDir) {
            rest.push(text);
        }
    }
    let mut found = Vec::new();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    walk(&base, &rest, &mut found);
    found.sort();
    found.dedup();
    let mut outer: Vec<PathBuf> = Vec::new();
    for path in found {
        if !outer.iter().any(|kept| path.starts_with(kept)) {
            outer.push(path);
        }
    }
    outer
}

/// Add to `found` what under `dir` matches the components `pattern`.
fn walk(dir: &Path, pattern: &[&str], found: &mut Vec<PathBuf>) {
    let Some((&first, rest)) = pattern.split_first() else {
        return;
    };
    if first == "**" && rest.is_empty() {
        // A trailing `**`: the folder and every folder under it, so the
        // folder itself, whose files a key path takes as a folder's.
        let here = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if here.is_dir() {
            found.push(here.to_path_buf());
        }
        return;
    }
    let entries = if dir.as_os_str().is_empty() {
        std::fs::read_dir(".")
    } else {
        std::fs::read_dir(dir)
    };
    let mut entries: Vec<(String, bool)> = entries
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| {
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            (entry.file_name().to_string_lossy().to_string(), is_dir)
        })
        .collect();
    entries.sort();
    if first == "**" {
        // None of the folders, or one more and still `**`.
        walk(dir, rest, found);
        for (name, is_dir) in &entries {
            if *is_dir && !skipped(name, "") {
                walk(&dir.join(name), pattern, found);
            }
        }
        return;
    }
    for (name, is_dir) in &entries {
        if skipped(name, first) || !component_matches(first, name) {
            continue;
        }
        if rest.is_empty() {
            found.push(dir.join(name));
        } else if *is_dir {
            walk(&dir.join(name), rest, found);
        }
    }
}

/// Hidden names and Python's byte code, as the key skips them, unless the
/// pattern names them (`.config/*`).
fn skipped(name: &str, pattern: &str) -> bool {
    key_skips(name) && !(name.starts_with('.') && pattern.starts_with('.'))
}

/// Whether a key's walk of a folder skips a file or folder of this name:
/// hidden ones and Python's byte code, which running the seed command may
/// change without changing what it makes.
pub fn key_skips(name: &str) -> bool {
    name.starts_with('.') || name == "__pycache__"
}

/// `*` any run of characters, `?` one character, anything else itself.
pub fn component_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // The last `*` seen, and where in the name it stood: backtrack to it.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_matches_its_wildcards() {
        assert!(component_matches("migrations", "migrations"));
        assert!(component_matches("*", "orders"));
        assert!(component_matches("0*_*.py", "0001_initial.py"));
        assert!(component_matches("?.txt", "a.txt"));
        assert!(!component_matches("?.txt", "ab.txt"));
        assert!(!component_matches("*.py", "a.pyc"));
        assert!(component_matches("a*b*c", "aXbYbZc"));
    }

    #[test]
    fn hidden_names_and_byte_code_are_skipped_unless_a_pattern_names_them() {
        assert!(key_skips(".git") && key_skips("__pycache__"));
        assert!(!key_skips("migrations") && !key_skips("a.pyc"));
        assert!(skipped(".config", "*") && skipped("__pycache__", "__*"));
        assert!(!skipped(".config", ".c*") && skipped("__pycache__", ".*"));
    }

    #[test]
    fn a_trailing_double_star_matches_the_folder_itself() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("app/orders")).unwrap();
        std::fs::write(root.join("app/orders/models.py"), "x").unwrap();
        std::fs::write(root.join("app/models.py"), "x").unwrap();
        assert_eq!(matches(&root.join("app/**")), [root.join("app")]);
        assert_eq!(matches(&root.join("*/**")), [root.join("app")]);
        let expanded = expand(&[root.join("app/**")]).unwrap();
        assert_eq!(expanded[0].paths, [root.join("app")]);
        // No folder: still nothing.
        std::fs::write(root.join("file"), "x").unwrap();
        assert!(matches(&root.join("file/**")).is_empty());
        // `'**'` alone: the working folder.
        let mut found = Vec::new();
        walk(Path::new(""), &["**"], &mut found);
        assert_eq!(found, [PathBuf::from(".")]);
    }

    #[test]
    fn double_star_finds_migrations_at_any_depth_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for folder in [
            "shop/migrations",
            "shop/orders/migrations",
            "shop/orders/migrations/nested/migrations",
            "users/migrations",
            ".venv/lib/django/migrations",
            "shop/__pycache__/migrations",
        ] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
            std::fs::write(root.join(folder).join("0001_initial.py"), "x").unwrap();
        }
        let pattern = root.join("**/migrations");
        let found = matches(&pattern);
        assert_eq!(
            found,
            [
                root.join("shop/migrations"),
                root.join("shop/orders/migrations"),
                root.join("users/migrations"),
            ]
        );
        // One level, as the shell's `*/migrations`.
        assert_eq!(
            matches(&root.join("*/migrations")),
            [root.join("shop/migrations"), root.join("users/migrations")]
        );
        let expanded = expand(&[pattern.clone(), root.join("users")]).unwrap();
        let said = coverage(&expanded, |path| {
            walkdir::WalkDir::new(path)
                .into_iter()
                .flatten()
                .filter(|e| e.file_type().is_file())
                .count()
        });
        assert_eq!(
            said,
            format!(
                "seed key: 5 files: '{}' (3 matches, 4 files), {} (1 file)",
                pattern.display(),
                root.join("users").display()
            )
        );
        let none = expand(&[root.join("**/fixtures")]).err().unwrap();
        assert!(
            none.to_string()
                .ends_with("**/fixtures': the pattern matches no file or folder"),
            "{none}"
        );
        let missing = expand(&[root.join("nope")]).err().unwrap();
        assert!(
            missing
                .to_string()
                .ends_with("/nope: no such file or folder")
        );
    }
}
