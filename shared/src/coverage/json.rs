//! coverage.py's JSON report (`coverage json`), read and written.
//!
//! Reading takes format versions 1 to 3: statements from `executed_lines` and
//! `missing_lines`, branches from `executed_branches`/`missing_branches`
//! (coverage.py 6.5 and later; before that only the summary counts them), and
//! the function and class regions of format 3. Each file's entry becomes the
//! model as soon as it is parsed, so memory holds the model, not the document.
//! Writing reproduces `coverage json` byte for byte but for the timestamp:
//! same keys, same order, same number formatting.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{BufRead, Write};

use anyhow::Context;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::model::{
    Branch, FileCov, Line, MAX_PRECISION, Numbers, Region, Report, Target, Unplaced,
};
use crate::count;

/// Read one coverage.py JSON report; `name` names it in errors.
pub fn read(name: &str, reader: impl BufRead) -> anyhow::Result<Report> {
    let doc: Doc = serde_json::from_reader(reader)
        .with_context(|| format!("{name}: not a valid coverage.py JSON report"))?;
    let meta = doc.meta.unwrap_or_default();
    // Branch data says branches were measured, whatever the meta says: the
    // numbers count them.
    let has_branches =
        (doc.files.map.values()).any(|file| !file.branches.is_empty() || file.unplaced.is_some());
    let branch =
        meta.branch_coverage.unwrap_or(false) || doc.files.saw_branch_numbers || has_branches;
    let unidentified = branch && doc.files.unplaced;
    Ok(Report {
        files: doc.files.map,
        branch,
        sources: BTreeSet::new(),
        meta: super::model::Meta {
            precision: doc.files.precision.unwrap_or(0),
            version: meta.version,
            json_format: Some(meta.format.unwrap_or(1)),
            timestamp_us: meta.timestamp.as_deref().and_then(crate::time::parse_iso),
            hit_counts: false,
            unidentified_branches: unidentified,
        },
    })
}

#[derive(Deserialize)]
struct Doc {
    meta: Option<MetaIn>,
    files: Files,
}

#[derive(Deserialize, Default)]
struct MetaIn {
    format: Option<u32>,
    version: Option<String>,
    timestamp: Option<String>,
    branch_coverage: Option<bool>,
}

#[derive(Deserialize)]
struct FileIn {
    executed_lines: Vec<Line>,
    missing_lines: Vec<Line>,
    #[serde(default)]
    excluded_lines: Vec<Line>,
    summary: SummaryIn,
    executed_branches: Option<Vec<(Line, Target)>>,
    missing_branches: Option<Vec<(Line, Target)>>,
    functions: Option<BTreeMap<String, RegionIn>>,
    classes: Option<BTreeMap<String, RegionIn>>,
}

#[derive(Deserialize)]
struct SummaryIn {
    num_statements: Option<u32>,
    percent_covered_display: Option<String>,
    num_branches: Option<u32>,
    missing_branches: Option<u32>,
    num_partial_branches: Option<u32>,
}

#[derive(Deserialize)]
struct RegionIn {
    summary: Option<SummaryIn>,
    executed_lines: Vec<Line>,
    missing_lines: Vec<Line>,
    #[serde(default)]
    excluded_lines: Vec<Line>,
    start_line: Option<Line>,
}

/// The `files` object, turned into the model one entry at a time.
#[derive(Default)]
struct Files {
    map: BTreeMap<String, FileCov>,
    precision: Option<usize>,
    saw_branch_numbers: bool,
    unplaced: bool,
}

impl<'de> Deserialize<'de> for Files {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Files, D::Error> {
        struct FilesVisitor;
        impl<'de> Visitor<'de> for FilesVisitor {
            type Value = Files;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of measured files")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Files, A::Error> {
                let mut files = Files::default();
                while let Some((name, file)) = map.next_entry::<String, FileIn>()? {
                    files
                        .add(&name, file)
                        .map_err(|why| de::Error::custom(format!("{name}: {why}")))?;
                }
                Ok(files)
            }
        }
        deserializer.deserialize_map(FilesVisitor)
    }
}

impl Files {
    /// Turn one file's entry into the model; refuse a summary that
    /// contradicts the lines (fewer statements than missed lines, say),
    /// whose numbers would come out wrong.
    fn add(&mut self, name: &str, file: FileIn) -> Result<(), String> {
        if let Some(display) = &file.summary.percent_covered_display {
            let places = display.split_once('.').map_or(0, |(_, f)| f.len());
            if places > MAX_PRECISION {
                return Err(format!(
                    "percent_covered_display has {places} decimals, more than {MAX_PRECISION}"
                ));
            }
            self.precision = Some(self.precision.unwrap_or(0).max(places));
        }
        // A region's branch count says so as much as the file's.
        let regions = [&file.functions, &file.classes].into_iter().flatten();
        let region_branches = regions.flat_map(BTreeMap::values).any(|region| {
            region
                .summary
                .as_ref()
                .is_some_and(|s| s.num_branches.is_some())
        });
        self.saw_branch_numbers |= file.summary.num_branches.is_some() || region_branches;
        let mut cov = FileCov::default();
        cov.excluded.extend(file.excluded_lines);
        for &line in &file.executed_lines {
            if cov.excluded.contains(&line) {
                cov.executed_only.insert(line);
            } else {
                cov.lines.insert(line, 1);
            }
        }
        cov.lines.extend(file.missing_lines.iter().map(|&l| (l, 0)));
        let missed = cov.lines.values().filter(|&&hits| hits == 0).count();
        if let Some(declared) = file
            .summary
            .num_statements
            .filter(|&n| (n as usize) < missed)
        {
            return Err(format!(
                "its summary says {declared} statements, but {missed} lines are missing"
            ));
        }
        cov.statements = fewer_statements(file.summary.num_statements, cov.lines.len());
        match (file.executed_branches, file.missing_branches) {
            (Some(taken), Some(missing)) => {
                for (line, to) in taken {
                    branch_of(&mut cov, line).taken.insert(to);
                }
                for (line, to) in missing {
                    let branch = branch_of(&mut cov, line);
                    branch.missing.get_or_insert_with(BTreeSet::new).insert(to);
                }
                for (&line, branch) in cov.branches.iter_mut() {
                    let missing = branch.missing.get_or_insert_with(BTreeSet::new);
                    // An arc from a line to itself is no exit; coverage.py 7.2
                    // and before listed some as taken.
                    let exits = branch
                        .taken
                        .union(missing)
                        .filter(|&&to| to != i64::from(line));
                    // Only lines with two exits or more are listed: one
                    // listed is a `pragma: no branch` line hiding its miss.
                    branch.exits = (exits.count() as u32).max(2);
                }
                let listed = count::sum(cov.branch_lines().map(|(_, b)| b.exits))
                    .map_err(|overflow| format!("its branch exits: {overflow}"))?;
                let missed = count::sum(cov.branch_lines().map(|(_, b)| b.missing_count()))
                    .map_err(|overflow| format!("its missed exits: {overflow}"))?;
                let declared = file.summary.num_branches;
                if let Some(declared) = declared.filter(|&n| n < missed) {
                    return Err(format!(
                        "its summary says {declared} branches, but {missed} branch exits are missing"
                    ));
                }
                cov.exits = declared.filter(|&n| n != listed);
            }
            _ => {
                if let Some(branches) = file.summary.num_branches {
                    let missing = file.summary.missing_branches.unwrap_or(0);
                    if missing > branches {
                        return Err(format!(
                            "its summary says {branches} branches, {missing} of them missing"
                        ));
                    }
                    self.unplaced = true;
                    cov.unplaced = Some(Unplaced {
                        branches,
                        missing,
                        partial: file.summary.num_partial_branches.unwrap_or(0),
                    });
                }
            }
        }
        for (kind, regions) in [("functions", file.functions), ("classes", file.classes)] {
            let Some(regions) = regions else { continue };
            let regions = regions
                .into_iter()
                .map(|(name, region)| {
                    // Only lines the file lists: a region that names others
                    // would count what no writer can write back for it.
                    let lines: BTreeSet<Line> = region
                        .executed_lines
                        .into_iter()
                        .chain(region.missing_lines)
                        .chain(region.excluded_lines)
                        .filter(|line| {
                            cov.lines.contains_key(line)
                                || cov.executed_only.contains(line)
                                || cov.excluded.contains(line)
                        })
                        .collect();
                    let listed = lines.iter().filter(|l| cov.lines.contains_key(l)).count();
                    let listed_exits = count::sum(
                        cov.branch_lines()
                            .filter(|(line, _)| lines.contains(line))
                            .map(|(_, b)| b.exits),
                    )
                    .map_err(|overflow| format!("the branch exits of {name}: {overflow}"))?;
                    let summary = region.summary.as_ref();
                    let declared = summary.and_then(|s| s.num_statements);
                    let exits = summary.and_then(|s| s.num_branches);
                    Ok(Region {
                        name,
                        start_line: region.start_line,
                        statements: fewer_statements(declared, listed),
                        exits: exits.filter(|&n| n != listed_exits),
                        lines,
                    })
                })
                .collect::<Result<_, String>>()?;
            cov.regions.insert(kind.to_string(), regions);
        }
        self.map.insert(name.to_string(), cov);
        Ok(())
    }
}

/// The summary's statement count, when the lines listed are more.
fn fewer_statements(declared: Option<u32>, listed: usize) -> Option<u32> {
    declared.filter(|&declared| (declared as usize) < listed)
}

fn branch_of(cov: &mut FileCov, line: Line) -> &mut Branch {
    cov.branches.entry(line).or_default()
}

/// Write `report` as `coverage json` would (not pretty-printed).
pub fn write(report: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let precision = report.meta.precision;
    let with_regions = report.meta.json_format.is_none_or(|f| f >= 3)
        && report.files.values().all(|f| !f.regions.is_empty());
    let format = if with_regions { 3 } else { 2 };
    let version = report.meta.version.as_deref().unwrap_or(super::PRODUCER);
    let timestamp = crate::time::format_iso(report.meta.timestamp_us());
    write!(
        out,
        "{{\"meta\": {{\"format\": {format}, \"version\": {}, \"timestamp\": {}, \
         \"branch_coverage\": {}, \"show_contexts\": false}}, \"files\": {{",
        string(version),
        string(&timestamp),
        report.branch
    )?;
    let mut total = Numbers {
        precision,
        ..Numbers::default()
    };
    for (index, (name, file)) in report.files.iter().enumerate() {
        if index > 0 {
            out.write_all(b", ")?;
        }
        let numbers = file
            .numbers(precision)
            .with_context(|| format!("the numbers of {name}"))?;
        total.add(&numbers)?;
        write!(out, "{}: ", string(name))?;
        write_part(out, report.branch, file, &numbers, |_| true, None)?;
        if with_regions {
            // coverage.py lists functions before classes.
            let mut kinds: Vec<_> = file.regions.iter().collect();
            kinds.sort_by_key(|(kind, _)| (kind.as_str() != "functions", kind.as_str()));
            for (kind, regions) in kinds {
                write!(out, ", {}: {{", string(kind))?;
                let mut regions: Vec<&Region> = regions.iter().collect();
                regions.sort_by_key(|r| (r.name.is_empty(), r.start_line, &r.name));
                for (index, region) in regions.iter().enumerate() {
                    if index > 0 {
                        out.write_all(b", ")?;
                    }
                    let keep = |line| region.lines.contains(&line);
                    let numbers = file
                        .region_numbers(precision, region)
                        .with_context(|| format!("the numbers of {name}"))?;
                    write!(out, "{}: ", string(&region.name))?;
                    write_part(out, report.branch, file, &numbers, keep, Some(region))?;
                    out.write_all(b"}")?;
                }
                out.write_all(b"}")?;
            }
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"}, \"totals\": ")?;
    write_summary(out, &total, report.branch)?;
    out.write_all(b"}")?;
    Ok(())
}

/// A file's or region's entry, without its closing brace.
fn write_part(
    out: &mut dyn Write,
    branch: bool,
    file: &FileCov,
    numbers: &Numbers,
    keep: impl Fn(Line) -> bool,
    region: Option<&Region>,
) -> anyhow::Result<()> {
    let executed: BTreeSet<Line> = file
        .lines
        .iter()
        .filter(|&(_, &hits)| hits > 0)
        .map(|(&l, _)| l)
        .chain(file.executed_only.iter().copied())
        .filter(|&l| keep(l))
        .collect();
    let executed = executed.into_iter();
    let missing = file
        .lines
        .iter()
        .filter(|&(&l, &hits)| hits == 0 && keep(l))
        .map(|(&l, _)| l);
    let excluded = file.excluded.iter().copied().filter(|&l| keep(l));
    write!(
        out,
        "{{\"executed_lines\": {}, \"summary\": ",
        list(executed)
    )?;
    write_summary(out, numbers, branch)?;
    write!(
        out,
        ", \"missing_lines\": {}, \"excluded_lines\": {}",
        list(missing),
        list(excluded)
    )?;
    if let Some(start) = region.and_then(|r| r.start_line) {
        write!(out, ", \"start_line\": {start}")?;
    }
    if branch && !(file.unplaced.is_some() && file.branches.is_empty()) {
        let taken = file.taken_arcs().filter(|&(l, _)| keep(l));
        let missing = file.missing_arcs().filter(|&(l, _)| keep(l));
        write!(
            out,
            ", \"executed_branches\": {}, \"missing_branches\": {}",
            arcs(taken),
            arcs(missing)
        )?;
    }
    Ok(())
}

fn write_summary(out: &mut dyn Write, n: &Numbers, branch: bool) -> anyhow::Result<()> {
    write!(
        out,
        "{{\"covered_lines\": {}, \"num_statements\": {}, \"percent_covered\": {}, \
         \"percent_covered_display\": {}, \"missing_lines\": {}, \"excluded_lines\": {}, \
         \"percent_statements_covered\": {}, \"percent_statements_covered_display\": {}",
        n.n_executed(),
        n.n_statements,
        float(n.pc_covered()),
        string(&n.pc_covered_str()),
        n.n_missing,
        n.n_excluded,
        float(n.pc_statements()),
        string(&n.pc_statements_str()),
    )?;
    if branch {
        write!(
            out,
            ", \"num_branches\": {}, \"num_partial_branches\": {}, \"covered_branches\": {}, \
             \"missing_branches\": {}, \"percent_branches_covered\": {}, \
             \"percent_branches_covered_display\": {}",
            n.n_branches,
            n.n_partial_branches,
            n.n_executed_branches(),
            n.n_missing_branches,
            float(n.pc_branches()),
            string(&n.pc_branches_str()),
        )?;
    }
    out.write_all(b"}")?;
    Ok(())
}

fn list(items: impl Iterator<Item = Line>) -> String {
    let items: Vec<String> = items.map(|l| l.to_string()).collect();
    format!("[{}]", items.join(", "))
}

fn arcs(items: impl Iterator<Item = (Line, Target)>) -> String {
    let items: Vec<String> = items.map(|(a, b)| format!("[{a}, {b}]")).collect();
    format!("[{}]", items.join(", "))
}

/// A float as Python's `repr` writes it.
fn float(x: f64) -> String {
    let text = format!("{x:?}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exponent),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => text,
    }
}

/// A string as Python's `json.dumps` writes it (ASCII only).
pub(crate) fn string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            ' '..='~' => quoted.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    quoted.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_and_strings_look_like_python() {
        assert_eq!(float(100.0), "100.0");
        assert_eq!(float(92.7536231884058), "92.7536231884058");
        assert_eq!(float(1e-5), "1e-05");
        assert_eq!(string("shop/ça\"t.py"), "\"shop/\\u00e7a\\\"t.py\"");
        assert_eq!(string("😀"), "\"\\ud83d\\ude00\"");
    }

    #[test]
    fn a_file_round_trips() {
        let text = r#"{"meta": {"format": 3, "version": "7.17.4", "timestamp": "2026-11-26T09:14:37.976733", "branch_coverage": true, "show_contexts": false}, "files": {"a.py": {"executed_lines": [1, 2], "summary": {"covered_lines": 2, "num_statements": 3, "percent_covered": 60.0, "percent_covered_display": "60", "missing_lines": 1, "excluded_lines": 0, "percent_statements_covered": 66.66666666666667, "percent_statements_covered_display": "67", "num_branches": 2, "num_partial_branches": 1, "covered_branches": 1, "missing_branches": 1, "percent_branches_covered": 50.0, "percent_branches_covered_display": "50"}, "missing_lines": [3], "excluded_lines": [], "executed_branches": [[2, -1]], "missing_branches": [[2, 3]]}}, "totals": {"covered_lines": 2, "num_statements": 3, "percent_covered": 60.0, "percent_covered_display": "60", "missing_lines": 1, "excluded_lines": 0, "percent_statements_covered": 66.66666666666667, "percent_statements_covered_display": "67", "num_branches": 2, "num_partial_branches": 1, "covered_branches": 1, "missing_branches": 1, "percent_branches_covered": 50.0, "percent_branches_covered_display": "50"}}"#;
        let report = read("a.json", text.as_bytes()).unwrap();
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out)
                .unwrap()
                .replace("\"format\": 2", "\"format\": 3"),
            text
        );
    }

    #[test]
    fn a_region_listing_lines_its_file_does_not_reads_back_the_same() {
        // The class lists lines 9 and 30, which the file does not: they are
        // no statements of it, and the summary's 3 is not fewer than its 2.
        let text = r#"{"meta": {"format": 3}, "files": {"a.py": {"executed_lines": [1, 2],
            "missing_lines": [], "summary": {"num_statements": 2},
            "functions": {}, "classes": {"K": {"executed_lines": [1, 2, 30], "missing_lines": [9],
            "summary": {"num_statements": 3}}}}}}"#;
        let report = read("a.json", text.as_bytes()).unwrap();
        let region = &report.files["a.py"].regions["classes"][0];
        assert_eq!(region.statements, None);
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let again = read("written.json", out.as_slice()).unwrap();
        let numbers = |r: &Report| {
            let file = &r.files["a.py"];
            file.region_numbers(0, &file.regions["classes"][0]).unwrap()
        };
        assert_eq!(numbers(&report).n_statements, 2);
        assert_eq!(numbers(&report), numbers(&again));
    }

    #[test]
    fn a_region_counts_no_branch_of_a_line_its_file_does_not_list() {
        // Line 3 is no statement of the file, yet has branches: the file
        // counts them, the region that names line 3 does not.
        let text = r#"{"meta": {"format": 3, "branch_coverage": true}, "files": {"a.py": {
            "executed_lines": [1], "missing_lines": [4], "summary": {},
            "executed_branches": [[3, 1]], "missing_branches": [[3, 4]],
            "functions": {}, "classes": {"K": {"executed_lines": [1, 3], "missing_lines": [4]}}}}}"#;
        let report = read("a.json", text.as_bytes()).unwrap();
        let file = &report.files["a.py"];
        let region = &file.regions["classes"][0];
        assert_eq!(region.lines, [1, 4].into());
        assert_eq!(file.numbers(0).unwrap().n_branches, 2);
        assert_eq!(file.region_numbers(0, region).unwrap().n_branches, 0);
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let again = read("written.json", out.as_slice()).unwrap();
        let again_file = &again.files["a.py"];
        assert_eq!(
            again_file.region_numbers(0, &again_file.regions["classes"][0]),
            file.region_numbers(0, region)
        );
    }

    #[test]
    fn branch_arcs_mean_branches_were_measured_whatever_the_meta_says() {
        let text = r#"{"meta": {"branch_coverage": false}, "files": {"a.py": {
            "executed_lines": [1, 2], "missing_lines": [], "summary": {},
            "executed_branches": [[1, 2]], "missing_branches": [[1, -1]]}}}"#;
        let report = read("a.json", text.as_bytes()).unwrap();
        assert!(
            report.branch,
            "its numbers count the branches: so do its writers"
        );
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let again = read("written.json", out.as_slice()).unwrap();
        assert_eq!(again.files["a.py"].numbers(0).unwrap().n_branches, 2);
    }

    #[test]
    fn a_regions_branch_count_means_branches_were_measured() {
        // Found by fuzzing: read as a report without branches, the region
        // kept its count, which the writer then left out.
        let text = r#"{"meta": {"format": 3}, "files": {"a.py": {
            "executed_lines": [1], "missing_lines": [], "summary": {},
            "functions": {"f": {"executed_lines": [1], "missing_lines": [],
                "summary": {"num_branches": 2}}}}}}"#;
        let report = read("a.json", text.as_bytes()).unwrap();
        assert!(report.branch);
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let again = read("written.json", out.as_slice()).unwrap();
        let file = &again.files["a.py"];
        let region = &file.regions["functions"][0];
        assert_eq!(file.region_numbers(0, region).unwrap().n_branches, 2);
    }

    #[test]
    fn malformed_json_names_the_file_and_position() {
        let err = read("shard1.json", &b"{\"files\": {\"a.py\": [}"[..]).unwrap_err();
        let message = format!("{err:#}");
        assert!(message.starts_with("shard1.json: "), "{message}");
        assert!(message.contains("line 1 column"), "{message}");
    }
}
