//! Streaming a JUnit report: its XML events, each test case as it closes,
//! and each suite's counts.
//!
//! Real tools write many dialects: a `<testsuites>` root or a bare
//! `<testsuite>`, suites inside suites (PHPUnit, Bazel), counts missing or
//! disagreeing with the cases, reruns as extra elements (Surefire). The
//! [`Reader`] accepts them all, with memory bounded by the deepest nesting
//! and the largest element, and works out every suite's counts the same way:
//! what the suite declares, completed from its content where it says nothing.

use std::path::Path;

use super::model::{Case, Counts, Declared};
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
                self.pending = self.close_element();
                depth
            }
            xml::Event::End(_) => {
                self.pending = self.close_element();
                depth - 1
            }
            xml::Event::Text(_) | xml::Event::CData(_) => depth,
        };
        Ok(Some(Event::Xml { event, depth }))
    }

    /// The report's counts: the sum of its top suites, as read so far.
    pub fn totals(&self) -> Counts {
        self.totals
    }

    fn open_element(&mut self, element: &Element) -> Result<(), xml::Error> {
        let local = element.local_name();
        let is_root = self.stack.is_empty();
        if is_root && local != "testsuites" && local != "testsuite" {
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
            case.note_child(local);
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

    /// Close the innermost element; what it adds goes to its parent.
    fn close_element(&mut self) -> Option<Event> {
        let frame = self.stack.pop().expect("the XML reader matched the tags");
        let counts = match &frame.kind {
            Kind::Other => return None,
            Kind::Case(case) => case.counts(),
            Kind::Suites | Kind::Suite(_) => frame.declared.or(&frame.content),
        };
        match self.stack.last_mut() {
            Some(parent) => parent.content.add(&counts),
            None => self.totals = counts,
        }
        match frame.kind {
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
        }
    }
}
