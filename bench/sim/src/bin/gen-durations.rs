//! Writes a generated suite's `.test_durations` (pytest-split's JSON,
//! sorted by id), so the simulated suite can be looked at, or planned with
//! `shard-plan` itself.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use bench::suite::{Model, Suite};
use clap::Parser;

/// Print a generated Django-like suite's `.test_durations` on stdout, and
/// its shape (quantiles, the slow tail) on stderr.
#[derive(Parser)]
#[command(name = "gen-durations")]
struct Cli {
    /// The suite generated: the same seed gives the same suite.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many tests (the shape stays that of 5,000: 50000 is ten times as
    /// many of each kind).
    #[arg(long, default_value_t = Model::DJANGO.tests)]
    tests: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let suite = Suite::generate(&Model::django(cli.tests), cli.seed);
    let durations: BTreeMap<&str, f64> = suite
        .ids
        .iter()
        .map(String::as_str)
        .zip(suite.seconds.iter().copied())
        .collect();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &durations).context("cannot write stdout")?;
    writeln!(out).context("cannot write stdout")?;
    eprint!("{}", shape(&suite.seconds));
    Ok(())
}

/// Quantiles and the slow tail, as the table in `suite`'s documentation.
fn shape(seconds: &[f64]) -> String {
    let mut sorted = seconds.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |share: f64| sorted[((share * sorted.len() as f64) as usize).min(sorted.len() - 1)];
    let total: f64 = sorted.iter().sum();
    let slow: Vec<f64> = sorted.iter().copied().filter(|&s| s >= 5.0).collect();
    format!(
        "{} tests, {total:.0} s in all; median {:.3} s, p90 {:.3} s, p99 {:.2} s, max {:.1} s; \
         {} tests >= 5 s ({:.2} %) take {:.0} % of the time\n",
        sorted.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        sorted.last().copied().unwrap_or(0.0),
        slow.len(),
        100.0 * slow.len() as f64 / sorted.len() as f64,
        100.0 * slow.iter().sum::<f64>() / total,
    )
}
