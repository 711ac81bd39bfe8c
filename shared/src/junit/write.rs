//! Writing a JUnit report: the root with its sums, events copied from the
//! inputs, and test cases made up from scratch.

use std::io::{self, Write};

use super::model::{Counts, format_time};
use crate::xml::{self, Element, escape_attribute, escape_text};

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
        });
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
            xml::Event::Start(element) => self.start_tag(element),
            xml::Event::Empty(element) => {
                self.start_tag(element);
                self.line.insert(self.line.len() - 1, '/');
            }
            xml::Event::End(name) => {
                self.line.push_str("</");
                self.line.push_str(name);
                self.line.push('>');
            }
            xml::Event::Text(text) => escape_text(text, &mut self.line),
            xml::Event::CData(text) => {
                // A `]]>` inside would end the section: split it across two.
                self.line.push_str("<![CDATA[");
                self.line.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
                self.line.push_str("]]>");
            }
        }
        self.flush_line()
    }

    /// Close the root and hand back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.line.push_str("\n</testsuites>\n");
        self.flush_line()?;
        Ok(self.out)
    }

    fn start_tag(&mut self, element: &Element) {
        self.line.push('<');
        self.line.push_str(&element.name);
        for (key, value) in &element.attributes {
            self.line.push(' ');
            self.line.push_str(key);
            self.line.push_str("=\"");
            escape_attribute(value, &mut self.line);
            self.line.push('"');
        }
        self.line.push('>');
    }

    fn flush_line(&mut self) -> io::Result<()> {
        self.out.write_all(self.line.as_bytes())?;
        self.line.clear();
        Ok(())
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
