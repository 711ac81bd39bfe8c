//! The run's numbers as `KEY=VALUE` lines, for a script or a CI to read:
//! appended to `$GITHUB_OUTPUT` they become a step's outputs (the shardstack
//! action's), and GitLab reads the same lines as a dotenv report. The counts
//! are the Markdown summary's, so the two never disagree.

use std::fmt::Write;

use shared::results::{SeedResult, ShardResult, Status};

use crate::cases::Report;

pub fn lines(
    results: Option<&[ShardResult]>,
    seeds: &[SeedResult],
    junit: Option<&Report>,
) -> String {
    let mut out = String::new();
    if let Some(report) = junit {
        let t = &report.tally;
        let flaky = report.cases.iter().filter(|c| c.passed_on_rerun()).count();
        let _ = write!(
            out,
            "tests={}\npassed={}\nfailures={}\nerrors={}\nskipped={}\nflaky={flaky}\n",
            t.tests(),
            t.passed,
            t.failed,
            t.errors,
            t.skipped
        );
    }
    if let Some(results) = results {
        let failed = results
            .iter()
            .filter(|r| r.final_status() != Status::Passed)
            .count();
        let _ = write!(out, "shards={}\nshards_failed={failed}\n", results.len());
        if let Some(balance) = balance(results) {
            let _ = writeln!(out, "balance={balance:.2}");
        }
    }
    // The seeds' time added up (one a CI node), and whether every one is there.
    if !seeds.is_empty() {
        let seconds: f64 = seeds.iter().map(|seed| seed.seconds).sum();
        let failed = seeds.iter().any(|seed| seed.status != Status::Passed);
        let status = if failed { "failed" } else { "passed" };
        let _ = write!(out, "seed_seconds={seconds:.1}\nseed_status={status}\n");
    }
    out
}

/// The longest shard's test run over the mean: 1.00 is a perfect plan. None
/// when no shard spent any time in its tests (nothing to compare).
fn balance(results: &[ShardResult]) -> Option<f64> {
    let runs: Vec<f64> = results.iter().map(|r| r.first.run_seconds).collect();
    let mean = runs.iter().sum::<f64>() / runs.len() as f64;
    let longest = runs.iter().copied().fold(0.0, f64::max);
    (mean > 0.0).then(|| longest / mean)
}
