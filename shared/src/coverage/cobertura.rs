//! Cobertura XML, read and written the way coverage.py's `coverage xml` does.
//!
//! Reading streams quick-xml events: memory holds the model, never the
//! document. coverage.py's files name each missed branch exit in
//! `missing-branches`, which keeps merges exact; other writers only count
//! exits in `condition-coverage`, which merges to a lower bound.
//! Writing reproduces `coverage xml` for the same data, element for element
//! and attribute for attribute, so every consumer shows the same numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, Read, Write};
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::model::{Branch, EXIT, FileCov, Line, MAX_EXITS, Meta, Numbers, Report, Target, rate};
use super::sort::human_key;
use crate::count;

/// Read one Cobertura report; `name` names it in errors.
pub fn read(name: &str, reader: impl BufRead) -> anyhow::Result<Report> {
    let mut xml = Reader::from_reader(Counting::new(reader));
    xml.config_mut().trim_text(true);
    let mut state = ReadState::default();
    let mut buf = Vec::new();
    loop {
        let event = xml.read_event_into(&mut buf);
        let at = xml.get_ref().position();
        let event = event.map_err(|e| anyhow!("{name}:{at}: malformed XML: {e}"))?;
        let done = matches!(event, Event::Eof);
        state
            .event(event)
            .with_context(|| format!("{name}:{at}: not a valid Cobertura report"))?;
        if done {
            break;
        }
        buf.clear();
    }
    Ok(state.report)
}

#[derive(Default)]
struct ReadState {
    report: Report,
    depth: usize,
    seen_root: bool,
    from_coverage_py: bool,
    /// A `<class>` has been read: a comment now cannot change how the
    /// lines read so far were read.
    seen_class: bool,
    in_source: bool,
    in_methods: bool,
    class: Option<(String, FileCov)>,
}

impl ReadState {
    fn event(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::Start(e) => {
                self.depth += 1;
                self.element(&e, false)?;
            }
            Event::Empty(e) => self.element(&e, true)?,
            Event::End(e) => {
                self.depth -= 1;
                match e.name().as_ref() {
                    b"source" => self.in_source = false,
                    b"methods" => self.in_methods = false,
                    b"class" => self.end_class()?,
                    _ => {}
                }
            }
            Event::Text(text) if self.in_source => {
                let source = carried(text.unescape()?.trim().to_string())?;
                if !source.is_empty() {
                    self.report.sources.insert(source);
                }
            }
            // coverage.py writes it at the top (before the root, or first in it).
            Event::Comment(text)
                if !self.seen_class && String::from_utf8_lossy(&text).contains("coverage.py") =>
            {
                self.from_coverage_py = true;
                self.report.meta.hit_counts = false;
            }
            Event::Eof if !self.seen_root => bail!("no <coverage> element"),
            Event::Eof if self.depth > 0 => bail!("unexpected end of file"),
            _ => {}
        }
        Ok(())
    }

    fn element(&mut self, e: &BytesStart, empty: bool) -> anyhow::Result<()> {
        // A start tag has been counted in `depth` already, an empty one not.
        let is_root = self.depth == usize::from(!empty);
        if is_root && self.seen_root {
            bail!("a second root element: a report has one <coverage>");
        }
        let attrs = attributes(e)?;
        match e.name().as_ref() {
            b"coverage" if !self.seen_root => {
                self.seen_root = true;
                let get = |k: &str| attrs.get(k).map(String::as_str);
                // coverage.py writes branch-rate="0" only when it measured no
                // branches; with branches but none in the code it writes "1".
                self.report.branch = !matches!(
                    (get("branch-rate"), get("branches-valid")),
                    (Some("0"), Some("0") | None) | (None, _)
                );
                self.report.meta = Meta {
                    version: attrs.get("version").cloned(),
                    // Unreadable, or past the year 584000: not known.
                    timestamp_us: get("timestamp")
                        .and_then(|t| t.parse::<u64>().ok())
                        .and_then(|ms| ms.checked_mul(1000)),
                    // coverage.py's comment may come before the root.
                    hit_counts: !self.from_coverage_py,
                    ..Meta::default()
                };
            }
            _ if !self.seen_root => bail!("the root element is not <coverage>"),
            b"source" if !empty => self.in_source = true,
            b"methods" if !empty => self.in_methods = true,
            b"class" => {
                self.seen_class = true;
                let filename = attrs
                    .get("filename")
                    .context("<class> without a filename")?
                    .clone();
                self.class = Some((filename, FileCov::default()));
                if empty {
                    self.end_class()?;
                }
            }
            b"line" if !self.in_methods => {
                let from_coverage_py = self.from_coverage_py;
                let Some((_, file)) = &mut self.class else {
                    return Ok(());
                };
                let (line, hits, branch) = read_line(&attrs, from_coverage_py)?;
                count::add(file.lines.entry(line).or_insert(0), hits)
                    .with_context(|| format!("the hits of line {line}"))?;
                if let Some(branch) = branch {
                    if branch.missing.is_none() {
                        self.report.meta.unidentified_branches = true;
                    }
                    file.branches.insert(line, branch);
                    // Branch data says branches were measured, whatever the
                    // root's rates say: its numbers count them.
                    self.report.branch = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end_class(&mut self) -> anyhow::Result<()> {
        if let Some((name, file)) = self.class.take() {
            let hit_counts = self.report.meta.hit_counts;
            match self.report.files.get_mut(&name) {
                Some(known) => super::merge::merge_file(known, file, hit_counts)
                    .with_context(|| format!("the hit counts of {name}"))?,
                None => {
                    self.report.files.insert(name, file);
                }
            }
        }
        Ok(())
    }
}

fn attributes(e: &BytesStart) -> anyhow::Result<BTreeMap<String, String>> {
    let mut attrs = BTreeMap::new();
    for attr in e.attributes() {
        let attr = attr?;
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        attrs.insert(key, carried(attr.unescape_value()?.into_owned())?);
    }
    Ok(attrs)
}

/// `value`, unless it holds a character XML cannot carry (a raw one, or a
/// reference such as `&#1;`): such a report is not well-formed, and what
/// it names could not be written back.
fn carried(value: String) -> anyhow::Result<String> {
    match value.chars().find(|&c| !crate::xml::is_xml_char(c)) {
        Some(c) => bail!("{value:?} holds {c:?}, which XML cannot carry"),
        None => Ok(value),
    }
}

/// One `<line>`: its number, hits, and branch exits if it has several.
fn read_line(
    attrs: &BTreeMap<String, String>,
    from_coverage_py: bool,
) -> anyhow::Result<(Line, u64, Option<Branch>)> {
    let number = attrs.get("number").context("<line> without a number")?;
    let line: Line = number
        .parse()
        .with_context(|| format!("line number {number:?}"))?;
    let hits = attrs.get("hits").map_or("0", String::as_str);
    // Some writers count hits in floating point ("1.0"); one that does not
    // fit a count ("1e400") is refused, not saturated.
    let hits = match hits.parse::<u64>() {
        Ok(hits) => hits,
        Err(_) => match hits.parse::<f64>() {
            Ok(float) if float.is_finite() && float < u64::MAX as f64 => float.max(0.0) as u64,
            _ => bail!("hits {hits:?} of line {line} is not a count"),
        },
    };
    if attrs.get("branch").map(String::as_str) != Some("true") {
        return Ok((line, hits, None));
    }
    let Some(conditions) = attrs.get("condition-coverage") else {
        return Ok((line, hits, None));
    };
    let (taken, exits) = parse_condition_coverage(conditions)
        .with_context(|| format!("condition-coverage {conditions:?} of line {line}"))?;
    if exits > MAX_EXITS {
        bail!("condition-coverage {conditions:?} of line {line}: more than {MAX_EXITS} exits");
    }
    let mut branch = Branch {
        exits,
        ..Branch::default()
    };
    if from_coverage_py {
        let mut missing = BTreeSet::new();
        for to in attrs
            .get("missing-branches")
            .into_iter()
            .flat_map(|m| m.split(','))
        {
            let to = to.trim();
            let target: Target = if to == "exit" {
                EXIT
            } else {
                to.parse()
                    .with_context(|| format!("missing branch {to:?} of line {line}"))?
            };
            // Cobertura names every way out of the code "exit": a negative
            // target (coverage.py's arcs number exits so) is one.
            missing.insert(target.max(EXIT));
        }
        branch.missing = Some(missing);
    } else {
        branch.missing_at_most = Some(exits - taken);
    }
    Ok((line, hits, Some(branch)))
}

/// `50% (1/2)` as (taken, exits).
fn parse_condition_coverage(text: &str) -> Option<(u32, u32)> {
    let inside = text.split_once('(')?.1.split_once(')')?.0;
    let (taken, exits) = inside.split_once('/')?;
    let (taken, exits) = (taken.trim().parse().ok()?, exits.trim().parse().ok()?);
    (taken <= exits).then_some((taken, exits))
}

/// How the writer names files and which folders it lists as sources.
pub struct Layout<'a> {
    /// The current folder: relative file names are under it.
    pub cwd: &'a Path,
    /// coverage.py's `source` setting: files under these are named relative to them.
    pub sources: &'a [String],
}

/// Write `report` as `coverage xml` would.
pub fn write(report: &Report, layout: &Layout, out: &mut dyn Write) -> anyhow::Result<()> {
    // Names come from inputs (an LCOV SF: line can hold anything): XML
    // cannot carry control characters, even escaped.
    let names = report
        .files
        .keys()
        .chain(&report.sources)
        .chain(&report.meta.version);
    for name in names {
        if let Some(c) = name.chars().find(|&c| !crate::xml::is_xml_char(c)) {
            bail!("cannot write {name:?} in Cobertura XML: it holds {c:?}, which XML cannot carry");
        }
    }
    let (sources, named) = place_files(report, layout);
    let mut packages: BTreeMap<String, Vec<(&str, &FileCov)>> = BTreeMap::new();
    for (rel_name, file) in &named {
        let dirname = rel_name.rsplit_once('/').map_or(".", |(dir, _)| dir);
        packages
            .entry(dirname.replace('/', "."))
            .or_default()
            .push((rel_name.as_str(), file));
    }
    let mut packages: Vec<_> = packages.into_iter().collect();
    packages.sort_by_cached_key(|(name, _)| human_key(name));

    let mut body = Vec::new();
    let mut total = Numbers::default();
    for (name, mut classes) in packages {
        classes.sort_by_cached_key(|(rel_name, _)| human_key(rel_name));
        let mut xml_classes = Vec::new();
        let mut package = Numbers::default();
        for (rel_name, file) in classes {
            package.add(&write_class(report, rel_name, file, &mut xml_classes)?)?;
        }
        writeln!(
            body,
            "\t\t<package name=\"{}\" line-rate=\"{}\" branch-rate=\"{}\" complexity=\"0\">",
            attr(&name),
            rate(package.n_executed(), package.n_statements),
            if report.branch {
                rate(package.n_executed_branches(), package.n_branches)
            } else {
                "0".into()
            }
        )?;
        body.write_all(b"\t\t\t<classes>\n")?;
        body.extend_from_slice(&xml_classes);
        body.write_all(b"\t\t\t</classes>\n\t\t</package>\n")?;
        total.add(&package)?;
    }
    let (lines, hits) = (total.n_statements, total.n_executed());
    let (branches, br_hits) = (total.n_branches, total.n_executed_branches());

    let version = report.meta.version.as_deref().unwrap_or(super::PRODUCER);
    write!(
        out,
        "<?xml version=\"1.0\" ?>\n<coverage version=\"{}\" timestamp=\"{}\" \
         lines-valid=\"{lines}\" lines-covered=\"{hits}\" line-rate=\"{}\" ",
        attr(version),
        report.meta.timestamp_us() / 1000,
        rate(hits, lines),
    )?;
    if report.branch {
        write!(
            out,
            "branches-valid=\"{branches}\" branches-covered=\"{br_hits}\" branch-rate=\"{}\"",
            rate(br_hits, branches)
        )?;
    } else {
        out.write_all(b"branches-covered=\"0\" branches-valid=\"0\" branch-rate=\"0\"")?;
    }
    writeln!(out, " complexity=\"0\">")?;
    let producer = if report.meta.hit_counts || report.meta.unidentified_branches {
        "cov-merge".to_string()
    } else {
        // Tells readers (cov-merge among them) that missing-branches is complete.
        "cov-merge from coverage.py data".to_string()
    };
    writeln!(out, "\t<!-- Generated by {producer} -->")?;
    writeln!(
        out,
        "\t<!-- Based on https://raw.githubusercontent.com/cobertura/web/master/htdocs/xml/coverage-04.dtd -->"
    )?;
    if sources.is_empty() {
        out.write_all(b"\t<sources/>\n")?;
    } else {
        out.write_all(b"\t<sources>\n")?;
        for source in sources {
            writeln!(out, "\t\t<source>{}</source>", text(&source))?;
        }
        out.write_all(b"\t</sources>\n")?;
    }
    if body.is_empty() {
        out.write_all(b"\t<packages/>\n")?;
    } else {
        out.write_all(b"\t<packages>\n")?;
        out.write_all(&body)?;
        out.write_all(b"\t</packages>\n")?;
    }
    out.write_all(b"</coverage>\n")?;
    Ok(())
}

/// The sources to list, and each file's name relative to one of them, as
/// coverage.py's XML reporter finds them.
fn place_files<'r>(
    report: &'r Report,
    layout: &Layout,
) -> (Vec<String>, Vec<(String, &'r FileCov)>) {
    // A source mapped to a relative folder (--map /code=.) is named absolute,
    // as coverage.py names its sources.
    let mut sources: BTreeSet<String> = (report.sources.iter())
        .map(|s| absolute(layout.cwd, s))
        .collect();
    let configured: Vec<String> = layout
        .sources
        .iter()
        .map(|s| absolute(layout.cwd, s).trim_end_matches('/').to_string())
        .collect();
    sources.extend(configured.iter().cloned());
    let cwd = layout.cwd.to_string_lossy();
    let mut named = Vec::new();
    for (name, file) in &report.files {
        if !report.sources.is_empty() {
            named.push((name.clone(), file));
            continue;
        }
        let filename = absolute(layout.cwd, name);
        let under = configured.iter().find_map(|source| {
            filename
                .strip_prefix(source.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
        });
        match under {
            Some(rel_name) => named.push((rel_name.to_string(), file)),
            None => {
                let root = if name.starts_with('/') { "" } else { &cwd };
                sources.insert(root.trim_end_matches('/').to_string());
                named.push((name.clone(), file));
            }
        }
    }
    let mut sources: Vec<String> = sources.into_iter().collect();
    sources.sort_by_cached_key(|s| human_key(s));
    (sources, named)
}

fn absolute(cwd: &Path, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else if path == "." {
        cwd.to_string_lossy().into_owned()
    } else {
        cwd.join(path.trim_start_matches("./"))
            .to_string_lossy()
            .into_owned()
    }
}

/// Write one `<class>`; returns its numbers.
fn write_class(
    report: &Report,
    rel_name: &str,
    file: &FileCov,
    out: &mut Vec<u8>,
) -> anyhow::Result<Numbers> {
    let class_name = rel_name.rsplit_once('/').map_or(rel_name, |(_, base)| base);
    let numbers = file
        .numbers(report.meta.precision)
        .with_context(|| format!("the numbers of {rel_name}"))?;
    let lines = numbers.n_statements;
    let hits = numbers.n_executed();
    let (branches, br_hits) = if report.branch {
        (numbers.n_branches, numbers.n_executed_branches())
    } else {
        (0, 0)
    };
    writeln!(
        out,
        "\t\t\t\t<class name=\"{}\" filename=\"{}\" complexity=\"0\" line-rate=\"{}\" branch-rate=\"{}\">",
        attr(class_name),
        attr(rel_name),
        rate(hits, lines),
        if report.branch {
            rate(br_hits, branches)
        } else {
            "0".into()
        }
    )?;
    out.extend_from_slice(b"\t\t\t\t\t<methods/>\n");
    if file.lines.is_empty() {
        out.extend_from_slice(b"\t\t\t\t\t<lines/>\n");
    } else {
        out.extend_from_slice(b"\t\t\t\t\t<lines>\n");
        for (&line, &count) in &file.lines {
            let count = if report.meta.hit_counts {
                count
            } else {
                u64::from(count > 0)
            };
            write!(out, "\t\t\t\t\t\t<line number=\"{line}\" hits=\"{count}\"")?;
            if report.branch {
                if let Some(branch) = file.branches.get(&line).filter(|b| b.exits > 1) {
                    let (taken, total) = (branch.taken_count(), branch.exits);
                    write!(
                        out,
                        " branch=\"true\" condition-coverage=\"{}% ({taken}/{total})\"",
                        u64::from(taken) * 100 / u64::from(total)
                    )?;
                    let missing = branch.missing.iter().flatten();
                    let missing: Vec<String> = missing.map(|&to| exit_name(to)).collect();
                    if !missing.is_empty() {
                        write!(out, " missing-branches=\"{}\"", missing.join(","))?;
                    }
                }
            }
            out.extend_from_slice(b"/>\n");
        }
        out.extend_from_slice(b"\t\t\t\t\t</lines>\n");
    }
    out.extend_from_slice(b"\t\t\t\t</class>\n");
    Ok(numbers)
}

fn exit_name(to: Target) -> String {
    if to <= EXIT {
        "exit".into()
    } else {
        to.to_string()
    }
}

/// Escape an attribute value as minidom does.
fn attr(value: &str) -> String {
    text(value).replace('"', "&quot;")
}

/// Escape text content as minidom does.
fn text(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A reader that knows the line and column of what it has handed out, so a
/// parse error can say where it is.
struct Counting<R> {
    inner: R,
    line: u64,
    column: u64,
}

impl<R> Counting<R> {
    fn new(inner: R) -> Self {
        Counting {
            inner,
            line: 1,
            column: 1,
        }
    }

    fn position(&self) -> String {
        format!("{}:{}", self.line, self.column)
    }
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        advance(&mut self.line, &mut self.column, &buf[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        let Counting {
            inner,
            line,
            column,
        } = self;
        // The buffer is still filled, so this does no I/O.
        if let Ok(buf) = inner.fill_buf() {
            advance(line, column, &buf[..amt.min(buf.len())]);
        }
        inner.consume(amt);
    }
}

fn advance(line: &mut u64, column: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            *line += 1;
            *column = 1;
        } else if b & 0xC0 != 0x80 {
            *column += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_coverage_is_taken_over_exits() {
        assert_eq!(parse_condition_coverage("50% (1/2)"), Some((1, 2)));
        assert_eq!(parse_condition_coverage("100% (4/4)"), Some((4, 4)));
        assert_eq!(parse_condition_coverage("50%"), None);
    }

    fn other_tool(hits: u32, conditions: &str) -> Report {
        let xml = format!(
            "<coverage line-rate=\"1\" branch-rate=\"0.5\" branches-valid=\"2\"><sources><source>/src</source></sources>\
             <packages><package name=\"a\"><classes><class name=\"A\" filename=\"a/A.java\"><methods>\
             <method name=\"m\"><lines><line number=\"3\" hits=\"99\"/></lines></method></methods><lines>\
             <line number=\"3\" hits=\"{hits}\" branch=\"true\" condition-coverage=\"{conditions}\"/>\
             </lines></class></classes></package></packages></coverage>"
        );
        read("other.xml", xml.as_bytes()).unwrap()
    }

    #[test]
    fn counted_branches_merge_to_a_lower_bound_and_hits_add_up() {
        let mut merged = other_tool(2, "50% (1/2)");
        crate::coverage::merge::merge(&mut merged, other_tool(3, "50% (1/2)"), ("a", "b")).unwrap();
        assert!(merged.meta.unidentified_branches && merged.meta.hit_counts);
        let file = &merged.files["a/A.java"];
        assert_eq!(file.lines[&3], 5, "method lines are not counted twice");
        assert_eq!(file.branches[&3].taken_count(), 1);
        assert_eq!(merged.sources, ["/src".to_string()].into());
    }

    #[test]
    fn condition_coverage_of_many_exits_is_refused() {
        let xml = "<coverage><packages><package><classes><class filename=\"a.c\"><lines>\
                   <line number=\"3\" hits=\"1\" branch=\"true\" condition-coverage=\"0% (0/4294967295)\"/>\
                   </lines></class></classes></package></packages></coverage>";
        let err = read("big.xml", xml.as_bytes()).unwrap_err();
        assert!(
            format!("{err:#}").contains("more than 65536 exits"),
            "{err:#}"
        );
    }

    #[test]
    fn condition_coverage_of_many_exits_is_written_without_overflow() {
        // 100 * 50,000,000 taken exits is past u32: the percentage once overflowed.
        let branch = Branch {
            exits: 50_000_000,
            missing_at_most: Some(0),
            ..Branch::default()
        };
        let file = FileCov {
            lines: [(3, 1)].into(),
            branches: [(3, branch)].into(),
            ..FileCov::default()
        };
        let report = Report {
            files: [("a.c".to_string(), file)].into(),
            branch: true,
            ..Report::default()
        };
        let layout = Layout {
            cwd: Path::new("/src"),
            sources: &[],
        };
        let mut out = Vec::new();
        write(&report, &layout, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("condition-coverage=\"100% (50000000/50000000)\""),
            "{text}"
        );
    }

    #[test]
    fn branch_lines_mean_branches_were_measured_whatever_the_root_says() {
        let xml = "<coverage branch-rate=\"0\" branches-valid=\"0\"><packages><package><classes>\
                   <class filename=\"a.c\"><lines>\
                   <line number=\"3\" hits=\"1\" branch=\"true\" condition-coverage=\"50% (1/2)\"/>\
                   </lines></class></classes></package></packages></coverage>";
        let report = read("a.xml", xml.as_bytes()).unwrap();
        assert!(
            report.branch,
            "its numbers count the branches: so do its writers"
        );
        assert_eq!(report.files["a.c"].numbers(0).unwrap().n_branches, 2);
    }

    #[test]
    fn a_coverage_py_comment_before_the_root_still_counts() {
        let xml = "<!-- Generated by coverage.py: https://coverage.readthedocs.io -->\
                   <coverage branch-rate=\"0.5\" branches-valid=\"2\"><packages><package><classes>\
                   <class filename=\"a.py\"><lines><line number=\"3\" hits=\"1\" branch=\"true\" \
                   condition-coverage=\"50% (1/2)\" missing-branches=\"5\"/></lines></class>\
                   </classes></package></packages></coverage>";
        let report = read("a.xml", xml.as_bytes()).unwrap();
        assert!(!report.meta.hit_counts, "coverage.py's hits are 0 or 1");
        let layout = Layout {
            cwd: Path::new("/src"),
            sources: &[],
        };
        let mut out = Vec::new();
        write(&report, &layout, &mut out).unwrap();
        let again = read("written.xml", out.as_slice()).unwrap();
        assert_eq!(again.files["a.py"].branches[&3].missing, Some([5].into()));
    }

    #[test]
    fn a_coverage_py_comment_after_the_first_class_changes_nothing() {
        // Found by fuzzing: read mid-document, it made the lines before it
        // and those after it mean different things, and the written report
        // lost the named exits when read back.
        let class = |file: &str| {
            format!(
                "<class filename=\"{file}\"><lines><line number=\"3\" hits=\"2\" \
                 branch=\"true\" condition-coverage=\"50% (1/2)\" missing-branches=\"5\"/>\
                 </lines></class>"
            )
        };
        let xml = format!(
            "<coverage branch-rate=\"0.5\" branches-valid=\"4\"><packages><package><classes>\
             {}<!-- Generated by coverage.py -->{}</classes></package></packages></coverage>",
            class("a.py"),
            class("b.py")
        );
        let report = read("a.xml", xml.as_bytes()).unwrap();
        assert!(report.meta.hit_counts, "not coverage.py's: hits are counts");
        for file in ["a.py", "b.py"] {
            assert_eq!(report.files[file].branches[&3].missing, None, "{file}");
        }
    }

    #[test]
    fn a_negative_missed_exit_is_the_exit() {
        // Found by fuzzing: -2 was kept as read and written back as "exit".
        let xml = "<!-- Generated by coverage.py -->\
                   <coverage branch-rate=\"0\" branches-valid=\"2\"><packages><package><classes>\
                   <class filename=\"a.py\"><lines><line number=\"3\" hits=\"1\" branch=\"true\" \
                   condition-coverage=\"0% (0/2)\" missing-branches=\"5,-2\"/></lines></class>\
                   </classes></package></packages></coverage>";
        let report = read("a.xml", xml.as_bytes()).unwrap();
        assert_eq!(
            report.files["a.py"].branches[&3].missing,
            Some([EXIT, 5].into())
        );
    }

    #[test]
    fn errors_say_line_and_column() {
        let xml = "<?xml version=\"1.0\" ?>\n<coverage>\n  <sources>\n  </source>\n</coverage>\n";
        let err = read("shard.xml", xml.as_bytes()).unwrap_err();
        let message = format!("{err:#}");
        assert!(message.starts_with("shard.xml:4:"), "{message}");
    }

    #[test]
    fn entities_are_not_expanded() {
        let xml = "<!DOCTYPE c [<!ENTITY x \"boom\">]><coverage><sources><source>&x;</source></sources></coverage>";
        let err = read("evil.xml", xml.as_bytes()).unwrap_err();
        assert!(format!("{err:#}").contains("evil.xml:"), "{err:#}");
    }

    /// Regression (issue 26 item 2): a character XML cannot carry, raw or
    /// as a reference, was read and only the writer refused it, naming
    /// neither file nor place. The reader refuses it where it stands.
    #[test]
    fn characters_xml_cannot_carry_are_refused_where_they_stand() {
        for (xml, at) in [
            (
                "<coverage>\n<sources><source>/co\u{FFFE}de</source></sources></coverage>",
                ":2:",
            ),
            ("<coverage version=\"7&#1;\"></coverage>", ":1:"),
        ] {
            let err = format!("{:#}", read("bad.xml", xml.as_bytes()).unwrap_err());
            assert!(err.starts_with(&format!("bad.xml{at}")), "{err}");
            assert!(err.contains("which XML cannot carry"), "{err}");
        }
    }
}
