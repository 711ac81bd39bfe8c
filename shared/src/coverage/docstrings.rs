//! Telling docstrings from statements in older coverage.py JSON.
//!
//! coverage.py before 7.13.1 listed a module's or class's docstring among the
//! executed lines of its JSON report while not counting it as a statement, so
//! the report lists more lines than its summary counts. The numbers stay
//! exact without knowing which lines those are, but a Cobertura or LCOV line
//! element must not be written for a docstring. The source file, when it is
//! at hand, tells: a docstring is the line that starts with a string literal.

use std::path::Path;

use super::model::Report;

/// Move the docstring lines of every file that lists too many statements out
/// of its statements. File names are read relative to `root`; a file that
/// cannot be read stays as it is.
pub fn settle(report: &mut Report, root: &Path) {
    for (name, file) in report.files.iter_mut() {
        let Some(declared) = file.statements else {
            continue;
        };
        let excess = file.lines.len().saturating_sub(declared as usize);
        if excess == 0 {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(root.join(name)) else {
            continue;
        };
        let source: Vec<&str> = source.lines().collect();
        let docstrings: Vec<u32> = file
            .lines
            .iter()
            .filter(|&(&line, &hits)| {
                hits > 0
                    && source
                        .get(line as usize - 1)
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
    fn string_literals_start_docstrings() {
        assert!(starts_string("\"\"\"A module.\"\"\""));
        assert!(starts_string("    r'''Raw.'''"));
        assert!(!starts_string("x = \"a\""));
        assert!(!starts_string("return 'a'"));
    }
}
