//! Streaming a JUnit report: its XML events, each test case as it closes,
//! and each suite's counts.
//!
//! Real tools write many dialects: a `<testsuites>` root or a bare
//! `<testsuite>`, suites inside suites (PHPUnit, Bazel), counts missing or
//! disagreeing with the cases, reruns as extra elements (Surefire). The
//! [`Reader`] accepts them all, with memory bounded by the deepest nesting
//! and the largest element, and works out every suite's counts the same way:
//! what the suite declares, completed from its content where it says nothing.

use std::io::Read;
use std::path::Path;

use super::model::{Case, Counts, Declared, Tally};
use crate::xml::{self, Element};

/// One step through a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A piece of the document, `depth` elements deep: 0 for the root's own
    /// tags, 1 for what the root directly contains.
    Xml { event: xml::Event, depth: usize },
    /// A test case ended (after its end tag's `Xml` event).
    Case(Case),
    /// A suite ended (after its end tag's `Xml` event). `top` when the
    /// suite is the root or a direct child of the `<testsuites>` root: the
    /// suites whose counts add up to the report's.
    Suite {
        name: String,
        counts: Counts,
        top: bool,
    },
}

/// A streaming reader of one JUnit report.
pub struct Reader {
    xml: xml::Reader,
    /// The open elements, outermost first.
    stack: Vec<Frame>,
    /// An event due right after the one just returned.
    pending: Option<Event>,
    totals: Counts,
    tally: Tally,
    /// The index in `stack` of the open problem element of a case, whose
    /// text goes to the case's last problem.
    problem: Option<usize>,
}

/// An open element, and what has been added up inside it so far.
struct Frame {
    kind: Kind,
    declared: Declared,
    content: Counts,
}

enum Kind {
    /// The `<testsuites>` root.
    Suites,
    Suite(String),
    Case(Case),
    Other,
}

impl Reader {
    /// Open the report at `path`, named `name` in messages.
    pub fn open(path: &Path, name: &str) -> Result<Reader, xml::Error> {
        Ok(Reader {
            xml: xml::Reader::open(path, name)?,
            stack: Vec::new(),
            pending: None,
            totals: Counts::default(),
            tally: Tally::default(),
            problem: None,
        })
    }

    /// Read a report from `input`, the content of the file at `path` (read
    /// again only to locate an error; `-` for stdin, whose errors then go
    /// without a position).
    pub fn new(input: Box<dyn Read>, path: &Path, name: &str) -> Result<Reader, xml::Error> {
        Ok(Reader {
            xml: xml::Reader::new(input, path, name)?,
            stack: Vec::new(),
            pending: None,
            totals: Counts::default(),
            tally: Tally::default(),
            problem: None,
        })
    }

    /// The next event, `None` at the end of the report. Errors name the
    /// file, line and column.
    pub fn next_event(&mut self) -> Result<Option<Event>, xml::Error> {
        if let Some(event) = self.pending.take() {
            return Ok(Some(event));
        }
        let Some(event) = self.xml.next_event()? else {
            return Ok(None);
        };
        let depth = self.stack.len();
        let depth = match &event {
            xml::Event::Start(element) => {
                self.open_element(element)?;
                depth
            }
            xml::Event::Empty(element) => {
                self.open_element(element)?;
                self.pending = self.close_element()?;
                depth
            }
            xml::Event::End(_) => {
                self.pending = self.close_element()?;
                depth - 1
            }
            xml::Event::Text(text) | xml::Event::CData(text) => {
                self.note_text(text);
                depth
            }
        };
        Ok(Some(Event::Xml { event, depth }))
    }

    /// An error located at the event just read (a case's closing tag, for
    /// [`Event::Case`]).
    pub fn error(&self, message: String) -> xml::Error {
        self.xml.error(message)
    }

    /// The report's counts: the sum of its top suites, as read so far.
    pub fn totals(&self) -> Counts {
        self.totals
    }

    /// The report's test cases by outcome, as read so far: what to tell a
    /// person, whatever the counts say.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    fn open_element(&mut self, element: &Element) -> Result<(), xml::Error> {
        let local = element.local_name();
        let is_root = self.stack.is_empty();
        if is_root && !is_junit_root(element) {
            return Err(self.xml.error(format!(
                "the root element <{}> is not JUnit (expected <testsuites> or <testsuite>)",
                element.name
            )));
        }
        if let Some(Frame {
            kind: Kind::Case(case),
            ..
        }) = self.stack.last_mut()
        {
            if case.note_child(element) {
                self.problem = Some(self.stack.len());
            }
        }
        let (kind, declared) = match local {
            // The root's own counts are replaced by the sum of what it holds.
            "testsuites" if is_root => (Kind::Suites, Declared::default()),
            "testsuite" | "testsuites" => (
                Kind::Suite(element.get("name").unwrap_or_default().to_string()),
                Declared::of(element),
            ),
            "testcase" => (Kind::Case(Case::of(element)), Declared::default()),
            _ => (Kind::Other, Declared::default()),
        };
        self.stack.push(Frame {
            kind,
            declared,
            content: Counts::default(),
        });
        Ok(())
    }

    /// Text inside a case's problem element belongs to that problem.
    fn note_text(&mut self, text: &str) {
        let Some(index) = self.problem else { return };
        if let Some(Frame {
            kind: Kind::Case(case),
            ..
        }) = self.stack.get_mut(index - 1)
        {
            if let Some(problem) = case.problems.last_mut() {
                problem.text.push_str(text);
            }
        }
    }

    /// Close the innermost element; what it adds goes to its parent. Sums
    /// past their range are an error at the closing tag.
    fn close_element(&mut self) -> Result<Option<Event>, xml::Error> {
        let frame = self.stack.pop().expect("the XML reader matched the tags");
        if self.problem == Some(self.stack.len()) {
            self.problem = None;
        }
        let counts = match &frame.kind {
            Kind::Other => return Ok(None),
            Kind::Case(case) => {
                self.tally.add(case.outcome());
                case.counts()
            }
            Kind::Suites | Kind::Suite(_) => frame.declared.or(&frame.content),
        };
        match self.stack.last_mut() {
            Some(parent) => parent
                .content
                .add(&counts)
                .map_err(|overflow| self.xml.error(overflow.to_string()))?,
            None => self.totals = counts,
        }
        Ok(match frame.kind {
            Kind::Other | Kind::Suites => None,
            Kind::Case(case) => Some(Event::Case(case)),
            Kind::Suite(name) => {
                let top = match self.stack.as_slice() {
                    [] => true,
                    [root] => matches!(root.kind, Kind::Suites),
                    _ => false,
                };
                Some(Event::Suite { name, counts, top })
            }
        })
    }
}

/// Whether a document with this root element is a JUnit report.
pub fn is_junit_root(root: &Element) -> bool {
    matches!(root.local_name(), "testsuites" | "testsuite")
}

/// Whether the file at `path` is a JUnit report, judged by its root element
/// alone (a folder may hold other XML, a Cobertura coverage.xml say).
pub fn has_junit_root(path: &Path, name: &str) -> Result<bool, xml::Error> {
    let mut reader = xml::Reader::open(path, name)?;
    Ok(match reader.next_event()? {
        Some(xml::Event::Start(root) | xml::Event::Empty(root)) => is_junit_root(&root),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::model::ProblemKind;

    /// The suites (name, counts, top) and the report's totals.
    fn suites(xml: &str) -> (Vec<(String, u64, u64, bool)>, Counts) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.xml");
        std::fs::write(&path, xml).unwrap();
        let mut reader = Reader::open(&path, "r.xml").unwrap();
        let mut suites = Vec::new();
        while let Some(event) = reader.next_event().unwrap() {
            if let Event::Suite { name, counts, top } = event {
                suites.push((name, counts.tests, counts.failures, top));
            }
        }
        (suites, reader.totals())
    }

    #[test]
    fn nested_suites_add_up_once() {
        let (suites, totals) = suites(
            r#"<testsuites tests="99"><testsuite name="outer" tests="3" failures="1">
                 <testsuite name="inner" tests="2"><testcase/><testcase/></testsuite>
                 <testcase><failure/></testcase></testsuite></testsuites>"#,
        );
        assert_eq!(
            suites,
            [("inner".into(), 2, 0, false), ("outer".into(), 3, 1, true)]
        );
        assert_eq!(
            (totals.tests, totals.failures),
            (3, 1),
            "the root's 99 is not used"
        );
    }

    #[test]
    fn missing_counts_come_from_the_content() {
        let (suites, totals) = suites(
            r#"<testsuite name="s" failures="0">
                 <testsuite name="n" tests="5"/>
                 <testcase time="1.5"><failure/></testcase>
                 <testcase time="0.5"><skipped/><system-out>x</system-out></testcase>
               </testsuite>"#,
        );
        assert_eq!(suites[1], ("s".into(), 7, 0, true), "declared failures win");
        assert_eq!(totals.skipped, 1);
        assert_eq!(totals.time, std::time::Duration::from_secs(2));
    }

    #[test]
    fn cases_are_tallied_apart_from_the_counts() {
        // Real pytest 9: three passed, two skipped, five passing subtests
        // it counts in tests="10" (tests/fixtures/pytest-counts).
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/pytest-counts/shard-1.xml");
        let mut reader = Reader::open(&path, "shard-1.xml").unwrap();
        while reader.next_event().unwrap().is_some() {}
        let (totals, tally) = (reader.totals(), reader.tally());
        assert_eq!((totals.tests, totals.skipped), (10, 2));
        assert_eq!((tally.tests(), tally.passed, tally.skipped), (5, 3, 2));
    }

    #[test]
    fn problems_keep_their_attributes_and_all_their_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.xml");
        std::fs::write(
            &path,
            r#"<testsuite><testcase name="t" line="7"><failure message="m">trace <![CDATA[<x>]]></failure>
                 <system-out>out</system-out><flakyError type="E"><stackTrace>st</stackTrace></flakyError>
               </testcase></testsuite>"#,
        )
        .unwrap();
        let mut reader = Reader::open(&path, "r.xml").unwrap();
        let mut cases = Vec::new();
        while let Some(event) = reader.next_event().unwrap() {
            if let Event::Case(case) = event {
                cases.push(case);
            }
        }
        let [case] = cases.as_slice() else {
            panic!("{cases:?}")
        };
        assert_eq!(case.line, Some(7));
        let problems: Vec<_> = case
            .problems
            .iter()
            .map(|p| (p.kind, p.message(), p.text.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                (ProblemKind::Failure, Some("m"), "trace <x>"),
                (ProblemKind::FlakyError, None, "st")
            ]
        );
        assert!(case.failure && case.flaky && !case.error);
    }

    #[test]
    fn a_root_that_is_not_junit_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.xml");
        std::fs::write(&path, "\n<coverage/>").unwrap();
        let mut reader = Reader::open(&path, "c.xml").unwrap();
        assert_eq!(
            reader.next_event().unwrap_err().to_string(),
            "c.xml:2:1: the root element <coverage> is not JUnit \
             (expected <testsuites> or <testsuite>)"
        );
    }
}
