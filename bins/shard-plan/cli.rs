//! The command line of shard-plan.

use std::path::PathBuf;
use std::str::FromStr;

use clap::Parser;
use shared::exit;
use shared::help::{Example, after_help};
use shared::planner::{DEFAULT_MIN_BATCH, GroupBy};

/// Split a test suite into shards that take about as long as each other.
///
/// Reads test ids, one a line, as `pytest --collect-only -q` prints them
/// (blank lines and pytest's footer are skipped; a repeated id is planned
/// once, with a warning), and writes the plan: `SHARD<TAB>TEST_ID` lines,
/// shards numbered from 1, grouped by shard, collection order inside a shard.
///
/// Units (tests, or classes or files with --group-by) are dealt out longest
/// first onto the least loaded shard, then moved or swapped between the
/// longest and the shortest shard while that shortens the longest. Ties go
/// by id, so the plan does not depend on the input order: every CI node
/// computes the same plan on its own.
///
/// Durations come from --durations files. A test never recorded is estimated
/// from its neighbours: the median of the other parametrizations of its
/// function, else of its class, else of its file, else of all known tests,
/// else 1 second. No shard is ever empty.
///
/// --batches cuts the suite for a queue instead: batches longest first,
/// shrinking towards the end, for `stack-run --stacks N` to hand to whichever
/// stack is free. The plan keeps its format, the batch number first.
///
/// --save-durations closes the loop: after a run, read the old durations and
/// the shards' JUnit reports, and save what the next plan should use.
///
/// Session setup (pytest-django's test database, a browser: a session
/// fixture) is charged by pytest to the first test that needs it. In a JUnit
/// report the first case of each suite ran first in its session: it keeps
/// the duration its siblings suggest when it took a second or more beyond
/// that, and the rest is the session's setup, saved under the key
/// `<session setup>::shard-K` (K from the report's `shard-K` folder, else the
/// session's number in the order read; pytest-split ignores such keys) and
/// shown by --summary. A report in a `shard-K` folder, or one holding
/// several suites (a merge of sessions), names every session's first test,
/// so no other test of it is ever taken for setup: measured slow tests stay
/// slow. Other durations (someone else's `.test_durations`, TSV, a report
/// of one suite, which `pytest -n` workers share) are searched, among every
/// recorded test, collected or not, for the setup of one CI worker each:
/// tests 20 times above their siblings' median and 5 s more, within a factor
/// 2 of each other (room for ±30% of drift), in at least 3 files, with no
/// other recorded test between a quarter of the smallest and the largest.
/// They are capped at their siblings' median, for the plan and for
/// --save-durations, with a warning naming them. Slow tests of many sizes
/// are a family, not setup, and are left alone.
#[derive(Parser, Debug)]
#[command(name = "shard-plan", version, after_long_help = after_help(EXAMPLES, EXIT_STATUS))]
pub struct Cli {
    /// How many shards: a number, or `auto` for the fewest that meet
    /// --target-seconds. Without it (and with --save-durations) no plan is made.
    #[arg(
        short = 'n',
        long,
        value_name = "N|auto",
        group = "layout",
        required_unless_present_any = ["save_durations", "batches"]
    )]
    pub shards: Option<Shards>,

    /// Batches for a queue instead of shards: `auto` sizes them for --stacks
    /// stacks (each takes 1/(2 x stacks) of what is left, at least
    /// --min-batch seconds; with no durations at all, 4 x stacks batches);
    /// a number gives that many, shrinking in steps.
    #[arg(long, value_name = "N|auto", group = "layout")]
    pub batches: Option<Shards>,

    /// With --batches: how many stacks will take batches at once (`auto`
    /// sizes the batches for them; --summary predicts when they finish).
    #[arg(long, value_name = "N", requires = "batches", value_parser = clap::value_parser!(u32).range(1..))]
    pub stacks: Option<u32>,

    /// With `--batches auto`: the shortest batch worth its start (a fresh
    /// test-runner process, its database connections) in seconds.
    #[arg(long, value_name = "SECONDS", requires = "batches", default_value_t = DEFAULT_MIN_BATCH)]
    pub min_batch: f64,

    /// Recorded durations: pytest-split's `.test_durations` JSON, JUnit XML
    /// of an earlier run (with or without `file` attributes), or
    /// `TEST_ID<TAB>SECONDS` lines; told apart by content. Repeat to combine:
    /// a test recorded in several files takes its value from the last. A
    /// file with durations for under a tenth of what it could match (the
    /// collected tests, or its own values if fewer) is a warning showing
    /// its first id and the first collected one: a rootdir or path prefix
    /// that differs would plan every test blind.
    #[arg(short, long, value_name = "FILE")]
    pub durations: Vec<PathBuf>,

    /// What must run in one shard.
    #[arg(short, long, value_enum, value_name = "UNIT", default_value_t = GroupBy::Test)]
    pub group_by: GroupBy,

    /// Print only shard K's test ids, bare, one a line: a file for `pytest @FILE`.
    #[arg(long, value_name = "K", requires = "layout")]
    pub shard: Option<u32>,

    /// With `--shards auto`: the longest a shard may be predicted to take.
    /// When no shard count up to --max-shards meets it, the plan takes the
    /// most shards allowed and says so on stderr.
    #[arg(long, value_name = "SECONDS", required_if_eq("shards", "auto"))]
    pub target_seconds: Option<f64>,

    /// With `--shards auto`: never more shards than this (default: one per unit).
    #[arg(long, value_name = "M", requires = "target_seconds")]
    pub max_shards: Option<u32>,

    /// Print each shard's predicted seconds and test count (and its session
    /// setup, when recorded), the balance, and how many durations were
    /// estimated or unused (recorded for tests not among the collected
    /// ones), to stderr.
    #[arg(short, long, requires = "layout")]
    pub summary: bool,

    /// Write the plan to FILE (replaced only when complete) instead of stdout.
    #[arg(short, long, value_name = "FILE", requires = "layout")]
    pub output: Option<PathBuf>,

    /// Save the durations read, as pytest-split's `.test_durations` (a JSON
    /// object sorted by id), for the next plan: every test with a recorded
    /// duration, the last --durations file winning, whether collected this
    /// time or not (as pytest-split keeps them: a run of part of the suite
    /// loses nothing). Estimates are left out; so are JUnit cases without a
    /// `file` attribute that match no collected test (they have no node id).
    /// Says on stderr how many were kept. FILE is replaced only when
    /// complete, so it may also be one of the --durations files.
    #[arg(long, value_name = "FILE")]
    pub save_durations: Option<PathBuf>,

    /// With --save-durations: save only the collected tests' durations,
    /// dropping those of tests not collected this time (removed or renamed
    /// tests, or the rest of the suite when only part of it was collected).
    #[arg(long, requires = "save_durations")]
    pub prune_durations: bool,

    /// The test ids; `-` is stdin.
    #[arg(value_name = "TESTS", default_value = "-")]
    pub tests: PathBuf,
}

/// `--shards` and `--batches`: a count, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shards {
    Count(u32),
    Auto,
}

impl FromStr for Shards {
    type Err = String;

    fn from_str(text: &str) -> Result<Shards, String> {
        match text {
            "auto" => Ok(Shards::Auto),
            _ => match text.parse() {
                Ok(n) if n >= 1 => Ok(Shards::Count(n)),
                _ => Err("expected a whole number from 1 up, or `auto`".into()),
            },
        }
    }
}

pub const EXAMPLES: &[Example] = &[
    Example {
        about: "Plan four shards from the durations pytest-split recorded",
        command: "pytest --collect-only -q > tests.txt\nshard-plan --shards 4 --durations .test_durations < tests.txt > plan.tsv",
    },
    Example {
        about: "Run the second shard of the plan on this CI node (pytest 8.2 or later reads @FILE)",
        command: "shard-plan -n 4 -d .test_durations --shard 2 < tests.txt > shard.txt\npytest @shard.txt",
    },
    Example {
        about: "Balance with the JUnit reports of the last run; keep each file's tests together",
        command: "shard-plan -n 8 -d reports/unit.xml --group-by module --summary < tests.txt > plan.tsv",
    },
    Example {
        about: "The fewest shards, at most 16, that should each finish within five minutes",
        command: "shard-plan --shards auto --target-seconds 300 --max-shards 16 -d .test_durations < tests.txt",
    },
    Example {
        about: "Older durations first, the latest run's last: where both have a test, the latest wins",
        command: "shard-plan -n 4 -d .test_durations -d last-run/unit.xml < tests.txt",
    },
    Example {
        about: "Batches for 4 stacks that pull work from a queue (stack-run --stacks 4)",
        command: "shard-plan --batches auto --stacks 4 -d .test_durations < tests.txt > batches.tsv",
    },
    Example {
        about: "After a run: fold the shards' reports into .test_durations, so the next plan is better",
        command: "shard-plan -d .test_durations -d reports/*/junit.xml --save-durations .test_durations < tests.txt",
    },
];

pub const EXIT_STATUS: &[(i32, &str)] = &[
    (exit::SUCCESS, "the plan (and the durations) were written"),
    (
        exit::USAGE,
        "usage or input error: a bad flag, an unreadable or malformed durations file (named with its line, and column for JSON and XML), durations adding up past 1e9 s (the file and the value named), no test ids, or more shards than units; nothing is written",
    ),
];
