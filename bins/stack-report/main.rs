//! stack-report: stack-run's results and the merged JUnit in, a report
//! people look at out (Markdown summary or SVG timeline), or its numbers for a CI.

mod cases;
mod cli;
mod markdown;
mod outputs;
mod setup;
mod svg;

use std::io::Write;

use anyhow::{Context, bail};
use clap::Parser;
use shared::exit::{self, ExitContext};
use shared::io::Output;
use shared::results::{ResultLine, SeedResult, ShardResult};

use crate::cli::{Cli, Format};

fn main() -> std::process::ExitCode {
    shared::cli::run("stack-report", || run(Cli::parse()).exit_code(exit::USAGE))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let read = cli.results.as_deref().map(read_results).transpose()?;
    let (results, seeds) = match read {
        Some((results, seeds)) => (Some(results), seeds),
        None => (None, Vec::new()),
    };
    let report = match cli.format {
        Format::Svg => {
            let Some(results) = &results else {
                bail!("--format svg needs --results");
            };
            svg::timeline(results, &seeds)
        }
        Format::Outputs => {
            let junit = cli.junit.as_deref().map(cases::Report::read).transpose()?;
            outputs::lines(results.as_deref(), &seeds, junit.as_ref())
        }
        Format::Markdown => {
            let junit = cli.junit.as_deref().map(cases::Report::read).transpose()?;
            if let (Some(report), Some(path)) = (&junit, &cli.junit) {
                if let Some(disagreement) = report.tally.disagreement(&report.totals) {
                    eprintln!(
                        "stack-report: note: {}: {disagreement}; the summary counts the test cases",
                        path.display()
                    );
                }
            }
            let setups = results
                .as_deref()
                .map(|results| setup::read(results, cli.results.as_deref()))
                .unwrap_or_default();
            if let Some(warning) = markdown::seed_not_used(&seeds, &setups) {
                eprintln!("stack-report: warning: {warning}");
            }
            let runs = markdown::Runs {
                results: results.as_deref(),
                seeds: &seeds,
            };
            markdown::summary(runs, junit.as_ref(), cli.slowest, &setups)
        }
    };
    let mut output = Output::create(cli.output.as_deref())?;
    output.write_all(report.as_bytes())?;
    output.commit()?;
    Ok(exit::SUCCESS)
}

/// stack-run's result lines: the shards' sorted by shard, and the seeds'
/// (one a stack-run that seeded: one a CI node); blank lines skipped.
fn read_results(path: &std::path::Path) -> anyhow::Result<(Vec<ShardResult>, Vec<SeedResult>)> {
    let input = shared::io::open(path)?;
    let mut results = Vec::new();
    let mut seeds = Vec::new();
    for line in shared::io::Lines::new(&input.name, input.reader) {
        let (number, line) = line?;
        if line.trim().is_empty() {
            continue;
        }
        let read = ResultLine::from_json(&line)
            .with_context(|| format!("{}:{number}: bad result line", input.name))?;
        match read {
            ResultLine::Shard(result) => results.push(result),
            ResultLine::Seed(seed) => seeds.push(seed),
        }
    }
    results.sort_by_key(|result| result.shard);
    Ok((results, seeds))
}
