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
use shared::results::ShardResult;

use crate::cli::{Cli, Format};

fn main() -> std::process::ExitCode {
    shared::cli::run("stack-report", || run(Cli::parse()).exit_code(exit::USAGE))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let results = cli.results.as_deref().map(read_results).transpose()?;
    let report = match cli.format {
        Format::Svg => {
            let Some(results) = &results else {
                bail!("--format svg needs --results");
            };
            svg::timeline(results)
        }
        Format::Outputs => {
            let junit = cli.junit.as_deref().map(cases::Report::read).transpose()?;
            outputs::lines(results.as_deref(), junit.as_ref())
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
            markdown::summary(results.as_deref(), junit.as_ref(), cli.slowest, &setups)
        }
    };
    let mut output = Output::create(cli.output.as_deref())?;
    output.write_all(report.as_bytes())?;
    output.commit()?;
    Ok(exit::SUCCESS)
}

/// stack-run's result lines, sorted by shard; blank lines skipped.
fn read_results(path: &std::path::Path) -> anyhow::Result<Vec<ShardResult>> {
    let input = shared::io::open(path)?;
    let mut results = Vec::new();
    for line in shared::io::Lines::new(&input.name, input.reader) {
        let (number, line) = line?;
        if line.trim().is_empty() {
            continue;
        }
        let result = ShardResult::from_json(&line)
            .with_context(|| format!("{}:{number}: bad result line", input.name))?;
        results.push(result);
    }
    results.sort_by_key(|result| result.shard);
    Ok(results)
}
