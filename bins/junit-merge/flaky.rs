//! Second attempts: a test that failed and then passed when run again is
//! flaky, not failed.
//!
//! Reports in a folder named `rerun` (where `stack-run --rerun-failed`
//! writes them) are second attempts, not more tests: they are not copied.
//! A failed test they report as passed is marked with Maven Surefire's
//! convention, which the publishing actions read: its `<failure>` becomes
//! `<flakyFailure>` (`<error>` becomes `<flakyError>`), keeping the message,
//! type and text (in `<stackTrace>`), and every count that held the failure
//! drops by one. A test that fails again stays failed and gains a
//! `<rerunFailure>` (or `<rerunError>`) with the second attempt's words.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use shared::junit::model::{Case, Counts, Outcome, Problem, ProblemKind};
use shared::junit::read::{Event, Reader};
use shared::xml::{self, Element};

/// A test as reports name it: (classname, name).
type Key = (String, String);

/// Whether an input is a second attempt: it lies in a folder named `rerun`.
pub fn is_rerun(path: &Path) -> bool {
    path.parent()
        .and_then(Path::file_name)
        .is_some_and(|name| name == shared::contract::RERUN_FOLDER)
}

/// What the second attempts said, and what that changes in the first.
#[derive(Default)]
pub struct Reruns {
    /// The second attempts' own failures and errors; empty for a pass.
    second: HashMap<Key, Vec<Problem>>,
    flaky: HashSet<Key>,
    /// Per input, per suite (numbered in document order): the failures and
    /// errors its flaky tests no longer count.
    dropped: HashMap<PathBuf, HashMap<usize, (u64, u64)>>,
    /// The same, for the report's root.
    dropped_totals: Counts,
}

impl Reruns {
    /// Read one rerun report.
    pub fn read(&mut self, path: &Path, name: &str) -> Result<(), xml::Error> {
        let mut reader = Reader::open(path, name)?;
        while let Some(event) = reader.next_event()? {
            let Event::Case(case) = event else { continue };
            let key = key(&case);
            match case.outcome() {
                Outcome::Passed => {
                    self.second.insert(key, Vec::new());
                }
                Outcome::Failed | Outcome::Error => {
                    let own = case.problems.into_iter().filter(|p| p.kind.is_own());
                    self.second.insert(key, own.collect());
                }
                Outcome::Skipped => {}
            }
        }
        Ok(())
    }

    /// Take what the flaky tests no longer count off the report's totals.
    pub fn adjust(&self, totals: &mut Counts) {
        totals.failures = totals.failures.saturating_sub(self.dropped_totals.failures);
        totals.errors = totals.errors.saturating_sub(self.dropped_totals.errors);
    }

    /// How many tests passed on their second attempt.
    pub fn flaky_count(&self) -> usize {
        self.flaky.len()
    }

    /// Read a first-attempt input: note its flaky tests and the counts they
    /// no longer add to. Called with every event of the input, in order.
    pub fn scan(&mut self, path: &Path) -> Scan<'_> {
        Scan {
            reruns: self,
            path: path.to_path_buf(),
            suites: 0,
            open: Vec::new(),
        }
    }

    /// How to copy one first-attempt input with its flaky tests marked.
    pub fn rewriter(&self, path: &Path) -> Rewriter<'_> {
        Rewriter {
            reruns: self,
            dropped: self.dropped.get(path),
            suites: 0,
            case: None,
        }
    }
}

fn key(case: &Case) -> Key {
    (case.classname.clone(), case.name.clone())
}

fn is_suite(element: &Element) -> bool {
    matches!(element.local_name(), "testsuite" | "testsuites")
}

/// The first pass over one input.
pub struct Scan<'a> {
    reruns: &'a mut Reruns,
    path: PathBuf,
    /// Suites seen so far, and the numbers of those open.
    suites: usize,
    open: Vec<usize>,
}

impl Scan<'_> {
    pub fn event(&mut self, event: &Event) {
        match event {
            // Suites are numbered as the copy sees them: a `<testsuites>`
            // root is not copied, and the reader reports no end for it.
            Event::Xml {
                event: xml::Event::Start(e) | xml::Event::Empty(e),
                depth,
            } if is_suite(e) && !(*depth == 0 && e.local_name() == "testsuites") => {
                self.open.push(self.suites);
                self.suites += 1;
            }
            Event::Suite { .. } => {
                self.open.pop();
            }
            Event::Case(case) => self.case(case),
            Event::Xml { .. } => {}
        }
    }

    fn case(&mut self, case: &Case) {
        let passed_later = self
            .reruns
            .second
            .get(&key(case))
            .is_some_and(Vec::is_empty);
        if !passed_later || !case.outcome().is_failure() {
            return;
        }
        self.reruns.flaky.insert(key(case));
        let (failures, errors) = (u64::from(case.failure), u64::from(case.error));
        let dropped = self.reruns.dropped.entry(self.path.clone()).or_default();
        for &suite in &self.open {
            let counts = dropped.entry(suite).or_default();
            counts.0 += failures;
            counts.1 += errors;
        }
        self.reruns.dropped_totals.failures += failures;
        self.reruns.dropped_totals.errors += errors;
    }
}

/// The second pass over one input: events in, the events to write out.
pub struct Rewriter<'a> {
    reruns: &'a Reruns,
    dropped: Option<&'a HashMap<usize, (u64, u64)>>,
    suites: usize,
    case: Option<OpenCase>,
}

struct OpenCase {
    depth: usize,
    key: Key,
    flaky: bool,
    /// A `<failure>` or `<error>` was copied: the first attempt failed.
    failed: bool,
}

impl Rewriter<'_> {
    /// The events to write for one event of the input, `depth` elements deep.
    pub fn event(&mut self, event: xml::Event, depth: usize) -> Vec<xml::Event> {
        let child = self
            .case
            .as_ref()
            .is_some_and(|case| depth == case.depth + 1);
        let flaky = self.case.as_ref().is_some_and(|case| case.flaky);
        let end_of_case = self.case.as_ref().is_some_and(|case| depth == case.depth);
        match event {
            xml::Event::Start(mut e) if is_suite(&e) => {
                self.drop_counts(&mut e);
                vec![xml::Event::Start(e)]
            }
            xml::Event::Empty(mut e) if is_suite(&e) => {
                self.drop_counts(&mut e);
                vec![xml::Event::Empty(e)]
            }
            xml::Event::Start(e) if e.local_name() == "testcase" => {
                let text = |name| e.get(name).unwrap_or_default().to_string();
                let key = (text("classname"), text("name"));
                self.case = Some(OpenCase {
                    depth,
                    flaky: self.reruns.flaky.contains(&key),
                    key,
                    failed: false,
                });
                vec![xml::Event::Start(e)]
            }
            xml::Event::Start(e) if child && is_problem(&e) => {
                self.case.as_mut().expect("in a case").failed = true;
                if flaky {
                    vec![
                        xml::Event::Start(flaky_problem(&e)),
                        xml::Event::Start(element("stackTrace", Vec::new())),
                    ]
                } else {
                    vec![xml::Event::Start(e)]
                }
            }
            xml::Event::Empty(e) if child && is_problem(&e) => {
                self.case.as_mut().expect("in a case").failed = true;
                if flaky {
                    vec![xml::Event::Empty(flaky_problem(&e))]
                } else {
                    vec![xml::Event::Empty(e)]
                }
            }
            xml::Event::End(name) if child && flaky && is_own_problem(local(&name)) => {
                vec![
                    xml::Event::End("stackTrace".into()),
                    xml::Event::End(flaky_name(&name)),
                ]
            }
            xml::Event::End(name) if end_of_case => {
                let case = self.case.take().expect("in a case");
                let mut events = Vec::new();
                if case.failed && !case.flaky {
                    for problem in self.reruns.second.get(&case.key).into_iter().flatten() {
                        events.extend(as_rerun(problem));
                    }
                }
                events.push(xml::Event::End(name));
                events
            }
            other => vec![other],
        }
    }

    /// Lower the failure and error counts of the suite starting here by
    /// what its flaky tests no longer count.
    fn drop_counts(&mut self, suite: &mut Element) {
        let dropped = self.dropped.and_then(|d| d.get(&self.suites)).copied();
        self.suites += 1;
        let Some((failures, errors)) = dropped else {
            return;
        };
        for (name, value) in &mut suite.attributes {
            let by = match name.as_str() {
                "failures" => failures,
                "errors" => errors,
                _ => continue,
            };
            if let Some(count) = shared::junit::model::parse_count(value) {
                *value = count.saturating_sub(by).to_string();
            }
        }
    }
}

/// `<failure>` or `<error>`, with or without a namespace prefix.
fn is_problem(element: &Element) -> bool {
    is_own_problem(element.local_name())
}

fn is_own_problem(local_name: &str) -> bool {
    ProblemKind::of(local_name).is_some_and(ProblemKind::is_own)
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

/// `failure` to `flakyFailure`, `error` to `flakyError`, prefix kept.
fn flaky_name(name: &str) -> String {
    renamed(name, "flaky")
}

fn renamed(name: &str, how: &str) -> String {
    let (prefix, local) = match name.rsplit_once(':') {
        Some((prefix, local)) => (format!("{prefix}:"), local),
        None => (String::new(), name),
    };
    let mut capital = local.chars();
    let first = capital.next().map(|c| c.to_ascii_uppercase());
    format!(
        "{prefix}{how}{}{}",
        first.into_iter().collect::<String>(),
        capital.as_str()
    )
}

fn flaky_problem(problem: &Element) -> Element {
    element(&flaky_name(&problem.name), problem.attributes.clone())
}

fn element(name: &str, attributes: Vec<(String, String)>) -> Element {
    Element {
        name: name.into(),
        attributes,
    }
}

/// A second attempt's own failure or error, as Surefire writes it in the
/// first attempt's case.
fn as_rerun(problem: &Problem) -> Vec<xml::Event> {
    let name = if problem.kind.is_error() {
        "rerunError"
    } else {
        "rerunFailure"
    };
    vec![
        xml::Event::Start(element(name, problem.element.attributes.clone())),
        xml::Event::Start(element("stackTrace", Vec::new())),
        xml::Event::Text(problem.text.clone()),
        xml::Event::End("stackTrace".into()),
        xml::Event::End(name.into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Copy `first` as junit-merge does (root dropped), marked by `rerun`.
    fn marked(first: &str, rerun: &str) -> (String, Counts) {
        let dir = tempfile::tempdir().unwrap();
        let rerun = write(dir.path(), "rerun.xml", rerun);
        let first = write(dir.path(), "first.xml", first);
        let mut reruns = Reruns::default();
        reruns.read(&rerun, "rerun.xml").unwrap();
        let mut reader = Reader::open(&first, "first.xml").unwrap();
        let mut scan = reruns.scan(&first);
        while let Some(event) = reader.next_event().unwrap() {
            scan.event(&event);
        }
        let mut totals = reader.totals();
        reruns.adjust(&mut totals);
        let mut rewriter = reruns.rewriter(&first);
        let mut reader = Reader::open(&first, "first.xml").unwrap();
        let mut out = Vec::new();
        let mut writer = shared::junit::write::Writer::start(&mut out, &totals).unwrap();
        while let Some(event) = reader.next_event().unwrap() {
            if let Event::Xml { event, depth } = event {
                if depth > 0 {
                    for event in rewriter.event(event, depth) {
                        writer.event(&event).unwrap();
                    }
                }
            }
        }
        writer.finish().unwrap();
        (String::from_utf8(out).unwrap(), totals)
    }

    #[test]
    fn only_the_suites_holding_a_flaky_test_change() {
        let (text, totals) = marked(
            r#"<testsuites><testsuite name="a" failures="1" errors="0"><testcase classname="m" name="ok"/><testcase classname="m" name="x"><failure message="boom">trace</failure></testcase></testsuite><testsuite name="b" failures="1" errors="1"><testcase classname="m" name="f"><error message="e"/></testcase><testcase classname="m" name="y"><failure>again</failure></testcase></testsuite></testsuites>"#,
            r#"<testsuite><testcase classname="m" name="f"/><testcase classname="m" name="y"><failure message="still">second</failure></testcase></testsuite>"#,
        );
        assert_eq!((totals.failures, totals.errors), (2, 0));
        assert!(
            text.contains(r#"<testsuite name="a" failures="1" errors="0">"#),
            "{text}"
        );
        assert!(
            text.contains(r#"<testsuite name="b" failures="1" errors="0">"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"<testcase classname="m" name="f"><flakyError message="e"/></testcase>"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"<failure>again</failure><rerunFailure message="still"><stackTrace>second</stackTrace></rerunFailure></testcase>"#
        ), "{text}");
        assert!(
            text.contains(r#"<failure message="boom">trace</failure></testcase>"#),
            "{text}"
        );
    }

    #[test]
    fn reports_are_second_attempts_in_a_rerun_folder() {
        assert!(is_rerun(Path::new("reports/shard-2/rerun/junit.xml")));
        assert!(!is_rerun(Path::new("reports/shard-2/junit.xml")));
        assert!(!is_rerun(Path::new("rerun/shard-2/junit.xml")));
    }
}
