//! The table `coverage report --show-missing` prints, for people and CI logs.

use std::io::Write;

use anyhow::Context;

use super::model::{FileCov, Line, Numbers, Report};
use super::sort::human_key;

/// Write the per-file table with its TOTAL line.
pub fn write(report: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let precision = report.meta.precision;
    let mut total = Numbers {
        precision,
        ..Numbers::default()
    };
    let mut rows = Vec::new();
    for (name, file) in &report.files {
        let numbers = file
            .numbers(precision)
            .with_context(|| format!("the numbers of {name}"))?;
        total.add(&numbers)?;
        let mut row = vec![
            name.clone(),
            numbers.n_statements.to_string(),
            numbers.n_missing.to_string(),
        ];
        if report.branch {
            row.push(numbers.n_branches.to_string());
            row.push(numbers.n_partial_branches.to_string());
        }
        row.push(numbers.pc_covered_str());
        row.push(missing_formatted(file, report.branch));
        rows.push(row);
    }
    rows.sort_by_cached_key(|row| human_key(&row[0]));
    let mut total_row = vec![
        "TOTAL".to_string(),
        total.n_statements.to_string(),
        total.n_missing.to_string(),
    ];
    if report.branch {
        total_row.push(total.n_branches.to_string());
        total_row.push(total.n_partial_branches.to_string());
    }
    total_row.push(total.pc_covered_str());
    total_row.push(String::new());

    let mut header = vec!["Name", "Stmts", "Miss"];
    if report.branch {
        header.extend(["Branch", "BrPart"]);
    }
    header.extend(["Cover", "Missing"]);
    let cover = header.len() - 2;
    let name_width = rows
        .iter()
        .map(|r| r[0].chars().count())
        .chain([5])
        .max()
        .unwrap_or(5)
        + 1;
    let cover_width = rows
        .iter()
        .map(|r| r[cover].len() + 2)
        .chain([(total_row[cover].len() + 2).max(" Cover".len()) + 1])
        .max()
        .unwrap_or(0);

    let cell = |index: usize, value: &str, header_row: bool| match header[index] {
        "Name" => format!("{value:<name_width$}"),
        "Cover" if header_row => format!("{value:>cover_width$}"),
        "Cover" => format!("{value:>w$}%", w = cover_width - 1),
        "Missing" if header_row => format!("{value:>10}"),
        "Missing" => format!("   {value:9}"),
        _ => format!("{value:>7}"),
    };
    let line = |values: &[String], header_row: bool| {
        let text: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| cell(i, v, header_row))
            .collect();
        text.trim_end().to_string()
    };
    let header_text: String = header
        .iter()
        .enumerate()
        .map(|(i, h)| cell(i, h, true))
        .collect();
    let rule = "-".repeat(header_text.chars().count());
    writeln!(out, "{}", header_text.trim_end())?;
    writeln!(out, "{rule}")?;
    for row in &rows {
        writeln!(out, "{}", line(row, false))?;
    }
    if !rows.is_empty() {
        writeln!(out, "{rule}")?;
    }
    writeln!(out, "{}", line(&total_row, false))?;
    Ok(())
}

/// coverage.py's `missing_formatted`: ranges of missed statements, then the
/// missed branches of lines that ran, as `7->9` or `7->exit`.
fn missing_formatted(file: &FileCov, branch: bool) -> String {
    let mut items: Vec<(Line, String)> = Vec::new();
    let mut start: Option<Line> = None;
    let mut end = 0;
    for (&line, &hits) in &file.lines {
        if hits == 0 {
            start.get_or_insert(line);
            end = line;
        } else if let Some(first) = start.take() {
            items.push((first, range(first, end)));
        }
    }
    if let Some(first) = start {
        items.push((first, range(first, end)));
    }
    if branch {
        for (line, to) in file.missing_arcs() {
            let to_missed = u32::try_from(to).is_ok_and(|to| file.lines.get(&to) == Some(&0));
            if file.executed(line) && !to_missed {
                let to = if to > 0 {
                    to.to_string()
                } else {
                    "exit".into()
                };
                items.push((line, format!("{line}->{to}")));
            }
        }
    }
    items.sort();
    let texts: Vec<String> = items.into_iter().map(|(_, text)| text).collect();
    texts.join(", ")
}

fn range(start: Line, end: Line) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}-{end}")
    }
}
