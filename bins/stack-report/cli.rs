//! The command line of stack-report.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use shared::exit;
use shared::help::{Example, after_help};

/// Report on a stack-run: a Markdown summary, an SVG timeline of the shards,
/// or the numbers as KEY=VALUE lines.
///
/// The Markdown summary, fit for $GITHUB_STEP_SUMMARY or a merge request
/// comment, gives the totals (the test cases by outcome; where the report's
/// own counts say otherwise, as pytest's do with subtests, a line and a note
/// on stderr give both), the failed tests with file and line, the flaky
/// tests (failed, then passed on a rerun: see stack-run --rerun-failed and
/// junit-merge), the slowest tests, and each shard's times. It reads
/// stack-run's result lines (--results) and the merged JUnit XML (--junit),
/// and leaves out the sections whose input is not given.
///
/// Session setup: pytest charges a session fixture (pytest-django's test
/// database) to the session's first test. The JUnit reports in each shard's
/// folder (as the results name it, from here or beside the results file)
/// say which test ran first; what it took a second or more beyond its
/// siblings is shown as the shard's session setup (part of its tests' run),
/// and the slowest tests are ranked by their own time.
///
/// The SVG timeline draws one bar per shard on a time axis: start-up, tests and
/// teardown (then the same for a rerun), tests coloured by how the shard ended,
/// and the seed's bar, if any, above them. It is a few kilobytes with no
/// scripts and no external fonts, so it can be embedded anywhere; hovering a
/// bar shows its times.
///
/// The outputs format prints the numbers as KEY=VALUE lines for
/// $GITHUB_OUTPUT (or a GitLab dotenv report): tests, passed, failures,
/// errors, skipped and flaky (test cases, as the summary counts them) from
/// --junit; shards, shards_failed and balance (the longest shard's test time
/// over the mean, two decimals) from --results, and after a seeded run
/// seed_seconds (the seeds' time, one per node) and seed_status (passed or
/// failed).
///
/// Seeded runs (stack-run --seed) have a results line for the seed: the
/// summary says how it ended and how long it took (and the run's time from
/// its start), and the timeline draws it on a row of its own. When a seeded
/// run's shards still spent 5 s or more in session setup, the summary and a
/// warning on stderr say so: their database was made again, the seed unused.
#[derive(Parser, Debug)]
#[command(name = "stack-report", version, after_long_help = after_help(EXAMPLES, EXIT_STATUS))]
pub struct Cli {
    /// stack-run's result lines (one JSON object per shard, and one for the
    /// seed), - for stdin.
    #[arg(long, value_name = "FILE", required_unless_present = "junit")]
    pub results: Option<PathBuf>,

    /// The merged JUnit XML report (junit-merge's output).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// What to write: the Markdown summary, the SVG timeline (which needs
    /// --results), or the numbers as KEY=VALUE lines.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,

    /// How many of the slowest tests the summary lists.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub slowest: usize,

    /// Write the report to FILE, replacing it only once complete.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Svg,
    Outputs,
}

pub const EXAMPLES: &[Example] = &[
    Example {
        about: "Summarize a run in a GitHub Actions job",
        command: "stack-report --results results.jsonl --junit unit.xml >> \"$GITHUB_STEP_SUMMARY\"",
    },
    Example {
        about: "The same numbers as a GitHub Actions step's outputs",
        command: "stack-report --format outputs --results results.jsonl --junit unit.xml >> \"$GITHUB_OUTPUT\"",
    },
    Example {
        about: "Draw the shards' timeline",
        command: "stack-report --results results.jsonl --format svg -o timeline.svg",
    },
    Example {
        about: "Report as the shards finish, straight from stack-run",
        command: "stack-run -s app < plan.tsv -- pytest '@{tests}' | tee results.jsonl | stack-report --results -",
    },
];

pub const EXIT_STATUS: &[(i32, &str)] = &[
    (
        exit::SUCCESS,
        "the report was written, whatever the tests did",
    ),
    (
        exit::USAGE,
        "usage or input error: a missing file, a bad result line, malformed XML; nothing is written",
    ),
];
