//! The merged JUnit report as the summary needs it: its counts, its test
//! cases by outcome (what the summary counts), and for each test case its
//! outcome, time, and where and why it failed.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use shared::junit::model::{Counts, Outcome, ProblemKind, Tally};
use shared::junit::read::{Event, Reader};
use shared::nodeid::from_junit;

/// What the summary reads from a report.
pub struct Report {
    /// What the report's count attributes say (a suite without them counted
    /// from its content).
    pub totals: Counts,
    /// The test cases by outcome: the numbers the summary gives.
    pub tally: Tally,
    pub cases: Vec<TestCase>,
}

pub struct TestCase {
    pub classname: String,
    pub name: String,
    pub time: Duration,
    pub outcome: Outcome,
    pub flaky: bool,
    /// The first `<failure>`, `<error>` or flaky attempt's message.
    pub message: Option<String>,
    /// `file:line` where the test failed, when the report says.
    pub location: Option<String>,
    /// The file attribute, or the file of the location.
    file: Option<String>,
}

impl TestCase {
    /// Flaky: failed, then passed when run again.
    pub fn passed_on_rerun(&self) -> bool {
        self.flaky && !self.outcome.is_failure()
    }

    /// The test as people name it: its pytest node id when the file is
    /// known, else `classname::name`.
    pub fn id(&self) -> String {
        match &self.file {
            Some(file) => from_junit(file, &self.classname, &self.name),
            None if self.classname.is_empty() => self.name.clone(),
            None => format!("{}::{}", self.classname, self.name),
        }
    }
}

impl Report {
    pub fn read(path: &Path) -> anyhow::Result<Report> {
        let name = path.display().to_string();
        let mut reader = Reader::open(path, &name)?;
        let mut cases = Vec::new();
        while let Some(event) = reader.next_event()? {
            let Event::Case(case) = event else { continue };
            // The case's own failure or error, or a flaky test's first attempt.
            let problem = case
                .problems
                .iter()
                .find(|p| !matches!(p.kind, ProblemKind::RerunFailure | ProblemKind::RerunError));
            let location = match (&case.file, case.line) {
                (Some(file), Some(line)) => Some(format!("{file}:{line}")),
                _ => problem.and_then(|p| location_in(&p.text)),
            };
            // A traceback ends where the test failed, often in the code it
            // tests (`app/validators.py`): only the test's own module names it.
            let file = case.file.clone().or_else(|| {
                location
                    .as_deref()
                    .and_then(|l| l.rsplit_once(':'))
                    .map(|(file, _)| file)
                    .filter(|file| is_module_of(file, &case.classname))
                    .map(str::to_string)
            });
            cases.push(TestCase {
                outcome: case.outcome(),
                flaky: case.flaky,
                time: case.time.unwrap_or_default(),
                message: problem.and_then(|p| {
                    p.message()
                        .and_then(first_line)
                        .or_else(|| first_line(&p.text))
                }),
                location,
                file,
                classname: case.classname,
                name: case.name,
            });
        }
        learn_files(&mut cases);
        Ok(Report {
            totals: reader.totals(),
            tally: reader.tally(),
            cases,
        })
    }
}

/// Give cases without a file the file of their module, when another case
/// of that module told it (pytest's xunit2 writes no `file`; a failure's
/// traceback does), so a test is named the same way everywhere.
fn learn_files(cases: &mut [TestCase]) {
    let modules: HashMap<String, String> = cases
        .iter()
        .filter_map(|case| case.file.clone())
        .filter(|file| file.ends_with(".py"))
        .map(|file| (file.trim_end_matches(".py").replace('/', "."), file))
        .collect();
    for case in cases.iter_mut().filter(|case| case.file.is_none()) {
        let mut module = case.classname.as_str();
        loop {
            if let Some(file) = modules.get(module) {
                case.file = Some(file.clone());
                break;
            }
            match module.rsplit_once('.') {
                Some((parent, _)) => module = parent,
                None => break,
            }
        }
    }
}

/// Whether `file` is the module `classname` is in (`tests/test_x.py` for
/// `tests.test_x` or `tests.test_x.TestY`), as pytest derives one from the other.
fn is_module_of(file: &str, classname: &str) -> bool {
    let Some(module) = file.strip_suffix(".py").map(|m| m.replace('/', ".")) else {
        return false;
    };
    classname
        .strip_prefix(&module)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The last `path:line:` a traceback names: where pytest says the test
/// failed (`tests/test_x.py:12: AssertionError`).
fn location_in(text: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let (file, rest) = line.split_once(':')?;
        let (number, _) = rest.split_once(':')?;
        let plausible = !file.is_empty() && !file.contains(char::is_whitespace);
        (plausible && number.parse::<u64>().is_ok()).then(|| format!("{file}:{number}"))
    })
}

fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_is_the_last_file_and_line_of_the_traceback() {
        let text = "def test_x():\n>       helper()\n\ntests/test_x.py:5: \n\
                    _ _ _\n\n    def helper():\n>       assert 0\nE   assert 0\n\n\
                    tests/helpers.py:12: AssertionError";
        assert_eq!(location_in(text).as_deref(), Some("tests/helpers.py:12"));
        assert_eq!(location_in("E   KeyError: 'a: 1'"), None);
    }

    #[test]
    fn only_the_tests_own_module_names_it() {
        assert!(is_module_of("tests/test_x.py", "tests.test_x"));
        assert!(is_module_of("tests/test_x.py", "tests.test_x.TestY"));
        assert!(!is_module_of("app/validators.py", "tests.test_x"));
        assert!(!is_module_of("tests/test_x.py", "tests.test_xy"));
        assert!(!is_module_of("tests/test_x.pyc", "tests.test_x"));
    }
}
