//! Reading XML reports safely, one event at a time, and writing XML back.
//!
//! Test and coverage reports come from many tools: UTF-8 with or without a BOM,
//! UTF-16, Latin-1 and whatever else the declaration names, control characters
//! XML does not allow, and files far larger than memory. The [`Reader`] decodes
//! any of them to UTF-8 while streaming, refuses DTDs (and so entity
//! declarations: nothing is expanded beyond the five predefined entities and
//! character references), drops characters XML cannot carry, checks the
//! document is well-formed, names that only some parsers take included (see
//! `names`), and names file, line and column in every error. Its strings are
//! clean, so [`escape_text`] and [`escape_attribute`] are all a writer needs.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_8, UTF_16BE, UTF_16LE};
use quick_xml::events::{BytesStart, Event as Raw};

mod names;

/// An element's start tag: its name and attributes, values unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
}

impl Element {
    /// The name without a namespace prefix.
    pub fn local_name(&self) -> &str {
        local(&self.name)
    }

    /// The value of attribute `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One piece of the document, as the reader hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Start(Element),
    /// A self-closing element: `<skipped/>`.
    Empty(Element),
    /// An end tag, by name.
    End(String),
    /// Character data, unescaped.
    Text(String),
    /// The content of a `<![CDATA[...]]>` section.
    CData(String),
}

/// An unreadable or malformed input, located as precisely as the reader can.
#[derive(Debug)]
pub struct Error {
    pub file: String,
    /// Line and column (both from 1) of the offending markup, when known.
    pub position: Option<(u64, u64)>,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for Error {}

/// A streaming reader of one XML file.
pub struct Reader {
    xml: quick_xml::Reader<Decoded<Box<dyn Read>>>,
    buf: Vec<u8>,
    path: PathBuf,
    name: String,
    /// How many elements are open.
    depth: usize,
    seen_root: bool,
    /// Where the event just read starts, as a byte offset.
    event_start: u64,
}

impl Reader {
    /// Open `path` (named `name` in messages). The file is read again only to
    /// turn the byte offset of an error into a line and column.
    pub fn open(path: &Path, name: &str) -> Result<Reader, Error> {
        let file = File::open(path).map_err(|e| Error {
            file: name.to_string(),
            position: None,
            message: format!("cannot open: {e}"),
        })?;
        Self::new(
            Box::new(BufReader::with_capacity(1 << 16, file)),
            path,
            name,
        )
    }

    /// Read from `input`, the content of the file at `path`.
    pub fn new(input: Box<dyn Read>, path: &Path, name: &str) -> Result<Reader, Error> {
        let decoded = Decoded::new(input).map_err(|message| Error {
            file: name.to_string(),
            position: Some((1, 1)),
            message,
        })?;
        let mut xml = quick_xml::Reader::from_reader(decoded);
        let config = xml.config_mut();
        config.check_end_names = true;
        config.check_comments = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Ok(Reader {
            xml,
            buf: Vec::with_capacity(1 << 12),
            path: path.to_path_buf(),
            name: name.to_string(),
            depth: 0,
            seen_root: false,
            event_start: 0,
        })
    }

    /// The next event, or `None` after the root element closed and only
    /// whitespace, comments and processing instructions followed.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            self.buf.clear();
            let start = self.xml.buffer_position();
            self.event_start = start;
            let raw = match self.xml.read_event_into(&mut self.buf) {
                Ok(raw) => raw,
                Err(err) => {
                    let offset = self.xml.error_position();
                    return Err(self.error_at(offset, describe(&err)));
                }
            };
            let event = match convert(raw) {
                Ok(Step::Event(event)) => event,
                Ok(Step::Skip) => continue,
                Ok(Step::Eof) if self.depth > 0 => {
                    let message = format!(
                        "unexpected end of file: {} element(s) not closed",
                        self.depth
                    );
                    return Err(self.error_at(self.xml.buffer_position(), message));
                }
                Ok(Step::Eof) if self.seen_root => return Ok(None),
                Ok(Step::Eof) => {
                    return Err(self.error_at(start, "no root element: not XML".into()));
                }
                Err((offset, message)) => return Err(self.error_at(start + offset, message)),
            };
            if self.depth == 0 {
                let problem = match &event {
                    Event::Text(text) if text.trim().is_empty() => continue,
                    Event::Text(_) | Event::CData(_) if self.seen_root => {
                        Some("text after the root element")
                    }
                    Event::Text(_) | Event::CData(_) => {
                        Some("not XML: text before the root element")
                    }
                    Event::Start(_) | Event::Empty(_) if self.seen_root => {
                        Some("a second root element")
                    }
                    _ => None,
                };
                if let Some(message) = problem {
                    return Err(self.error_at(start, message.into()));
                }
            }
            match &event {
                Event::Start(_) => {
                    self.depth += 1;
                    self.seen_root = true;
                }
                Event::Empty(_) => self.seen_root = true,
                Event::End(_) => self.depth -= 1,
                Event::Text(_) | Event::CData(_) => {}
            }
            return Ok(Some(event));
        }
    }

    /// How many elements are open after the last event.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The name of the file, as messages give it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An error located at the start of the event just read.
    pub fn error(&self, message: String) -> Error {
        self.error_at(self.event_start, message)
    }

    fn error_at(&self, offset: u64, message: String) -> Error {
        Error {
            file: self.name.clone(),
            position: locate(&self.path, offset),
            message,
        }
    }
}

/// What one raw event becomes.
enum Step {
    Event(Event),
    /// Comments, declarations and processing instructions carry no data.
    Skip,
    Eof,
}

/// Turn a raw event into a clean one; an error carries its byte offset
/// from the start of the event.
fn convert(raw: Raw) -> Result<Step, (u64, String)> {
    let event = match raw {
        Raw::Start(tag) => Event::Start(element(&tag)?),
        Raw::Empty(tag) => Event::Empty(element(&tag)?),
        Raw::End(tag) => {
            let name = utf8(tag.name().as_ref()).to_string();
            check_name(&name, "element")?;
            Event::End(name)
        }
        Raw::Text(text) => Event::Text(unescape(utf8(&text), false)?),
        Raw::CData(data) => Event::CData(literal(utf8(&data))),
        Raw::DocType(_) => {
            return Err((0, "DTDs and entity declarations are not allowed".into()));
        }
        Raw::Comment(_) | Raw::Decl(_) | Raw::PI(_) => return Ok(Step::Skip),
        Raw::Eof => return Ok(Step::Eof),
    };
    Ok(Step::Event(event))
}

fn element(tag: &BytesStart) -> Result<Element, (u64, String)> {
    let name = utf8(tag.name().as_ref()).to_string();
    check_name(&name, "element")?;
    let mut attributes = Vec::new();
    for attribute in tag.attributes() {
        let attribute = attribute.map_err(|e| (0, format!("bad attribute: {e}")))?;
        let key = utf8(attribute.key.as_ref()).to_string();
        check_name(&key, "attribute")?;
        let value = unescape(utf8(&attribute.value), true)
            .map_err(|(_, message)| (0, format!("attribute {key}: {message}")))?;
        attributes.push((key, value));
    }
    Ok(Element { name, attributes })
}

/// quick-xml takes any bytes between `<` and a blank as a name; XML does not.
fn check_name(name: &str, what: &str) -> Result<(), (u64, String)> {
    if is_xml_name(name) {
        return Ok(());
    }
    // The decoder put U+FFFD for bytes the file's encoding does not have.
    let cause = match name.contains('\u{FFFD}') {
        true => " (it holds bytes that are not in the file's encoding)",
        false => "",
    };
    Err((
        0,
        format!("malformed XML: {name:?} is not an {what} name{cause}"),
    ))
}

/// Whether `name` is an XML `Name` every parser takes (see `names`): what
/// an element or attribute may be called. A writer checks it too, so
/// nothing it copies can break the output.
pub fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(names::is_start) && chars.all(names::is_rest)
}

/// The input was decoded to UTF-8 and quick-xml splits it only at ASCII
/// delimiters, so every slice it hands out is valid UTF-8.
fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("the decoder produces UTF-8")
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

fn describe(err: &quick_xml::Error) -> String {
    match err {
        quick_xml::Error::Syntax(e) => format!("malformed XML: {e}"),
        quick_xml::Error::IllFormed(e) => format!("malformed XML: {e}"),
        quick_xml::Error::Io(e) => format!("cannot read: {e}"),
        other => format!("malformed XML: {other}"),
    }
}

/// Unescape character data or an attribute value: the five predefined
/// entities and character references only, line ends normalized as XML
/// parsers do (and, in attributes, whitespace turned into spaces), and
/// characters XML cannot carry dropped.
fn unescape(raw: &str, attribute: bool) -> Result<String, (u64, String)> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        push_literal(&mut out, &rest[..amp], attribute);
        let after = &rest[amp + 1..];
        let offset = (raw.len() - rest.len() + amp) as u64;
        let end = after
            .find(';')
            .filter(|&end| end <= 32)
            .ok_or_else(|| (offset, "a bare & (write &amp;)".to_string()))?;
        let name = &after[..end];
        let resolved = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "apos" => Some('\''),
            "quot" => Some('"'),
            _ => match name.strip_prefix('#') {
                Some(number) => {
                    let code = match number.strip_prefix('x') {
                        Some(hex) => u32::from_str_radix(hex, 16),
                        None => number.parse(),
                    };
                    let code = code
                        .map_err(|_| (offset, format!("&{name}; is not a character reference")))?;
                    char::from_u32(code).filter(|&c| is_xml_char(c))
                }
                None => {
                    return Err((
                        offset,
                        format!(
                            "entity &{name}; is not allowed: only the five predefined \
                             entities and character references are"
                        ),
                    ));
                }
            },
        };
        out.extend(resolved);
        rest = &after[end + 1..];
    }
    push_literal(&mut out, rest, attribute);
    Ok(out)
}

/// Append literal text: line ends normalized, invalid characters dropped.
/// Plain runs are copied whole: reports are mostly plain text.
fn push_literal(out: &mut String, text: &str, attribute: bool) {
    let special = |c: char| c == '\r' || (attribute && matches!(c, '\t' | '\n')) || !is_xml_char(c);
    let mut rest = text;
    while let Some(at) = rest.find(special) {
        out.push_str(&rest[..at]);
        let c = rest[at..].chars().next().expect("found a character");
        rest = &rest[at + c.len_utf8()..];
        match c {
            '\r' => {
                rest = rest.strip_prefix('\n').unwrap_or(rest);
                out.push(if attribute { ' ' } else { '\n' });
            }
            '\t' | '\n' => out.push(' '),
            _ => {}
        }
    }
    out.push_str(rest);
}

/// Text taken as it is (CDATA): line ends normalized, invalid characters dropped.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_literal(&mut out, text, false);
    out
}

/// Whether XML 1.0 can carry `c` at all.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escape character data for writing.
pub fn escape_text(text: &str, out: &mut String) {
    escape(text, out, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '\r' => Some("&#13;"),
        _ => None,
    });
}

/// Escape an attribute value for writing between double quotes; tabs and
/// line ends as references so a reader gets them back rather than spaces.
pub fn escape_attribute(value: &str, out: &mut String) {
    escape(value, out, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\t' => Some("&#9;"),
        '\n' => Some("&#10;"),
        '\r' => Some("&#13;"),
        _ => None,
    });
}

/// Copy `text`, replacing the characters `reference` has a reference for.
fn escape(text: &str, out: &mut String, reference: impl Fn(char) -> Option<&'static str>) {
    let mut rest = text;
    while let Some((at, replacement)) = rest
        .char_indices()
        .find_map(|(at, c)| reference(c).map(|r| (at, r)))
    {
        out.push_str(&rest[..at]);
        out.push_str(replacement);
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Line and column (from 1, columns in characters) of a byte offset into
/// the decoded content of `path`; `None` when the file cannot be read again.
fn locate(path: &Path, offset: u64) -> Option<(u64, u64)> {
    let file = File::open(path).ok()?;
    let mut decoded = Decoded::new(Box::new(BufReader::new(file))).ok()?;
    let (mut line, mut column, mut seen) = (1, 1, 0u64);
    while seen < offset {
        let chunk = decoded.fill_buf().ok()?;
        if chunk.is_empty() {
            break;
        }
        let take = chunk.len().min((offset - seen) as usize);
        for &byte in &chunk[..take] {
            if byte == b'\n' {
                line += 1;
                column = 1;
            } else if byte & 0xC0 != 0x80 {
                column += 1;
            }
        }
        decoded.consume(take);
        seen += take as u64;
    }
    Some((line, column))
}

/// An input decoded to UTF-8 on the fly, whatever encoding it is in.
struct Decoded<R> {
    input: R,
    decoder: Decoder,
    raw: Vec<u8>,
    raw_start: usize,
    raw_end: usize,
    input_done: bool,
    out: Vec<u8>,
    out_start: usize,
    out_end: usize,
    finished: bool,
}

impl<R: Read> Decoded<R> {
    /// Sniff the encoding from a byte order mark, from UTF-16's telltale
    /// zero bytes, or from the XML declaration; UTF-8 when none says.
    fn new(mut input: R) -> Result<Decoded<R>, String> {
        let mut raw = vec![0; 1 << 16];
        let mut filled = 0;
        while filled < 1024 {
            match input.read(&mut raw[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot read: {e}")),
            }
        }
        let (encoding, bom) = sniff(&raw[..filled])?;
        Ok(Decoded {
            input,
            decoder: encoding.new_decoder_without_bom_handling(),
            raw,
            raw_start: bom,
            raw_end: filled,
            input_done: false,
            out: vec![0; 1 << 16],
            out_start: 0,
            out_end: 0,
            finished: false,
        })
    }
}

fn sniff(head: &[u8]) -> Result<(&'static Encoding, usize), String> {
    match head {
        [0xEF, 0xBB, 0xBF, ..] => return Ok((UTF_8, 3)),
        [0xFF, 0xFE, ..] => return Ok((UTF_16LE, 2)),
        [0xFE, 0xFF, ..] => return Ok((UTF_16BE, 2)),
        [b'<', 0, b'?', 0, ..] => return Ok((UTF_16LE, 0)),
        [0, b'<', 0, b'?', ..] => return Ok((UTF_16BE, 0)),
        _ => {}
    }
    let Some(declaration) = head
        .strip_prefix(b"<?xml")
        .and_then(|rest| rest.split(|&b| b == b'>').next())
    else {
        return Ok((UTF_8, 0));
    };
    let declaration = String::from_utf8_lossy(declaration);
    let Some(label) = declaration
        .split_once("encoding")
        .and_then(|(_, rest)| rest.trim_start().strip_prefix('='))
        .map(|rest| rest.trim_start())
        .and_then(|rest| {
            let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
            rest[1..].split(quote).next()
        })
    else {
        return Ok((UTF_8, 0));
    };
    match Encoding::for_label(label.as_bytes()) {
        // The declaration was readable as ASCII, so the bytes are not UTF-16
        // whatever it says: a writer that lied about its encoding.
        Some(encoding) if encoding == UTF_16LE || encoding == UTF_16BE => Ok((UTF_8, 0)),
        Some(encoding) => Ok((encoding, 0)),
        None => Err(format!("unknown encoding {label:?} in the XML declaration")),
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Decoded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.out_start == self.out_end && !self.finished {
            if self.raw_start == self.raw_end && !self.input_done {
                self.raw_start = 0;
                self.raw_end = loop {
                    match self.input.read(&mut self.raw) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        other => break other?,
                    }
                };
                self.input_done = self.raw_end == 0;
            }
            let (result, read, written, _) = self.decoder.decode_to_utf8(
                &self.raw[self.raw_start..self.raw_end],
                &mut self.out,
                self.input_done,
            );
            self.raw_start += read;
            self.out_start = 0;
            self.out_end = written;
            // The decoder must not be called again once it has seen the end.
            self.finished = self.input_done && matches!(result, CoderResult::InputEmpty);
        }
        Ok(&self.out[self.out_start..self.out_end])
    }

    fn consume(&mut self, amount: usize) {
        self.out_start = (self.out_start + amount).min(self.out_end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(bytes: &[u8]) -> Result<Vec<Event>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.xml");
        std::fs::write(&path, bytes).unwrap();
        let mut reader = Reader::open(&path, "t.xml").map_err(|e| e.to_string())?;
        let mut events = Vec::new();
        while let Some(event) = reader.next_event().map_err(|e| e.to_string())? {
            events.push(event);
        }
        Ok(events)
    }

    fn start(name: &str, attributes: &[(&str, &str)]) -> Event {
        Event::Start(Element {
            name: name.into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    #[test]
    fn unescapes_predefined_entities_and_references() {
        let got = events(b"<a n=\"&lt;&#x41;&#66;&quot;\">x &amp; y&#10;</a>").unwrap();
        assert_eq!(
            got,
            [
                start("a", &[("n", "<AB\"")]),
                Event::Text("x & y\n".into()),
                Event::End("a".into())
            ]
        );
    }

    #[test]
    fn drops_characters_xml_cannot_carry() {
        let got = events(b"<a n=\"a&#27;b\">c\x1bd&#0;e\x0c</a>").unwrap();
        assert_eq!(got[0], start("a", &[("n", "ab")]));
        assert_eq!(got[1], Event::Text("cde".into()));
    }

    #[test]
    fn normalizes_line_ends_and_attribute_whitespace() {
        let got = events(b"<a n=\"x\r\ny\tz&#9;\">1\r\n2\r3</a>").unwrap();
        assert_eq!(got[0], start("a", &[("n", "x y z\t")]));
        assert_eq!(got[1], Event::Text("1\n2\n3".into()));
    }

    #[test]
    fn decodes_utf16_with_bom_and_declared_latin1() {
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>é€</a>".encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        assert_eq!(events(&utf16).unwrap()[1], Event::Text("é€".into()));
        let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?>\n<a>\xe9</a>";
        assert_eq!(events(latin1).unwrap()[1], Event::Text("é".into()));
    }

    #[test]
    fn refuses_dtds_and_unknown_entities_with_position() {
        let dtd = b"<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x \"y\">]>\n<a>&x;</a>";
        assert_eq!(
            events(dtd).unwrap_err(),
            "t.xml:2:1: DTDs and entity declarations are not allowed"
        );
        let entity = b"<a>\n  <b>ok &x; </b></a>";
        assert!(
            events(entity)
                .unwrap_err()
                .starts_with("t.xml:2:9: entity &x; is not allowed"),
        );
    }

    #[test]
    fn reports_truncation_and_non_xml() {
        assert_eq!(
            events(b"<a>\n<b>").unwrap_err(),
            "t.xml:2:4: unexpected end of file: 2 element(s) not closed"
        );
        assert_eq!(
            events(b"hello").unwrap_err(),
            "t.xml:1:1: not XML: text before the root element"
        );
        assert_eq!(
            events(b"").unwrap_err(),
            "t.xml:1:1: no root element: not XML"
        );
        assert!(
            events(b"<a></b>")
                .unwrap_err()
                .starts_with("t.xml:1:4: malformed XML")
        );
    }

    #[test]
    fn names_that_are_not_xml_names_are_malformed() {
        for (doc, position) in [
            (&b"<a>\n <1abc/></a>"[..], "2:2"),
            (b"<a$b/>", "1:1"),
            (b"<a \x01b=\"x\"/>", "1:1"),
            (b"<a>\n<b c\x7f=\"1\"/></a>", "2:1"),
            // U+FFFD, from a byte that is not UTF-8: expat refuses it.
            (b"<a>\n<te\xffst/></a>", "2:1"),
            ("<a>\n<a\u{20AC}/></a>".as_bytes(), "2:1"),
        ] {
            let error = events(doc).unwrap_err();
            assert!(
                error.starts_with(&format!("t.xml:{position}: malformed XML: ")),
                "{error}"
            );
        }
        assert!(is_xml_name("py:testcase") && is_xml_name("été-1.x") && !is_xml_name(""));
    }

    #[test]
    fn escapes_for_writing() {
        let mut out = String::new();
        escape_attribute("a<\"&\n", &mut out);
        escape_text(" <&>\r", &mut out);
        assert_eq!(out, "a&lt;&quot;&amp;&#10; &lt;&amp;&gt;&#13;");
    }
}
