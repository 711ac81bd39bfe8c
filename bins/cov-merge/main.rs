//! cov-merge: N coverage reports in, one exact merged report out.

mod cli;

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use clap::Parser;
use shared::coverage::merge::{map_report, matching_rule, merge};
use shared::coverage::model::{Numbers, display_covered, fail_under_precision, fails_under};
use shared::coverage::{self, Report, cobertura, json, lcov, text};
use shared::exit::{self, ExitContext};

use cli::{Cli, Format};

fn main() -> std::process::ExitCode {
    shared::cli::run("cov-merge", || run(Cli::parse()).exit_code(exit::USAGE))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let threshold = cli.fail_under.as_deref().map(parse_threshold).transpose()?;
    let mut merged: Option<(String, Report)> = None;
    let mut formats = BTreeSet::new();
    let mut unnamed_taken = false;
    let mut rules_used = vec![false; cli.map.len()];
    for path in &cli.files {
        let name = path.display().to_string();
        let (format, report) = coverage::read(path)?;
        formats.insert(format);
        unnamed_taken |= format == coverage::Format::Cobertura && report.branch;
        if report.branch && report.meta.unidentified_branches {
            eprintln!(
                "cov-merge: {name}: branch exits are counted, not named: \
                 merged branch coverage is a lower bound"
            );
        }
        for name in report.files.keys() {
            if let Some(rule) = matching_rule(name, &cli.map) {
                rules_used[rule] = true;
            }
        }
        let report = map_report(report, &cli.map)
            .with_context(|| format!("{name}: files the --map rules make one"))?;
        merged = Some(match merged {
            None => (name, report),
            Some((first, mut into)) => {
                merge(&mut into, report, (&first, &name))?;
                (first, into)
            }
        });
    }
    // coverage.py's JSON often holds relative paths already: a rule for
    // container paths then changes nothing, silently.
    for (rule, _) in cli.map.iter().zip(&rules_used).filter(|(_, used)| !**used) {
        eprintln!(
            "cov-merge: warning: --map {}={} matched no file in the inputs",
            rule.from, rule.to
        );
    }
    let (_, mut report) = merged.context("no input")?;
    if let Some(precision) = cli.precision {
        report.meta.precision = precision.into();
    }
    let cwd = std::env::current_dir().context("cannot find the current folder")?;
    coverage::docstrings::settle(&mut report, &cwd);

    let format = cli
        .format
        .unwrap_or(match formats.into_iter().collect::<Vec<_>>()[..] {
            [coverage::Format::Cobertura] => Format::Cobertura,
            [coverage::Format::Lcov] => Format::Lcov,
            _ => Format::Json,
        });
    if format == Format::Json && unnamed_taken {
        eprintln!(
            "cov-merge: Cobertura names missed branch exits only: \
             executed_branches lists the taken exits other inputs named"
        );
    }
    let mut out = shared::io::Output::create(cli.output.as_deref())?;
    match format {
        Format::Json => json::write(&report, &mut out)?,
        Format::Cobertura => {
            let layout = cobertura::Layout {
                cwd: &cwd,
                sources: &cli.source,
            };
            cobertura::write(&report, &layout, &mut out)?
        }
        Format::Lcov => lcov::write(&report, &mut out)?,
        Format::Text => text::write(&report, &mut out)?,
    }
    out.commit()?;

    let Some((fail_under, threshold_text)) = threshold else {
        return Ok(exit::SUCCESS);
    };
    let mut total = Numbers {
        precision: report.meta.precision,
        ..Numbers::default()
    };
    for (name, file) in &report.files {
        let numbers = file
            .numbers(report.meta.precision)
            .with_context(|| format!("the numbers of {name}"))?;
        total.add(&numbers).context("the total of all files")?;
    }
    let pc = if total.n_statements > 0 {
        total.pc_covered()
    } else {
        0.0
    };
    if fails_under(pc, fail_under, &threshold_text, total.precision) {
        let places = fail_under_precision(&threshold_text, total.precision);
        let shown = if fail_under == 100.0 {
            display_covered(pc, places)
        } else {
            format!("{pc:.places$}")
        };
        eprintln!("cov-merge: total of {shown} is less than fail-under={fail_under:.places$}");
        return Ok(exit::FAILURES);
    }
    Ok(exit::SUCCESS)
}

/// `--fail-under PCT`: a number from 0 to 100, kept as written for its decimals.
fn parse_threshold(text: &str) -> anyhow::Result<(f64, String)> {
    let value: f64 = text
        .parse()
        .with_context(|| format!("--fail-under {text:?} is not a number"))?;
    if !(0.0..=100.0).contains(&value) {
        bail!("--fail-under {text} is not between 0 and 100");
    }
    Ok((value, text.to_string()))
}
