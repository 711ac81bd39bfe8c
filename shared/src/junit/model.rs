//! What a JUnit report says: counts and durations of suites, and test cases.
//!
//! A suite's attributes and its test cases can disagree (a tool counted
//! reruns, or wrote no counts at all). The rule is to keep what the input
//! says: [`Declared`] holds a suite's own attributes, and only what is
//! missing there is taken from the [`Counts`] of its content.

use std::time::Duration;

use crate::count::{Overflow, Total};
use crate::xml::Element;

/// The numbers a suite reports, and that sums of suites add up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    /// Kept in whole nanoseconds so sums are exact and print the same everywhere.
    pub time: Duration,
}

impl Counts {
    /// Add `other` to these counts: the one place sums are made. Counts
    /// and times are input, so a sum past their range is an error (and
    /// these counts are left as they were).
    pub fn add(&mut self, other: &Counts) -> Result<(), Overflow> {
        *self = Counts {
            tests: self.tests.plus(other.tests)?,
            failures: self.failures.plus(other.failures)?,
            errors: self.errors.plus(other.errors)?,
            skipped: self.skipped.plus(other.skipped)?,
            time: self.time.plus(other.time)?,
        };
        Ok(())
    }
}

/// The counts a suite's own attributes give; `None` where one is missing or
/// unreadable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Declared {
    pub tests: Option<u64>,
    pub failures: Option<u64>,
    pub errors: Option<u64>,
    pub skipped: Option<u64>,
    pub time: Option<Duration>,
}

impl Declared {
    pub fn of(suite: &Element) -> Declared {
        let count = |key| suite.get(key).and_then(parse_count);
        Declared {
            tests: count("tests"),
            failures: count("failures"),
            errors: count("errors"),
            skipped: count("skipped"),
            time: suite.get("time").and_then(parse_time),
        }
    }

    /// What the suite says, completed by what its content adds up to.
    pub fn or(&self, content: &Counts) -> Counts {
        Counts {
            tests: self.tests.unwrap_or(content.tests),
            failures: self.failures.unwrap_or(content.failures),
            errors: self.errors.unwrap_or(content.errors),
            skipped: self.skipped.unwrap_or(content.skipped),
            time: self.time.unwrap_or(content.time),
        }
    }
}

/// How a test case ended, as a dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Passed,
    Skipped,
    Failed,
    /// An error outranks a failure: pytest writes both when a failed test's
    /// teardown also broke.
    Error,
}

impl Outcome {
    /// Failed or broke: the test needs a look (or a rerun).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Error)
    }
}

/// A child of a `<testcase>` that tells of a problem: the case's own
/// `<failure>` or `<error>`, or Surefire's record of another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    Failure,
    Error,
    /// An earlier attempt of a test that then passed.
    FlakyFailure,
    FlakyError,
    /// A later attempt of a test that failed again.
    RerunFailure,
    RerunError,
}

impl ProblemKind {
    /// The kind of a child element, by its local name; `None` for others.
    pub fn of(local_name: &str) -> Option<ProblemKind> {
        Some(match local_name {
            "failure" => ProblemKind::Failure,
            "error" => ProblemKind::Error,
            "flakyFailure" => ProblemKind::FlakyFailure,
            "flakyError" => ProblemKind::FlakyError,
            "rerunFailure" => ProblemKind::RerunFailure,
            "rerunError" => ProblemKind::RerunError,
            _ => return None,
        })
    }

    /// The case's own `<failure>` or `<error>`: what its outcome is.
    pub fn is_own(self) -> bool {
        matches!(self, ProblemKind::Failure | ProblemKind::Error)
    }

    pub fn is_error(self) -> bool {
        matches!(
            self,
            ProblemKind::Error | ProblemKind::FlakyError | ProblemKind::RerunError
        )
    }
}

/// One problem of a test case: its element, and all the text inside it
/// (a traceback; Surefire's `<stackTrace>` of another attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub element: Element,
    pub text: String,
}

impl Problem {
    pub fn message(&self) -> Option<&str> {
        self.element.get("message")
    }
}

/// One `<testcase>`: its attributes, how it ended and its problems, without
/// its output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    /// The source file, where the tool writes it (pytest's xunit1, jest, PHPUnit).
    pub file: Option<String>,
    pub line: Option<u64>,
    pub time: Option<Duration>,
    pub failure: bool,
    pub error: bool,
    pub skipped: bool,
    /// An earlier attempt failed (Surefire's `flakyFailure`, `flakyError`).
    pub flaky: bool,
    /// Its problem elements, in document order.
    pub problems: Vec<Problem>,
}

impl Case {
    pub fn of(element: &Element) -> Case {
        let text = |key| element.get(key).unwrap_or_default().to_string();
        Case {
            classname: text("classname"),
            name: text("name"),
            file: element.get("file").map(str::to_string),
            line: element.get("line").and_then(parse_count),
            time: element.get("time").and_then(parse_time),
            ..Case::default()
        }
    }

    /// Note a child element of the case: `<failure>`, `<error>`,
    /// `<skipped>`, and the problems of other attempts (Surefire's
    /// `flakyFailure`, `rerunFailure` and the like), which change no count;
    /// a flaky attempt is noted. Whether it is a problem, whose text then
    /// goes to [`Case::problems`].
    pub fn note_child(&mut self, child: &Element) -> bool {
        if child.local_name() == "skipped" {
            self.skipped = true;
        }
        let Some(kind) = ProblemKind::of(child.local_name()) else {
            return false;
        };
        match kind {
            ProblemKind::Failure => self.failure = true,
            ProblemKind::Error => self.error = true,
            ProblemKind::FlakyFailure | ProblemKind::FlakyError => self.flaky = true,
            ProblemKind::RerunFailure | ProblemKind::RerunError => {}
        }
        self.problems.push(Problem {
            kind,
            element: child.clone(),
            text: String::new(),
        });
        true
    }

    pub fn outcome(&self) -> Outcome {
        if self.error {
            Outcome::Error
        } else if self.failure {
            Outcome::Failed
        } else if self.skipped {
            Outcome::Skipped
        } else {
            Outcome::Passed
        }
    }

    /// What this case adds to a suite that does not declare its counts; a
    /// case with both a failure and an error counts as both, as pytest does.
    pub fn counts(&self) -> Counts {
        Counts {
            tests: 1,
            failures: self.failure.into(),
            errors: self.error.into(),
            skipped: (self.skipped && !self.failure && !self.error).into(),
            time: self.time.unwrap_or_default(),
        }
    }
}

/// How many test cases ended each way: the numbers shardstack tells a
/// person. A report's count attributes can say otherwise (pytest counts
/// every passing subtest in `tests`, and both errors of a test whose setup
/// and teardown broke); the cases are what a dashboard lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    pub skipped: u64,
}

impl Tally {
    /// Count one case by its outcome: the one place cases are counted.
    /// One per `<testcase>` read, so no input can bring it near `u64::MAX`:
    /// unlike the counts a report declares, it needs no overflow check.
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Error => self.errors += 1,
        }
    }

    /// Add another tally's cases (reports summed).
    pub fn merge(&mut self, other: &Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }

    /// The number of test cases.
    pub fn tests(&self) -> u64 {
        self.passed + self.failed + self.errors + self.skipped
    }

    /// Where a report's counts (its attributes, or what its content adds
    /// up to where it has none) disagree with its cases: both, in words for
    /// a note; `None` when they agree.
    pub fn disagreement(&self, counts: &Counts) -> Option<String> {
        let said = (counts.tests, counts.failures, counts.errors, counts.skipped);
        if said == (self.tests(), self.failed, self.errors, self.skipped) {
            return None;
        }
        Some(format!(
            "its counts say {} tests, {} failures, {} errors, {} skipped; \
             its {} test cases: {} passed, {} failed, {} errors, {} skipped",
            counts.tests,
            counts.failures,
            counts.errors,
            counts.skipped,
            self.tests(),
            self.passed,
            self.failed,
            self.errors,
            self.skipped
        ))
    }
}

/// A count attribute: a whole number, surrounding blanks allowed.
pub fn parse_count(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A duration in seconds. Commas are thousands separators (`1,234.5`, as
/// Java's formatting writes them); negative or unreadable times are missing.
pub fn parse_time(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().replace(',', "").parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// Seconds with at least three decimals and no trailing noise: `12.500`,
/// `0.000123`.
pub fn format_time(time: Duration) -> String {
    let fraction = format!("{:09}", time.subsec_nanos());
    let fraction = fraction.trim_end_matches('0');
    let decimals = fraction.len().max(3);
    format!("{}.{:0<decimals$}", time.as_secs(), fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_separators_and_junk() {
        assert_eq!(
            parse_time("1,234.5"),
            Some(Duration::from_millis(1_234_500))
        );
        assert_eq!(parse_time(" 0.001 "), Some(Duration::from_millis(1)));
        assert_eq!(parse_time("-1"), None);
        assert_eq!(parse_time("NaN"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn times_print_exactly() {
        assert_eq!(format_time(Duration::ZERO), "0.000");
        assert_eq!(format_time(Duration::from_millis(12_500)), "12.500");
        assert_eq!(format_time(Duration::from_nanos(123_000)), "0.000123");
        let sum = parse_time("0.1").unwrap() + parse_time("0.2").unwrap();
        assert_eq!(format_time(sum), "0.300");
    }

    #[test]
    fn declared_counts_win_over_content() {
        let suite = Element {
            name: "testsuite".into(),
            attributes: vec![("tests".into(), "5".into()), ("time".into(), "x".into())],
        };
        let content = Counts {
            tests: 3,
            failures: 1,
            time: Duration::from_secs(2),
            ..Counts::default()
        };
        let counts = Declared::of(&suite).or(&content);
        assert_eq!((counts.tests, counts.failures), (5, 1));
        assert_eq!(counts.time, Duration::from_secs(2));
    }

    fn child(name: &str) -> Element {
        Element {
            name: name.into(),
            attributes: Vec::new(),
        }
    }

    #[test]
    fn failure_and_teardown_error_count_as_both() {
        let mut case = Case::default();
        for name in ["failure", "error", "rerunFailure", "system-out"] {
            case.note_child(&child(name));
        }
        let kinds: Vec<ProblemKind> = case.problems.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                ProblemKind::Failure,
                ProblemKind::Error,
                ProblemKind::RerunFailure
            ]
        );
        assert_eq!(case.outcome(), Outcome::Error);
        let counts = case.counts();
        assert_eq!((counts.tests, counts.failures, counts.errors), (1, 1, 1));
    }

    #[test]
    fn a_tally_counts_each_case_once_by_its_outcome() {
        let mut tally = Tally::default();
        for children in [
            &["failure", "error"][..],
            &["skipped"],
            &[],
            &["flakyFailure"],
        ] {
            let mut case = Case::default();
            for name in children {
                case.note_child(&child(name));
            }
            tally.add(case.outcome());
        }
        let expected = Tally {
            passed: 2,
            errors: 1,
            skipped: 1,
            ..Tally::default()
        };
        assert_eq!(tally, expected);
        assert_eq!(tally.tests(), 4);
    }

    #[test]
    fn counts_that_disagree_with_the_cases_are_told() {
        // pytest 9, three tests, one with a subtest loop of three: tests="6".
        let tally = Tally {
            passed: 2,
            skipped: 1,
            ..Tally::default()
        };
        let mut counts = Counts {
            tests: 3,
            skipped: 1,
            ..Counts::default()
        };
        assert_eq!(tally.disagreement(&counts), None);
        counts.tests = 6;
        assert_eq!(
            tally.disagreement(&counts).unwrap(),
            "its counts say 6 tests, 0 failures, 0 errors, 1 skipped; \
             its 3 test cases: 2 passed, 0 failed, 0 errors, 1 skipped"
        );
    }
}
