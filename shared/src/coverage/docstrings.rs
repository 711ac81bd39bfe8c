//! Telling docstrings from statements in older coverage.py JSON.
//!
//! coverage.py before 7.13.1 listed a module's or class's docstring among the
//! executed lines of its JSON report while not counting it as a statement, so
//! the report lists more lines than its summary counts. The numbers stay
//! exact without knowing which lines those are, but a Cobertura or LCOV line
//! element must not be written for a docstring. The source file, when it is
//! at hand, tells: a docstring is the line that starts with a string literal.
//!
//! The file names come from the report, which is data from a CI artifact:
//! they must not steer cov-merge into reading anything but sources. Only a
//! regular file whose real path is under the root is read, at most
//! [`MAX_SOURCE`] bytes of it, opened without blocking (a FIFO would hang)
//! and checked to be a regular file (`/dev/zero` never ends) first.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::model::Report;

/// The largest source file read: far above any real Python module.
pub const MAX_SOURCE: u64 = 16 << 20;

/// Move the docstring lines of every file that lists too many statements out
/// of its statements. File names are read relative to `root`; a file that
/// cannot be read stays as it is.
pub fn settle(report: &mut Report, root: &Path) {
    let Ok(root) = root.canonicalize() else {
        return;
    };
    for (name, file) in report.files.iter_mut() {
        let Some(declared) = file.statements else {
            continue;
        };
        let excess = file.lines.len().saturating_sub(declared as usize);
        if excess == 0 {
            continue;
        }
        let Some(source) = read_source(&root, name) else {
            continue;
        };
        let source: Vec<&str> = source.lines().collect();
        let docstrings: Vec<u32> = file
            .lines
            .iter()
            .filter(|&(&line, &hits)| {
                hits > 0
                    && (line as usize)
                        .checked_sub(1)
                        .and_then(|index| source.get(index))
                        .is_some_and(|t| starts_string(t))
            })
            .map(|(&line, _)| line)
            .take(excess)
            .collect();
        for line in docstrings {
            file.lines.remove(&line);
            file.executed_only.insert(line);
        }
        if file.lines.len() == declared as usize {
            file.statements = None;
        }
    }
}

/// The text of the source file `name` names (relative to `root`, or
/// absolute), if it is a regular file under `root` (which is canonical) of
/// at most [`MAX_SOURCE`] bytes; `None` for anything else.
fn read_source(root: &Path, name: &str) -> Option<String> {
    // Symlinks and `..` may lead out of the root: the real path must not.
    let path = root.join(name).canonicalize().ok()?;
    if !path.starts_with(root) {
        return None;
    }
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&path)
        .ok()?;
    let metadata = file.metadata().ok()?;
    if !metadata.is_file() || metadata.len() > MAX_SOURCE {
        return None;
    }
    let mut text = String::new();
    file.take(MAX_SOURCE).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Whether a source line starts with a string literal (`"`, `'`, `r"`, `b'` …).
fn starts_string(text: &str) -> bool {
    let text = text.trim_start();
    let quote = text.find(['"', '\'']);
    quote.is_some_and(|at| at <= 2 && text[..at].chars().all(|c| "rRbBuUfF".contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_under_the_root_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        std::fs::create_dir(&root).unwrap();
        let root = root.canonicalize().unwrap();
        std::fs::write(root.join("a.py"), "\"\"\"Doc.\"\"\"\n").unwrap();
        std::fs::write(dir.path().join("outside.py"), "x = 1\n").unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("zero.py")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.py"), root.join("link.py")).unwrap();
        let mkfifo = std::process::Command::new("mkfifo")
            .arg(root.join("fifo.py"))
            .status()
            .unwrap();
        assert!(mkfifo.success());
        assert_eq!(
            read_source(&root, "a.py").as_deref(),
            Some("\"\"\"Doc.\"\"\"\n")
        );
        let absolute = root.join("a.py");
        assert!(read_source(&root, absolute.to_str().unwrap()).is_some());
        for name in [
            "/dev/zero",
            "zero.py",
            "fifo.py",
            "../outside.py",
            "link.py",
            "/etc/passwd",
            ".",
        ] {
            assert_eq!(read_source(&root, name), None, "{name}");
        }
    }

    #[test]
    fn string_literals_start_docstrings() {
        assert!(starts_string("\"\"\"A module.\"\"\""));
        assert!(starts_string("    r'''Raw.'''"));
        assert!(!starts_string("x = \"a\""));
        assert!(!starts_string("return 'a'"));
    }
}
