//! The Markdown summary: what a reviewer wants first, as GitHub and GitLab
//! render it (`$GITHUB_STEP_SUMMARY`, a merge request comment).

use std::fmt::Write;
use std::time::Duration;

use shared::results::{Attempt, SeedResult, ShardResult, Status};

use crate::cases::{Report, TestCase};
use crate::setup::Setups;

/// At most this many failed or flaky tests are listed; the rest are counted.
const LISTED: usize = 50;

/// What stack-run's results say: the shards' lines (when given) and the seeds'.
pub struct Runs<'a> {
    pub results: Option<&'a [ShardResult]>,
    pub seeds: &'a [SeedResult],
}

/// A seeded shard's session setup above this is a database made again, not reused.
const SEED_MISSED_SECONDS: f64 = 5.0;

pub fn summary(runs: Runs, junit: Option<&Report>, slowest: usize, setups: &Setups) -> String {
    let results = runs.results;
    let mut out = String::from("## Test results\n\n");
    if let Some(report) = junit {
        totals(&mut out, report);
    }
    if let Some(results) = results {
        run_line(&mut out, results, runs.seeds);
    }
    if let Some(warning) = seed_not_used(runs.seeds, setups) {
        let _ = writeln!(out, "\n⚠️ {warning}");
    }
    if let Some(report) = junit {
        let failed: Vec<&TestCase> = report
            .cases
            .iter()
            .filter(|c| c.outcome.is_failure())
            .collect();
        let flaky: Vec<&TestCase> = report
            .cases
            .iter()
            .filter(|c| c.passed_on_rerun())
            .collect();
        if !failed.is_empty() {
            let _ = write!(
                out,
                "\n### Failed tests ({})\n\n| test | where | message |\n| --- | --- | --- |\n",
                failed.len()
            );
            for case in failed.iter().take(LISTED) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    code(&case.id()),
                    case.location.as_deref().map(code).unwrap_or_default(),
                    text(case.message.as_deref().unwrap_or_default())
                );
            }
            more(&mut out, failed.len());
        }
        if !flaky.is_empty() {
            let _ = write!(
                out,
                "\n### Flaky tests ({})\n\nFailed, then passed when run again in a fresh stack.\n\n\
                 | test | first attempt |\n| --- | --- |\n",
                flaky.len()
            );
            for case in flaky.iter().take(LISTED) {
                let _ = writeln!(
                    out,
                    "| {} | {} |",
                    code(&case.id()),
                    text(case.message.as_deref().unwrap_or_default())
                );
            }
            more(&mut out, flaky.len());
        }
        slowest_tests(&mut out, report, slowest, setups);
    }
    if let Some(results) = results {
        shards(&mut out, results, setups);
    }
    out
}

/// The totals: test cases by outcome, and a line when the report's own
/// counts say otherwise (pytest counts each subtest in them), so the two
/// numbers a reader may see are both explained.
fn totals(out: &mut String, report: &Report) {
    let t = &report.tally;
    let flaky = report.cases.iter().filter(|c| c.passed_on_rerun()).count();
    let _ = write!(
        out,
        "| tests | passed | failed | errors | skipped | flaky | time in tests |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | {} | {} | {} | {} | {} | {flaky} | {} |\n",
        t.tests(),
        t.passed,
        t.failed,
        t.errors,
        t.skipped,
        seconds(report.totals.time.as_secs_f64())
    );
    if t.disagreement(&report.totals).is_some() {
        let c = &report.totals;
        let _ = writeln!(
            out,
            "\nCounted from the {} test cases. The report's own counts say {} tests, \
             {} failures, {} errors, {} skipped: pytest, for one, counts every subtest there, \
             and both errors of a test whose setup and teardown broke.",
            t.tests(),
            c.tests,
            c.failures,
            c.errors,
            c.skipped
        );
    }
}

/// One sentence on the seed, if the run made or found one: its key, how it
/// ended, how long it took. Several CI nodes each seed (or find the seed):
/// one sentence each.
fn seed_lines(out: &mut String, seeds: &[SeedResult]) {
    for seed in seeds {
        let key = seed.seed.as_deref().map(code).unwrap_or_else(|| "–".into());
        let what = match (seed.status, seed.reused) {
            (Status::Passed, true) => "found under its key (made by an earlier run)",
            (Status::Passed, false) => "made",
            (Status::Interrupted, _) => "interrupted",
            (Status::Timeout, _) => "timed out",
            _ => "failed",
        };
        let why = seed
            .message
            .as_deref()
            .map(|m| format!(": {}", text(m)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\nSeed {key}: {} {what} in {}{why}.",
            icon(seed.status),
            seconds(seed.seconds)
        );
    }
}

/// Seeded, yet a shard spent seconds in its session setup: the database
/// it was to reuse was made again (xdist's `test_NAME_gw0` in the seed, a
/// missing `--reuse-db` in the shards), and the seed was time lost.
pub fn seed_not_used(seeds: &[SeedResult], setups: &Setups) -> Option<String> {
    if !seeds.iter().any(|seed| seed.status == Status::Passed) {
        return None;
    }
    let slow: Vec<String> = setups
        .by_shard
        .iter()
        .filter(|&(_, &setup)| setup >= SEED_MISSED_SECONDS)
        .map(|(shard, &setup)| format!("shard {shard} {}", seconds(setup)))
        .collect();
    if slow.is_empty() {
        return None;
    }
    Some(format!(
        "the run was seeded, yet {} of its shards spent seconds in session setup ({}): \
         they made their database again instead of reusing the seed's. Check that the \
         seed command and the shards' command name the same database: both with \
         `--reuse-db`, both without pytest-xdist (`-p no:xdist`: under xdist the seed \
         makes `test_NAME_gw0`).",
        slow.len(),
        slow.join(", ")
    ))
}

/// One sentence on the run: shards, wall time, how they ended; with a
/// seed, the sentence on it first and the time from its start too.
fn run_line(out: &mut String, results: &[ShardResult], seeds: &[SeedResult]) {
    seed_lines(out, seeds);
    let start = results
        .iter()
        .map(|r| r.started_seconds.unwrap_or(0.0))
        .fold(f64::INFINITY, f64::min);
    let end = results
        .iter()
        .map(|r| r.started_seconds.unwrap_or(0.0) + busy(r))
        .fold(0.0, f64::max);
    let mut ended: Vec<String> = Vec::new();
    for status in Status::ALL {
        let n = results
            .iter()
            .filter(|r| r.final_status() == status)
            .count();
        if n > 0 {
            ended.push(format!("{n} {status}"));
        }
    }
    let mut stacks: Vec<u32> = results.iter().filter_map(|r| r.stack).collect();
    stacks.sort();
    stacks.dedup();
    let what = match (stacks.len(), results.len()) {
        (0, 1) => "1 shard".to_string(),
        (0, n) => format!("{n} shards"),
        (k, n) => format!(
            "{n} batch{} on {k} stack{}",
            if n == 1 { "" } else { "es" },
            if k == 1 { "" } else { "s" }
        ),
    };
    let seeded = seeds
        .iter()
        .map(|seed| seed.started_seconds)
        .reduce(f64::min);
    let with_seed = match seeded {
        Some(seeded) => format!(
            "; {} from the seed's start",
            seconds((end - seeded.min(end)).max(0.0))
        ),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "\n{what} in {} from the first start-up to the last teardown{with_seed}: {}.",
        seconds((end - start.min(end)).max(0.0)),
        ended.join(", ")
    );
}

/// The slowest tests by their own time: a first test's session setup is
/// its shard's, not its own.
fn slowest_tests(out: &mut String, report: &Report, count: usize, setups: &Setups) {
    let mut cases: Vec<(String, Duration)> = report
        .cases
        .iter()
        .map(|case| {
            let id = case.id();
            let setup = setups.by_test.get(&id).copied().unwrap_or(0.0);
            let own = case.time.saturating_sub(Duration::from_secs_f64(setup));
            (id, own)
        })
        .collect();
    // Slowest first; ties in name order, so the list is the same every time.
    cases.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    cases.truncate(count);
    if cases.is_empty() {
        return;
    }
    out.push_str("\n### Slowest tests\n\n| test | time |\n| --- | ---: |\n");
    for (id, time) in cases {
        let _ = writeln!(out, "| {} | {} |", code(&id), duration(time));
    }
}

/// A row per shard; per batch, with the stack that ran it, for `--stacks`
/// runs. When a session setup was found, a column says how much of the
/// tests' run it took.
fn shards(out: &mut String, results: &[ShardResult], setups: &Setups) {
    let batches = results.iter().any(|r| r.stack.is_some());
    let with_setup = setups.by_shard.values().any(|&s| s > 0.0);
    let (setup_head, setup_rule) = if with_setup {
        (" session setup |", " ---: |")
    } else {
        ("", "")
    };
    let _ = write!(
        out,
        "{}{setup_head} tests run | teardown | rerun |\n{}{setup_rule} ---: | ---: | --- |\n",
        if batches {
            "\n### Batches\n\n| batch | stack | status | tests | start-up |"
        } else {
            "\n### Shards\n\n| shard | status | tests | start-up |"
        },
        if batches {
            "| ---: | ---: | --- | ---: | ---: |"
        } else {
            "| ---: | --- | ---: | ---: |"
        },
    );
    for r in results {
        let rerun = r.rerun.as_ref().map_or(String::new(), |rerun| {
            format!(
                "{} {} test{} in {}",
                icon(rerun.status),
                rerun.test_count,
                if rerun.test_count == 1 { "" } else { "s" },
                seconds(rerun.total_seconds())
            )
        });
        let first = &r.first;
        let mut status = format!("{} {}", icon(first.status), first.status);
        if let Some(message) = &first.message {
            status.push_str(": ");
            status.push_str(&text(message));
        }
        let stack = match (batches, r.stack) {
            (false, _) => String::new(),
            (true, Some(stack)) => format!(" {stack} |"),
            (true, None) => " – |".to_string(),
        };
        let setup = match setups.by_shard.get(&r.shard) {
            _ if !with_setup => String::new(),
            Some(&setup) => format!(" {} |", seconds(setup)),
            None => " – |".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} |{stack} {status} | {} | {} |{setup} {} | {} | {rerun} |",
            r.shard,
            first.test_count,
            seconds(first.up_seconds),
            seconds(first.run_seconds),
            seconds(first.down_seconds)
        );
    }
}

/// How long a shard kept its worker: its stack, and its rerun's.
pub fn busy(r: &ShardResult) -> f64 {
    let rerun = r.rerun.as_ref().map_or(0.0, Attempt::total_seconds);
    r.first.total_seconds() + rerun
}

fn icon(status: Status) -> &'static str {
    match status {
        Status::Passed => "✅",
        Status::Failed => "❌",
        Status::Error => "💥",
        Status::Timeout => "⏱️",
        Status::Interrupted => "⏹️",
    }
}

fn more(out: &mut String, count: usize) {
    if count > LISTED {
        let _ = writeln!(out, "\n… and {} more.", count - LISTED);
    }
}

/// Seconds as people read them: `8.2 s`, `3 min 42 s`.
pub fn seconds(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let whole = s.round() as u64;
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

fn duration(time: Duration) -> String {
    format!("{:.2} s", time.as_secs_f64())
}

/// A test id or path in a table cell, as code.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'").replace('|', "\\|"))
}

/// Free text in a table cell: one line, no markup, not too long.
fn text(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = line.chars().take(160).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_stay_in_their_cell() {
        assert_eq!(text("a |\n <b>  `x`"), "a \\| &lt;b&gt; 'x'");
        assert_eq!(code("t[a|b]"), "`t[a\\|b]`");
        assert_eq!(seconds(8.24), "8.2 s");
        assert_eq!(seconds(222.0), "3 min 42 s");
    }
}
