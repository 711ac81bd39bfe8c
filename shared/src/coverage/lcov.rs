//! LCOV tracefiles (`SF:`, `DA:`, `BRDA:` … `end_of_record`), read and written.
//!
//! Read line by line. LCOV counts hits, so merging adds them up. A branch is
//! identified by its description when it names its destination the way
//! coverage.py's `coverage lcov` does ("jump to line 7", "jump to the
//! function exit"); other writers' numbered branches are only counted, which
//! merges to a lower bound. Writing follows `coverage lcov`.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};

use anyhow::{Context, bail};

use super::model::{EXIT, FileCov, Line, Meta, Numbers, Report, Target};
use crate::count::{self, Overflow};

/// Read one LCOV tracefile; `name` names it in errors.
pub fn read(name: &str, reader: impl BufRead) -> anyhow::Result<Report> {
    let mut report = Report {
        meta: Meta {
            hit_counts: true,
            ..Meta::default()
        },
        ..Report::default()
    };
    let mut current: Option<(String, FileCov)> = None;
    for line in crate::io::Lines::new(name, reader) {
        let (number, line) = line?;
        let at = || format!("{name}:{number}");
        let line = line.as_str();
        let (tag, value) = line.split_once(':').unwrap_or((line, ""));
        match tag {
            "SF" => {
                if current.is_some() {
                    bail!("{}: SF without end_of_record before it", at());
                }
                current = Some((value.to_string(), FileCov::default()));
            }
            "end_of_record" => {
                let (path, mut file) = current
                    .take()
                    .with_context(|| format!("{}: end_of_record without SF before it", at()))?;
                settle_exits(&mut file).with_context(at)?;
                // A BRF total without BRDA records still counts branches.
                report.branch |= file.exits.is_some_and(|exits| exits > 0);
                match report.files.get_mut(&path) {
                    Some(known) => super::merge::merge_file(known, file, true)
                        .with_context(|| format!("{}: the hit counts of {path}", at()))?,
                    None => {
                        report.files.insert(path, file);
                    }
                }
            }
            "BRF" => {
                let (_, file) = current
                    .as_mut()
                    .with_context(|| format!("{}: BRF outside a file record", at()))?;
                let found = value.trim().parse();
                file.exits = Some(found.with_context(|| format!("{}: bad BRF {value:?}", at()))?);
            }
            "DA" | "BRDA" => {
                let (_, file) = current
                    .as_mut()
                    .with_context(|| format!("{}: {tag} outside a file record", at()))?;
                let parsed = if tag == "DA" {
                    read_da(file, value)
                } else {
                    report.branch = true;
                    read_brda(file, value, &mut report.meta)
                };
                parsed.with_context(|| format!("{}: bad {tag} record {value:?}", at()))?;
            }
            "" if value.is_empty() => {}
            _ if tag.chars().all(|c| c.is_ascii_uppercase()) => {}
            _ => bail!("{}: not an LCOV record: {line:?}", at()),
        }
    }
    if current.is_some() {
        bail!("{name}: the last record has no end_of_record");
    }
    Ok(report)
}

fn read_da(file: &mut FileCov, value: &str) -> anyhow::Result<()> {
    let mut fields = value.split(',');
    let line: Line = fields.next().unwrap_or("").parse()?;
    let hits = fields.next().context("no hit count")?;
    let hits = hits
        .parse::<u64>()
        .or_else(|_| hits.parse::<i64>().map(|h| h.max(0) as u64))?;
    count::add(file.lines.entry(line).or_insert(0), hits)?;
    Ok(())
}

fn read_brda(file: &mut FileCov, value: &str, meta: &mut Meta) -> anyhow::Result<()> {
    let mut fields = value.splitn(3, ',');
    let line: Line = fields.next().unwrap_or("").parse()?;
    let _block = fields.next().context("no block")?;
    let (description, taken) = fields
        .next()
        .and_then(|rest| rest.rsplit_once(','))
        .context("no branch and count")?;
    let taken = !matches!(taken, "-" | "0");
    let branch = file.branches.entry(line).or_default();
    count::add(&mut branch.exits, 1)?;
    match destination(description) {
        Some(to) if branch.missing_at_most.is_none() => {
            if taken {
                branch.taken.insert(to);
            } else {
                branch.missing.get_or_insert_with(BTreeSet::new).insert(to);
            }
        }
        _ => {
            meta.unidentified_branches = true;
            let missing = branch.missing.take().map_or(0, |m| m.len() as u32);
            let mut missing = branch.missing_at_most.unwrap_or(missing);
            count::add(&mut missing, u32::from(!taken))?;
            branch.missing_at_most = Some(missing);
            branch.taken.clear();
        }
    }
    if branch.missing_at_most.is_none() {
        branch.missing.get_or_insert_with(BTreeSet::new);
    }
    Ok(())
}

/// coverage.py lists no BRDA for the missed exits of a `pragma: no branch`
/// line, but counts them in BRF: a named line with one exit listed has two,
/// and BRF stays the file's total where the lines add up differently.
fn settle_exits(file: &mut FileCov) -> Result<(), Overflow> {
    for branch in file.branches.values_mut() {
        if branch.missing.is_some() {
            branch.exits = branch.exits.max(2);
        }
    }
    let listed = count::sum(file.branch_lines().map(|(_, b)| b.exits))?;
    file.exits = file.exits.filter(|&found| found != listed);
    Ok(())
}

/// The destination coverage.py's description of a branch names.
fn destination(description: &str) -> Option<Target> {
    // A line, from 1: what is not one names no destination LCOV can write back.
    if let Some(line) = description.strip_prefix("jump to line ") {
        return line
            .trim()
            .parse::<Line>()
            .ok()
            .filter(|&line| line > 0)
            .map(Target::from);
    }
    let exits = ["exit", "return from", "jump to the function exit"];
    exits
        .iter()
        .any(|e| description.contains(e))
        .then_some(EXIT)
}

/// Write `report` as `coverage lcov` would (without line checksums).
pub fn write(report: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    for (name, file) in &report.files {
        writeln!(out, "SF:{}", field(name))?;
        for (&line, &hits) in &file.lines {
            let hits = if report.meta.hit_counts {
                hits
            } else {
                u64::from(hits > 0)
            };
            writeln!(out, "DA:{line},{hits}")?;
        }
        let numbers = file
            .numbers(report.meta.precision)
            .with_context(|| format!("the numbers of {name}"))?;
        if numbers.n_statements > 0 {
            writeln!(
                out,
                "LF:{}\nLH:{}",
                numbers.n_statements,
                numbers.n_executed()
            )?;
        }
        write_functions(file, report.meta.precision, out)?;
        if report.branch {
            write_branches(file, &numbers, out)?;
        }
        writeln!(out, "end_of_record")?;
    }
    Ok(())
}

fn write_functions(file: &FileCov, precision: usize, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(functions) = file.regions.get("functions") else {
        return Ok(());
    };
    let mut spans: Vec<_> = functions
        .iter()
        .filter(|f| !f.name.is_empty() && !f.lines.is_empty())
        .map(|f| {
            let first = f.lines.first().copied().unwrap_or(0);
            let last = f.lines.last().copied().unwrap_or(0);
            let start = f.start_line.unwrap_or(first);
            (start.min(first), start.max(last), f)
        })
        .collect();
    if spans.is_empty() {
        return Ok(());
    }
    spans.sort_by(|a, b| (a.0, a.1, &a.2.name).cmp(&(b.0, b.1, &b.2.name)));
    let (mut found, mut hit) = (0, 0);
    let mut names = BTreeSet::new();
    for (first, last, function) in spans {
        let numbers = file.region_numbers(precision, function)?;
        if numbers.n_statements == 0 {
            continue;
        }
        found += 1;
        let was_hit = u32::from(numbers.n_executed() > 0);
        hit += was_hit;
        let mut name = field(&function.name);
        if !names.insert(name.clone()) {
            name = format!("{name}@{first}");
        }
        writeln!(out, "FN:{first},{last},{name}\nFNDA:{was_hit},{name}")?;
    }
    writeln!(out, "FNF:{found}\nFNH:{hit}")?;
    Ok(())
}

/// The BRDA records of a file's branches, and its BRF and BRH totals.
/// Lines with one exit count for nothing, but their records still say that
/// branches were measured.
fn write_branches(file: &FileCov, numbers: &Numbers, out: &mut dyn Write) -> anyhow::Result<()> {
    for (line, branch) in &file.branches {
        let taken = branch.taken_count();
        let mark = |was_taken: bool| match (taken, was_taken) {
            (0, _) => "-",
            (_, true) => "1",
            (_, false) => "0",
        };
        let missing = branch.missing.iter().flatten().map(|&to| (to, false));
        let mut destinations: Vec<(Target, bool)> = branch
            .taken
            .iter()
            .map(|&to| (to, true))
            .chain(missing)
            .collect();
        if branch.missing_at_most.is_some() || destinations.is_empty() {
            // Exits only counted (another tool's numbered branches): one
            // numbered record per exit, so the counts read back.
            for index in 0..branch.exits {
                writeln!(out, "BRDA:{line},0,{index},{}", mark(index < taken))?;
            }
            continue;
        }
        destinations.sort_by_key(|&(to, _)| (to <= EXIT, to));
        // One record per exit: exits the model tells apart by destination
        // only (two function exits are both "exit") are written again. A
        // line with one destination has two exits, as coverage.py writes a
        // `pragma: no branch` line and the reader takes it (settle_exits).
        let repeated = (branch.exits as usize).saturating_sub(destinations.len().max(2));
        let last = destinations[destinations.len() - 1];
        destinations.extend(std::iter::repeat_n(last, repeated));
        for (to, was_taken) in destinations {
            writeln!(out, "BRDA:{line},0,{},{}", describe(to), mark(was_taken))?;
        }
    }
    // The file's totals, which may say other than its lines (see settle_exits).
    if numbers.n_branches > 0 || !file.branches.is_empty() || file.exits.is_some() {
        writeln!(
            out,
            "BRF:{}\nBRH:{}",
            numbers.n_branches,
            numbers.n_executed_branches()
        )?;
    }
    Ok(())
}

fn describe(to: Target) -> String {
    if to <= EXIT {
        "jump to the function exit".into()
    } else {
        format!("jump to line {to}")
    }
}

/// LCOV has no escaping: control characters become `?`, as coverage.py does.
fn field(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "SF:shop/a.py\nDA:1,1\nDA:2,0\nBRDA:1,0,jump to line 2,0\nBRDA:1,0,jump to the function exit,1\nend_of_record\n";

    #[test]
    fn branches_keep_their_destinations() {
        let report = read("a.info", TRACE.as_bytes()).unwrap();
        let file = &report.files["shop/a.py"];
        assert_eq!(file.branches[&1].missing, Some([2].into()));
        assert_eq!(file.branches[&1].taken, [EXIT].into());
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SF:shop/a.py\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nBRDA:1,0,jump to line 2,0\n\
             BRDA:1,0,jump to the function exit,1\nBRF:2\nBRH:1\nend_of_record\n"
        );
    }

    #[test]
    fn numbered_branches_are_only_counted() {
        let trace = "SF:a.c\nDA:3,2\nBRDA:3,0,0,2\nBRDA:3,0,1,-\nend_of_record\n";
        let report = read("a.info", trace.as_bytes()).unwrap();
        assert!(report.meta.unidentified_branches);
        assert_eq!(report.files["a.c"].branches[&3].missing_count(), 1);
    }

    #[test]
    fn counted_branches_are_written_as_many_numbered_records() {
        let trace = "SF:a.c\nDA:3,2\nDA:5,0\nBRDA:3,0,0,2\nBRDA:3,0,1,0\n\
                     BRDA:5,1,0,-\nBRDA:5,1,1,-\nend_of_record\n";
        let report = read("a.info", trace.as_bytes()).unwrap();
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let written = String::from_utf8(out).unwrap();
        assert_eq!(
            written,
            "SF:a.c\nDA:3,2\nDA:5,0\nLF:2\nLH:1\nBRDA:3,0,0,1\nBRDA:3,0,1,0\n\
             BRDA:5,0,0,-\nBRDA:5,0,1,-\nBRF:4\nBRH:1\nend_of_record\n"
        );
        let again = read("written.info", written.as_bytes()).unwrap();
        assert_eq!(
            again.files["a.c"].numbers(0),
            report.files["a.c"].numbers(0)
        );
    }

    /// Written and read back: the numbers of every file.
    fn numbers_after_a_round_trip(trace: &str) -> (Vec<Numbers>, Vec<Numbers>) {
        let report = read("a.info", trace.as_bytes()).unwrap();
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let again = read("written.info", out.as_slice()).unwrap();
        let numbers = |r: &Report| r.files.values().map(|f| f.numbers(0).unwrap()).collect();
        (numbers(&report), numbers(&again))
    }

    #[test]
    fn a_brf_total_past_the_records_is_written_back() {
        let trace = "SF:a.py\nDA:2,1\nBRDA:2,0,jump to line 4,0\nBRDA:2,0,jump to line 5,1\n\
                     BRF:5\nBRH:2\nend_of_record\nSF:b.py\nDA:1,1\nBRF:3\nend_of_record\n";
        let (read, written) = numbers_after_a_round_trip(trace);
        assert_eq!((read[0].n_branches, read[1].n_branches), (5, 3));
        assert_eq!(read, written);
    }

    #[test]
    fn a_brf_of_zero_before_branch_records_is_written_back() {
        let trace = "SF:a.py\nBRDA:3,0,jump to line 5,1\nBRDA:3,0,jump to the function exit,1\n\
                     BRF:0\nend_of_record\n";
        let (read, written) = numbers_after_a_round_trip(trace);
        assert_eq!(read[0].n_branches, 0, "BRF is the file's total");
        assert_eq!(read, written);
    }

    #[test]
    fn exits_to_the_same_destination_are_written_once_each() {
        // Two code objects' exits, both "the function exit" here.
        let trace = "SF:a.py\nDA:5,1\nBRDA:5,0,jump to line 6,1\n\
                     BRDA:5,0,jump to the function exit,0\nBRDA:5,0,return from function 'f',0\n\
                     end_of_record\n";
        let (read, written) = numbers_after_a_round_trip(trace);
        assert_eq!(read[0].n_branches, 3);
        assert_eq!(read, written);
    }

    #[test]
    fn a_line_with_one_numbered_exit_still_says_branches_were_measured() {
        let trace = "SF:a.c\nDA:3,1\nBRDA:3,0,0,1\nend_of_record\n";
        let report = read("a.info", trace.as_bytes()).unwrap();
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let written = String::from_utf8(out).unwrap();
        assert!(written.contains("BRDA:3,0,0,1\n"), "{written}");
        assert!(read("written.info", written.as_bytes()).unwrap().branch);
    }

    #[test]
    fn a_jump_to_a_line_that_is_no_line_is_only_counted() {
        let trace = "SF:a.py\nDA:2,1\nBRDA:2,0,jump to line -543,0\nBRDA:2,0,jump to line 0,1\n\
                     BRDA:2,0,jump to line 3,1\nend_of_record\n";
        let report = read("a.info", trace.as_bytes()).unwrap();
        let branch = &report.files["a.py"].branches[&2];
        assert_eq!((branch.exits, branch.missing_count()), (3, 1));
        assert!(report.meta.unidentified_branches);
        let (read, written) = numbers_after_a_round_trip(trace);
        assert_eq!(read, written);
    }

    #[test]
    fn a_record_without_end_is_an_error() {
        let err = read("a.info", &b"SF:a.py\nDA:1,1\n"[..]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "a.info: the last record has no end_of_record"
        );
    }
}
