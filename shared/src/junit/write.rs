//! Writing a JUnit report: the root with its sums, events copied from the
//! inputs, and test cases made up from scratch.

use std::io::{self, Write};

use super::model::{Counts, format_time};
use crate::nodeid::junit_key;
use crate::xml::{self, Element, escape_attribute, escape_text, is_xml_char, is_xml_name};

/// Writes one `<testsuites>` document to `out`.
pub struct Writer<W: Write> {
    out: W,
    line: String,
}

impl<W: Write> Writer<W> {
    /// Start the document: the declaration and the root with its sums.
    pub fn start(out: W, totals: &Counts) -> io::Result<Writer<W>> {
        let mut writer = Writer {
            out,
            line: String::new(),
        };
        writer
            .line
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        writer.start_tag(&Element {
            name: "testsuites".into(),
            attributes: count_attributes(totals),
        })?;
        writer.flush_line()?;
        Ok(writer)
    }

    /// Begin a new top-level element on its own indented line.
    pub fn new_child(&mut self) {
        self.line.push_str("\n  ");
    }

    /// Copy one event.
    pub fn event(&mut self, event: &xml::Event) -> io::Result<()> {
        match event {
            xml::Event::Start(element) => self.start_tag(element)?,
            xml::Event::Empty(element) => {
                self.start_tag(element)?;
                self.line.insert(self.line.len() - 1, '/');
            }
            xml::Event::End(name) => {
                check_name(name)?;
                self.line.push_str("</");
                self.line.push_str(name);
                self.line.push('>');
            }
            xml::Event::Text(text) => {
                check_chars(text)?;
                escape_text(text, &mut self.line);
            }
            xml::Event::CData(text) => {
                check_chars(text)?;
                // A `]]>` inside would end the section: split it across two.
                self.line.push_str("<![CDATA[");
                self.line.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
                self.line.push_str("]]>");
            }
        }
        self.flush_line()
    }

    /// Open a suite of made-up test cases, `name`, with its sums.
    pub fn start_suite(&mut self, name: &str, counts: &Counts) -> io::Result<()> {
        let mut attributes = vec![("name".to_string(), name.to_string())];
        attributes.extend(count_attributes(counts));
        self.new_child();
        self.event(&xml::Event::Start(element("testsuite", attributes)))
    }

    /// Close the suite [`Writer::start_suite`] opened.
    pub fn end_suite(&mut self) -> io::Result<()> {
        self.event(&xml::Event::Text("\n  ".into()))?;
        self.event(&xml::Event::End("testsuite".into()))
    }

    /// A `<testcase>` made up for the pytest node id `id`: its classname,
    /// name and file as pytest's report would give them, its `seconds`
    /// when it ran (a test that did not finish has no time, so that a
    /// durations reader never learns one for it), and its `problem`.
    pub fn made_up_case(
        &mut self,
        id: &str,
        seconds: Option<f64>,
        problem: Option<Problem>,
    ) -> io::Result<()> {
        let (classname, name) = junit_key(id);
        let mut attributes = vec![("classname".into(), classname), ("name".into(), name)];
        if let Some((file, _)) = id.split_once("::") {
            attributes.push(("file".into(), file.into()));
        }
        if let Some(seconds) = seconds {
            attributes.push(("time".into(), format!("{seconds:.3}")));
        }
        self.event(&xml::Event::Text("\n    ".into()))?;
        let Some(problem) = problem else {
            return self.event(&xml::Event::Empty(element("testcase", attributes)));
        };
        self.event(&xml::Event::Start(element("testcase", attributes)))?;
        let kind = problem
            .kind
            .map(|kind| ("type".to_string(), kind.to_string()));
        let said = kind
            .into_iter()
            .chain([("message".into(), problem.message)]);
        let said = element(problem.tag, said.collect());
        if problem.details.is_empty() {
            self.event(&xml::Event::Empty(said))?;
        } else {
            self.event(&xml::Event::Start(said))?;
            self.event(&xml::Event::Text(problem.details))?;
            self.event(&xml::Event::End(problem.tag.into()))?;
        }
        self.event(&xml::Event::End("testcase".into()))
    }

    /// Close the root and hand back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.line.push_str("\n</testsuites>\n");
        self.flush_line()?;
        Ok(self.out)
    }

    /// A start tag; a name that is not an XML name is refused, whatever
    /// made it, so the output stays well-formed.
    fn start_tag(&mut self, element: &Element) -> io::Result<()> {
        check_name(&element.name)?;
        self.line.push('<');
        self.line.push_str(&element.name);
        for (key, value) in &element.attributes {
            check_name(key)?;
            check_chars(value)?;
            self.line.push(' ');
            self.line.push_str(key);
            self.line.push_str("=\"");
            escape_attribute(value, &mut self.line);
            self.line.push('"');
        }
        self.line.push('>');
        Ok(())
    }

    fn flush_line(&mut self) -> io::Result<()> {
        self.out.write_all(self.line.as_bytes())?;
        self.line.clear();
        Ok(())
    }
}

/// Why a made-up test case did not pass: its `<failure>`, `<error>` or
/// `<skipped>`.
pub struct Problem {
    pub tag: &'static str,
    /// Its `type`, if it has one.
    pub kind: Option<&'static str>,
    pub message: String,
    /// Its text; empty for none.
    pub details: String,
}

fn element(name: &str, attributes: Vec<(String, String)>) -> Element {
    Element {
        name: name.into(),
        attributes,
    }
}

fn check_name(name: &str) -> io::Result<()> {
    if is_xml_name(name) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name:?} is not an XML name"),
        ))
    }
}

/// What the reader hands out is clean; a test id from a plan may not be.
fn check_chars(text: &str) -> io::Result<()> {
    match text.chars().find(|&c| !is_xml_char(c)) {
        None => Ok(()),
        Some(c) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{text:?} holds {c:?}, which XML cannot carry"),
        )),
    }
}

/// The count attributes of a suite or of the root, in the usual order.
pub fn count_attributes(counts: &Counts) -> Vec<(String, String)> {
    let Counts {
        tests,
        failures,
        errors,
        skipped,
        time,
    } = counts;
    vec![
        ("tests".into(), tests.to_string()),
        ("failures".into(), failures.to_string()),
        ("errors".into(), errors.to_string()),
        ("skipped".into(), skipped.to_string()),
        ("time".into(), format_time(*time)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(event: xml::Event) -> io::Result<String> {
        let mut writer = Writer::start(Vec::new(), &Counts::default())?;
        writer.event(&event)?;
        Ok(String::from_utf8(writer.finish()?).unwrap())
    }

    #[test]
    fn made_up_cases_carry_their_key_file_time_and_problem() {
        let mut writer = Writer::start(Vec::new(), &Counts::default()).unwrap();
        let counts = Counts {
            tests: 2,
            errors: 1,
            ..Counts::default()
        };
        writer.start_suite("made up", &counts).unwrap();
        writer
            .made_up_case("t/a.py::T::test_a[1]", Some(0.25), None)
            .unwrap();
        let problem = Problem {
            tag: "error",
            kind: Some("NotRun"),
            message: "did not run".into(),
            details: "a < b".into(),
        };
        writer
            .made_up_case("t/a.py::test_b", None, Some(problem))
            .unwrap();
        writer.end_suite().unwrap();
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        assert!(
            text.contains(r#"<testsuite name="made up" tests="2" failures="0" errors="1""#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"<testcase classname="t.a.T" name="test_a[1]" file="t/a.py" time="0.250"/>"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"<testcase classname="t.a" name="test_b" file="t/a.py"><error type="NotRun" message="did not run">a &lt; b</error></testcase>"#), "{text}");
    }

    #[test]
    fn what_is_not_well_formed_is_refused_not_written() {
        let element = |name: &str, key: &str, value: &str| Element {
            name: name.into(),
            attributes: vec![(key.into(), value.into())],
        };
        for event in [
            xml::Event::Empty(element("1abc", "name", "x")),
            xml::Event::Empty(element("testcase", "a$b", "x")),
            xml::Event::Empty(element("testcase", "name", "a\u{1}b")),
            xml::Event::End("a b".into()),
            xml::Event::Text("\u{0}".into()),
        ] {
            let error = write(event.clone()).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{event:?}");
        }
        let fine = write(xml::Event::Empty(element("testcase", "name", "a<\"b"))).unwrap();
        assert!(fine.contains("<testcase name=\"a&lt;&quot;b\"/>"), "{fine}");
    }
}
