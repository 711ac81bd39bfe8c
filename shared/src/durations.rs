//! Recorded test durations, from whatever an earlier run left behind.
//!
//! A plan is only as balanced as the durations it is built from, and users have
//! them in different shapes: pytest-split's `.test_durations` (a JSON object
//! `{node_id: seconds}`), the JUnit XML of an earlier run, or a plain
//! `id<TAB>seconds` list. [`Durations::read`] tells them apart by content;
//! JUnit goes through the shared streaming reader ([`crate::junit::read`]).
//! Several files combine; for a test recorded more than once the value read
//! last wins, so `--durations old --durations new` means what it says.
//!
//! JUnit cases that name their `file` (pytest's xunit1 family) give a node id
//! directly. The others (xunit2) only give classname and name, which cannot
//! be turned back into a node id reliably, so they are kept by that key and
//! matched against the collected ids in [`Durations::resolve`].
//!
//! Session setup is told apart here only as far as reading goes: the first
//! case of each JUnit suite is marked as its session's opener, and values
//! whose setup is accounted for are marked so: those of a `.test_durations`
//! that carries [`crate::setup`]'s keys (shard-plan saved it), and those of
//! a report whose every session's first test is known (a report in a
//! shardstack `shard-K` folder, or one holding several suites: a merge of
//! sessions). [`crate::setup`] does the rest.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, Write};
use std::path::Path;

use anyhow::{Context, bail};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::junit::read::{Event, Reader};
use crate::nodeid;
use crate::planner;
use crate::setup::{self, First};

/// Every duration read so far, by node id or by JUnit key.
#[derive(Default)]
pub struct Durations {
    by_id: HashMap<String, Record>,
    by_junit_key: HashMap<(String, String), Record>,
    /// How many values were read so far: the order that decides which wins.
    read: u64,
    /// Each shard's session setup, as `.test_durations` recorded it.
    setups: BTreeMap<u32, f64>,
    /// How many JUnit sessions were read from reports that name no shard.
    sessions: u32,
    /// The files read, in order: a record's `source` indexes it.
    sources: Vec<Source>,
    /// Every value read so far, added up: kept within what a plan can hold.
    total: f64,
}

/// One recorded value and when it was read.
#[derive(Clone, Copy)]
struct Record {
    seconds: f64,
    order: u64,
    /// The session this test ran first in (its time holds the session's setup).
    session: Option<u32>,
    /// Its session setup is accounted for: read from a `.test_durations`
    /// that shard-plan saved, or measured in a session whose first test is known.
    setup_known: bool,
    /// The file it was read from, an index into `Durations::sources`.
    source: u32,
}

/// A file read, as [`Overlap`] describes it.
struct Source {
    name: String,
    /// How many values it held.
    values: usize,
    /// The first test it named, as written there.
    example: Option<String>,
}

/// How one durations file meets the collected tests: a file that matches
/// almost none of them (another rootdir, another path prefix) would plan
/// every test blind, so shard-plan says so.
#[derive(Debug, PartialEq)]
pub struct Overlap<'a> {
    pub name: &'a str,
    /// How many values the file held.
    pub values: usize,
    /// How many of the collected tests it has a value for.
    pub matched: usize,
    /// The first test the file names, as written there.
    pub example: Option<&'a str>,
}

impl Overlap<'_> {
    /// Whether the file matches almost nothing: under a tenth of what could
    /// match (its values, or the collected tests, whichever are fewer). A
    /// subset of the suite, or one shard's report, matches in full.
    pub fn is_poor(&self, collected: usize) -> bool {
        self.values > 0 && self.matched * 10 < self.values.min(collected)
    }
}

/// The shapes a durations file comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// pytest-split's `.test_durations`: `{"node id": seconds, ...}`.
    Json,
    /// JUnit XML: `<testcase classname=.. name=.. [file=..] time=..>`.
    Junit,
    /// `id<TAB>seconds`, one test a line.
    Tsv,
}

/// The durations of the tests looked up (the collected ones, and perhaps
/// the [`Durations::others`]).
#[derive(Debug, PartialEq)]
pub struct Resolved {
    /// Seconds for each id, in the order given; `None` when unknown.
    pub seconds: Vec<Option<f64>>,
    /// Recorded values that matched none of the ids looked up (with
    /// [`Durations::others`] among them, only JUnit cases without a `file`).
    pub unused: usize,
    /// The tests that ran first in a session of a JUnit report.
    pub firsts: Vec<First>,
    /// For each id: its value's session setup is accounted for
    /// (saved by shard-plan, or measured where each session's first test is
    /// known), so no heuristic may take it for setup.
    pub setup_known: Vec<bool>,
}

impl Durations {
    pub fn new() -> Durations {
        Durations::default()
    }

    /// How many distinct tests (or JUnit keys) have a duration.
    pub fn len(&self) -> usize {
        self.by_id.len() + self.by_junit_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `seconds` for a node id, replacing what was read before;
    /// refused when the values read would add up past what a plan holds.
    pub fn insert(&mut self, id: String, seconds: f64) -> Result<(), TooLong> {
        let record = self.record(seconds, None, &id)?;
        self.by_id.insert(id, record);
        Ok(())
    }

    /// The file the value in use for test `id` was read from.
    pub fn file_of(&self, id: &str) -> Option<&str> {
        let by_id = self.by_id.get(id);
        let by_key = self.by_junit_key.get(&nodeid::junit_key(id));
        let newest = match (by_id, by_key) {
            (Some(a), Some(b)) => Some(if a.order > b.order { a } else { b }),
            (a, b) => a.or(b),
        }?;
        self.sources
            .get(newest.source as usize)
            .map(|source| source.name.as_str())
    }

    /// Each shard's session setup, from the `.test_durations` read last that had it.
    pub fn setups(&self) -> &BTreeMap<u32, f64> {
        &self.setups
    }

    /// The next value read, from the file read last; `what` names it in
    /// the error when it brings the total past [`planner::MAX_TOTAL_SECONDS`].
    fn record(
        &mut self,
        seconds: f64,
        session: Option<u32>,
        what: &str,
    ) -> Result<Record, TooLong> {
        // Checked as read, so the error points at the value, and whatever
        // shard-plan saves from these values can be read back.
        if self.total + seconds > planner::MAX_TOTAL_SECONDS {
            return Err(TooLong {
                seconds,
                what: what.to_string(),
            });
        }
        self.total += seconds;
        self.read += 1;
        if let Some(source) = self.sources.last_mut() {
            source.values += 1;
            source.example.get_or_insert_with(|| what.to_string());
        }
        Ok(Record {
            seconds,
            order: self.read,
            session,
            setup_known: false,
            source: self.sources.len().saturating_sub(1) as u32,
        })
    }

    /// Read the file at `path` (`-` is stdin) in any of the [`Format`]s,
    /// told apart by its first non-blank character. Errors name the file and
    /// the line (and column for JSON and XML) of the first problem.
    pub fn read(&mut self, path: &Path) -> anyhow::Result<Format> {
        let mut input = crate::io::open(path)?;
        let name = input.name;
        self.sources.push(Source {
            name: name.clone(),
            values: 0,
            example: None,
        });
        let format = detect(&mut input.reader).with_context(|| format!("cannot read {name}"))?;
        match format {
            Format::Json => self.read_json(&name, input.reader),
            Format::Junit => {
                self.read_junit(path, Reader::new(Box::new(input.reader), path, &name)?)
            }
            Format::Tsv => self.read_tsv(&name, input.reader),
        }?;
        Ok(format)
    }

    fn read_json(&mut self, name: &str, mut reader: impl BufRead) -> anyhow::Result<()> {
        // serde_json parses a slice several times faster than a reader, and a
        // durations file is small beside the ids it describes.
        let mut text = Vec::new();
        reader
            .read_to_end(&mut text)
            .with_context(|| format!("cannot read {name}"))?;
        // Growing a map of a million ids step by step costs more than parsing
        // them; an entry takes some 60 to 120 bytes.
        self.by_id.reserve(text.len() / 100);
        let before = self.read;
        let mut setups = BTreeMap::new();
        let mut json = serde_json::Deserializer::from_slice(&text);
        JsonObject(self, &mut setups)
            .deserialize(&mut json)
            .and_then(|()| json.end())
            .map_err(|err| json_error(name, &err))?;
        // Session setup keys mark a file shard-plan saved: its tests' values
        // hold no setup any more.
        if !setups.is_empty() {
            self.setups = setups;
            self.mark_setup_known(before);
        }
        Ok(())
    }

    fn read_tsv(&mut self, name: &str, reader: impl BufRead) -> anyhow::Result<()> {
        for line in crate::io::Lines::new(name, reader) {
            let (number, text) = line?;
            if text.trim().is_empty() {
                continue;
            }
            // Test ids may hold tabs inside their parameters; the seconds never do.
            let Some((id, seconds)) = text.rsplit_once('\t') else {
                bail!("{name}:{number}: expected `test id<TAB>seconds`, found no tab");
            };
            if id.is_empty() {
                bail!("{name}:{number}: empty test id");
            }
            let seconds =
                parse_seconds(seconds.trim()).with_context(|| format!("{name}:{number}"))?;
            self.insert(id.to_string(), seconds)
                .with_context(|| format!("{name}:{number}"))?;
        }
        Ok(())
    }

    /// Every `<testcase>` with a time: by node id when it names its file,
    /// else by JUnit key. A case without a readable time says nothing. The
    /// first case of each suite ran first in its session: it is marked with
    /// the session's shard (from a `shard-K` folder in `path`), else with the
    /// session's number in the order read.
    ///
    /// pytest writes one suite a session, so in a shardstack shard's report,
    /// or a merge of several sessions' reports, every session's first test
    /// is known and every value's setup accounted for. A lone suite from
    /// elsewhere may be a `pytest -n` run, whose workers' first tests hide
    /// inside it.
    fn read_junit(&mut self, path: &Path, mut report: Reader) -> anyhow::Result<()> {
        let shard = shard_in_path(path);
        let before = self.read;
        let mut top_suites = 0;
        let mut suite_begins = true;
        while let Some(event) = report.next_event()? {
            let case = match event {
                Event::Case(case) => case,
                Event::Suite { top, .. } => {
                    top_suites += usize::from(top);
                    suite_begins = true;
                    continue;
                }
                Event::Xml { .. } => continue,
            };
            let Some(time) = case.time else { continue };
            let session = suite_begins.then(|| {
                shard.unwrap_or_else(|| {
                    self.sessions += 1;
                    self.sessions
                })
            });
            suite_begins = false;
            let id = match &case.file {
                Some(file) => nodeid::from_junit(file, &case.classname, &case.name),
                // As it is written there, for messages.
                None if case.classname.is_empty() => case.name.clone(),
                None => format!("{}::{}", case.classname, case.name),
            };
            let mut record = self
                .record(time.as_secs_f64(), session, &id)
                .map_err(|too_long| report.error(too_long.to_string()))?;
            record.setup_known = shard.is_some();
            match case.file {
                Some(_) => {
                    self.by_id.insert(id, record);
                }
                None => {
                    self.by_junit_key
                        .insert((case.classname, case.name), record);
                }
            }
        }
        // Known only at the end: a merge of several sessions.
        if shard.is_none() && top_suites > 1 {
            self.mark_setup_known(before);
        }
        Ok(())
    }

    /// How the file read last meets the collected `ids`; call it before the
    /// next file replaces some of its values.
    pub fn overlap_of_last(&self, ids: &[&str]) -> Option<Overlap<'_>> {
        let last = self.sources.len().checked_sub(1)?;
        let from_last = |record: Option<&Record>| record.is_some_and(|r| r.source as usize == last);
        let matched = ids
            .iter()
            .filter(|&&id| {
                from_last(self.by_id.get(id))
                    || (!self.by_junit_key.is_empty()
                        && from_last(self.by_junit_key.get(&nodeid::junit_key(id))))
            })
            .count();
        let source = &self.sources[last];
        Some(Overlap {
            name: &source.name,
            values: source.values,
            matched,
            example: source.example.as_deref(),
        })
    }

    /// Mark every value read after `before` (from the file read last) as one
    /// whose session setup is accounted for.
    fn mark_setup_known(&mut self, before: u64) {
        for record in self
            .by_id
            .values_mut()
            .chain(self.by_junit_key.values_mut())
        {
            record.setup_known |= record.order > before;
        }
    }

    /// The node ids with a recorded value that are not in `collected`,
    /// sorted: the rest of the suite, as far as the durations know it.
    pub fn others<'a>(&'a self, collected: &[&str]) -> Vec<&'a str> {
        let collected: HashSet<&str> = collected.iter().copied().collect();
        let mut others: Vec<&str> = self
            .by_id
            .keys()
            .map(String::as_str)
            .filter(|id| !collected.contains(id))
            .collect();
        others.sort_unstable();
        others
    }

    /// Look up every collected id, in order, and count the values nothing matched.
    pub fn resolve<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Resolved {
        let mut seconds = Vec::new();
        let mut firsts = Vec::new();
        let mut setup_known = Vec::new();
        let mut ids_hit = 0;
        let mut keys_hit = HashSet::default();
        for id in ids {
            let by_id = self.by_id.get(id).copied();
            ids_hit += usize::from(by_id.is_some());
            let by_key = if self.by_junit_key.is_empty() {
                None
            } else {
                self.by_junit_key
                    .get_key_value(&nodeid::junit_key(id))
                    .map(|(key, record)| {
                        keys_hit.insert(key);
                        *record
                    })
            };
            let newest = match (by_id, by_key) {
                (Some(a), Some(b)) => Some(if a.order > b.order { a } else { b }),
                (a, b) => a.or(b),
            };
            if let Some(session) = newest.and_then(|record| record.session) {
                firsts.push(First {
                    test: seconds.len(),
                    session,
                });
            }
            setup_known.push(newest.is_some_and(|record| record.setup_known));
            seconds.push(newest.map(|record| record.seconds));
        }
        Resolved {
            firsts,
            setup_known,
            seconds,
            unused: self.by_id.len().saturating_sub(ids_hit) + self.by_junit_key.len()
                - keys_hit.len(),
        }
    }
}

/// The shard a report belongs to: the last `shard-K` folder in its path.
fn shard_in_path(path: &Path) -> Option<u32> {
    path.parent()?.components().rev().find_map(|part| {
        part.as_os_str()
            .to_str()?
            .strip_prefix("shard-")?
            .parse()
            .ok()
    })
}

/// Write durations as pytest-split's `.test_durations`: a JSON object of
/// node ids and seconds, sorted by id, indented, with a final newline.
/// [`Durations::read`] reads it back exactly.
pub fn write_json(out: &mut impl Write, recorded: &BTreeMap<&str, f64>) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, recorded)?;
    writeln!(out)
}

/// A value that brings the durations read past what a plan can add up.
#[derive(Debug)]
pub struct TooLong {
    seconds: f64,
    /// The test it was recorded for.
    what: String,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:e} s for {}: the durations read add up past {:e} s (about 31 years), more than shard-plan plans",
            self.seconds,
            self.what,
            planner::MAX_TOTAL_SECONDS
        )
    }
}

impl std::error::Error for TooLong {}

/// Peek at the first non-blank byte: `{` is JSON, `<` is XML, anything else TSV.
fn detect(reader: &mut impl BufRead) -> io::Result<Format> {
    let buffer = reader.fill_buf()?;
    let first = buffer.iter().find(|b| !b.is_ascii_whitespace());
    Ok(match first {
        Some(b'{') => Format::Json,
        Some(b'<') => Format::Junit,
        _ => Format::Tsv,
    })
}

/// A duration in seconds: a finite number, zero or more.
fn parse_seconds(text: &str) -> anyhow::Result<f64> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds),
        _ => bail!("{text:?} is not a duration in seconds"),
    }
}

/// `name:line:column: message`, without serde_json's own " at line L column C".
fn json_error(name: &str, err: &serde_json::Error) -> anyhow::Error {
    let (line, column) = (err.line(), err.column());
    let text = err.to_string();
    let message = text
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&text);
    anyhow::anyhow!("{name}:{line}:{column}: {message}")
}

/// Reads a JSON object of durations straight into [`Durations`], in file
/// order; session setup keys go to the second map.
struct JsonObject<'a>(&'a mut Durations, &'a mut BTreeMap<u32, f64>);

impl<'de> DeserializeSeed<'de> for JsonObject<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for JsonObject<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of test ids and their seconds")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(id) = map.next_key::<String>()? {
            let Seconds(seconds) = map.next_value()?;
            match setup::shard_of_key(&id) {
                Some(shard) => {
                    self.1.insert(shard, seconds);
                }
                None => self.0.insert(id, seconds).map_err(de::Error::custom)?,
            }
        }
        Ok(())
    }
}

/// A JSON number that is a valid duration.
struct Seconds(f64);

impl<'de> de::Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Seconds, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        if seconds.is_finite() && seconds >= 0.0 {
            Ok(Seconds(seconds))
        } else {
            Err(de::Error::custom(format!(
                "{seconds} is not a duration in seconds"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Read each text, from a scratch file of its own, into one [`Durations`];
    /// errors name the file `d`.
    fn read_all(texts: &[&str]) -> Result<(Format, Durations), String> {
        static FILES: AtomicUsize = AtomicUsize::new(0);
        let mut durations = Durations::new();
        let mut format = Format::Tsv;
        for text in texts {
            let path = std::env::temp_dir().join(format!(
                "shared-durations-{}-{}",
                std::process::id(),
                FILES.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::write(&path, text).unwrap();
            let read = durations.read(&path);
            std::fs::remove_file(&path).unwrap();
            let prefix = format!("{}:", path.display());
            format = read.map_err(|err| format!("{err:#}").replace(&prefix, "d:"))?;
        }
        Ok((format, durations))
    }

    fn read(text: &str) -> (Format, Durations) {
        read_all(&[text]).unwrap()
    }

    fn error(text: &str) -> String {
        read_all(&[text]).err().unwrap()
    }

    fn seconds(durations: &Durations, ids: &[&str]) -> Vec<Option<f64>> {
        durations.resolve(ids.iter().copied()).seconds
    }

    #[test]
    fn json_of_pytest_split() {
        let (format, d) = read("{\n  \"t.py::a\": 1.5,\n  \"t.py::b[x]\": 0\n}\n");
        assert_eq!(format, Format::Json);
        assert_eq!(
            seconds(&d, &["t.py::b[x]", "t.py::a", "t.py::c"]),
            [Some(0.0), Some(1.5), None]
        );
    }

    #[test]
    fn json_errors_name_line_and_column() {
        assert_eq!(
            error("{\n  \"a\": 1,\n  \"b\": \"slow\"\n}"),
            "d:3:13: invalid type: string \"slow\", expected f64"
        );
        assert_eq!(
            error("{\"a\": -1}"),
            "d:1:9: -1 is not a duration in seconds"
        );
        assert_eq!(error("{\"a\": 1,"), "d:1:8: EOF while parsing a value");
    }

    #[test]
    fn values_past_what_a_plan_holds_are_refused_where_read() {
        assert_eq!(
            error("{\"a\": 4e8,\n\"b\": 7e8}"),
            "d:2:9: 7e8 s for b: the durations read add up past 1e9 s (about 31 years), more than shard-plan plans"
        );
        assert!(error("a\t1e308\n").starts_with("d:1: 1e308 s for a: "));
        assert!(
            read_all(&[
                "a\t6e8\n",
                "<testsuite><testcase name=\"b\" time=\"6e8\"/></testsuite>"
            ])
            .err()
            .unwrap()
            .starts_with("d:1:12: 6e8 s for b: ")
        );
        // Up to the limit is fine: every value counts once.
        let (_, d) = read("{\"a\": 5e8, \"b\": 5e8}");
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn each_file_says_how_many_collected_tests_it_matched() {
        let mut d = Durations::new();
        let ids = ["t.py::a", "t.py::b", "t.py::c"];
        let path = std::env::temp_dir().join(format!("shared-overlap-{}", std::process::id()));
        let mut read = |text: &str| {
            std::fs::write(&path, text).unwrap();
            d.read(&path).unwrap();
            let overlap = d.overlap_of_last(&ids).unwrap();
            (
                overlap.values,
                overlap.matched,
                overlap.example.map(String::from),
            )
        };
        // Another rootdir: nothing matches.
        let prefixed = "{\"src/t.py::a\": 1, \"src/t.py::b\": 1, \"src/t.py::c\": 1}";
        assert_eq!(read(prefixed), (3, 0, Some("src/t.py::a".into())));
        // A later file matches what it holds, whatever came before.
        assert_eq!(
            read("t.py::a\t1\nt.py::b\t2\n"),
            (2, 2, Some("t.py::a".into()))
        );
        let xunit2 = r#"<testsuite><testcase classname="t" name="c" time="1"/></testsuite>"#;
        assert_eq!(read(xunit2), (1, 1, Some("t::c".into())));
        std::fs::remove_file(&path).unwrap();

        let overlap = |values, matched| Overlap {
            name: "d",
            values,
            matched,
            example: None,
        };
        // Nothing of 5753 values among 7901 tests; a subset run; one shard's report.
        assert!(overlap(5753, 0).is_poor(7901));
        assert!(overlap(5753, 14).is_poor(7901));
        assert!(!overlap(1776, 150).is_poor(150));
        assert!(!overlap(790, 790).is_poor(7901));
        assert!(!overlap(0, 0).is_poor(7901));
    }

    #[test]
    fn tsv_with_tabs_inside_ids() {
        let (format, d) = read("t.py::a\t2\n\nt.py::b[x\ty]\t0.25\r\n");
        assert_eq!(format, Format::Tsv);
        assert_eq!(
            seconds(&d, &["t.py::a", "t.py::b[x\ty]"]),
            [Some(2.0), Some(0.25)]
        );
    }

    #[test]
    fn tsv_errors_name_the_line() {
        assert_eq!(
            error("a\t1\nb 2\n"),
            "d:2: expected `test id<TAB>seconds`, found no tab"
        );
        assert_eq!(
            error("a\t1\n\nb\tfast\n"),
            "d:3: \"fast\" is not a duration in seconds"
        );
    }

    #[test]
    fn junit_with_file_attributes_gives_node_ids() {
        let xml = r#"<?xml version="1.0"?><testsuites><testsuite>
            <testcase classname="tests.test_a.TestK" name="test_m[a&amp;b]" file="tests/test_a.py" time="0.5"/>
            <testcase classname="tests.test_a" name="test_f" file="tests/test_a.py" time="2"><failure/></testcase>
            </testsuite></testsuites>"#;
        let (format, d) = read(xml);
        assert_eq!(format, Format::Junit);
        assert_eq!(
            seconds(
                &d,
                &[
                    "tests/test_a.py::test_f",
                    "tests/test_a.py::TestK::test_m[a&b]"
                ]
            ),
            [Some(2.0), Some(0.5)]
        );
    }

    #[test]
    fn junit_without_file_matches_collected_ids() {
        let xml = r#"<testsuite>
            <testcase classname="tests.test_a.TestK" name="test_m" time="0.5"/>
            <testcase classname="tests.test_gone" name="test_x" time="9"/>
            </testsuite>"#;
        let (_, d) = read(xml);
        let resolved = d.resolve(["tests/test_a.py::TestK::test_m", "tests/test_b.py::t"]);
        assert_eq!(resolved.seconds, [Some(0.5), None]);
        assert_eq!(resolved.unused, 1);
    }

    #[test]
    fn junit_cases_without_a_readable_time_are_unknown() {
        let (_, d) = read(
            r#"<testsuite><testcase classname="t" name="a" time="soon"/><testcase classname="t" name="b"/></testsuite>"#,
        );
        assert!(d.is_empty());
    }

    #[test]
    fn junit_errors_name_line_and_column() {
        let unclosed = error("<testsuite>\n<testcase name=\"a\" time=\"1\">\n</testsuites>");
        assert!(unclosed.starts_with("d:3:1: "), "{unclosed}");
        let entity = error(
            "<!DOCTYPE t [<!ENTITY boom \"x\">]><testsuite><testcase name=\"&boom;\" time=\"1\"/></testsuite>",
        );
        assert!(entity.starts_with("d:1:1: "), "{entity}");
    }

    #[test]
    fn written_durations_read_back_exactly() {
        // Read with serde_json's default float parsing, this came back a
        // last digit off (2.1246687347010758).
        let recorded = BTreeMap::from([("t.py::a", 2.124668734701076), ("t.py::b[x]", 0.0)]);
        let mut written = Vec::new();
        write_json(&mut written, &recorded).unwrap();
        let (format, d) = read(std::str::from_utf8(&written).unwrap());
        assert_eq!(format, Format::Json);
        assert_eq!(
            seconds(&d, &["t.py::a", "t.py::b[x]"]),
            [Some(2.124668734701076), Some(0.0)]
        );
    }

    #[test]
    fn later_files_win_and_unused_values_are_counted() {
        let (_, d) = read_all(&[
            "a\t1\nb\t1\ngone\t5\n",
            "{\"b\": 3}",
            r#"<testsuite><testcase classname="t" name="a" time="7"/></testsuite>"#,
        ])
        .unwrap();
        let resolved = d.resolve(["t.py::a", "a", "b"]);
        assert_eq!(resolved.seconds, [Some(7.0), Some(1.0), Some(3.0)]);
        assert_eq!(resolved.unused, 1);
    }

    #[test]
    fn the_first_case_of_each_suite_opened_a_session() {
        let xml = r#"<testsuites>
            <testsuite><testcase classname="t" name="a" file="t.py" time="9"/><testcase classname="t" name="b" file="t.py" time="1"/></testsuite>
            <testsuite><testcase classname="t" name="c" file="t.py" time="8"/></testsuite>
            </testsuites>"#;
        let (_, d) = read(xml);
        let resolved = d.resolve(["t.py::c", "t.py::b", "t.py::a"]);
        assert_eq!(
            resolved.firsts,
            [
                First {
                    test: 0,
                    session: 2
                },
                First {
                    test: 2,
                    session: 1
                }
            ]
        );
    }

    #[test]
    fn a_report_in_a_shard_folder_names_its_shard() {
        assert_eq!(
            shard_in_path(Path::new("reports/shard-12/junit.xml")),
            Some(12)
        );
        assert_eq!(shard_in_path(Path::new("reports/unit.xml")), None);
    }

    #[test]
    fn reports_whose_sessions_are_known_account_for_setup() {
        let case =
            |name: &str| format!(r#"<testcase classname="t" name="{name}" file="t.py" time="1"/>"#);
        let (one, two) = (case("a"), case("b"));
        let lone = format!("<testsuite>{one}{two}</testsuite>");
        let merged = format!(
            "<testsuites><testsuite>{one}</testsuite><testsuite>{two}</testsuite></testsuites>"
        );
        for (text, known) in [(lone, false), (merged, true)] {
            let (_, d) = read(&text);
            let resolved = d.resolve(["t.py::a", "t.py::b"]);
            assert_eq!(resolved.setup_known, [known, known], "{text}");
        }
        assert_eq!(
            read("{\"t.py::b\": 1, \"t.py::a\": 2, \"t.py::c\": 3}")
                .1
                .others(&["t.py::c"]),
            ["t.py::a", "t.py::b"]
        );
    }

    #[test]
    fn setup_keys_mark_a_saved_file_clean() {
        let (_, d) = read_all(&[
            "{\"t.py::a\": 1}",
            "{\"<session setup>::shard-2\": 30.5, \"t.py::b\": 2}",
        ])
        .unwrap();
        assert_eq!(d.setups().iter().collect::<Vec<_>>(), [(&2, &30.5)]);
        let resolved = d.resolve(["t.py::a", "t.py::b"]);
        assert_eq!(resolved.setup_known, [false, true]);
        assert_eq!(resolved.unused, 0);
    }
}
