//! The command line of cov-merge.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use shared::coverage::merge::PathMap;
use shared::coverage::model::MAX_PRECISION;
use shared::exit;
use shared::help::{Example, after_help};

/// Merge the coverage reports of test shards into one, as `coverage combine` would.
///
/// Reads coverage.py JSON reports (`coverage json`, format 1 to 3), Cobertura
/// XML (`coverage xml` or other tools) and LCOV tracefiles, telling them apart
/// by content, and writes one merged report on stdout. A line ran if it ran in
/// any shard; a branch exit was missed only if every shard missed it. For
/// coverage.py inputs the result equals what `coverage combine` followed by
/// `coverage json`, `coverage xml`, `coverage lcov` or `coverage report -m`
/// prints for the same shards: the same lines, branches, totals and
/// percentages. Inputs that count branch exits without naming them (most
/// non-Python Cobertura and LCOV writers, coverage.py JSON before 6.5) merge
/// to a lower bound, said on stderr. The output is the same whatever the
/// order of the inputs; it carries the newest input's timestamp.
///
/// Cobertura output names files as `coverage xml` does: relative to the
/// current folder (listed in `<sources>`), or to a `--source` folder.
/// Run cov-merge where the sources are: coverage.py JSON before 7.13.1 lists
/// docstrings among executed lines, and the source tells which they are.
#[derive(Parser, Debug)]
#[command(name = "cov-merge", version, after_long_help = after_help(EXAMPLES, EXIT_STATUS))]
pub struct Cli {
    /// Coverage reports to merge (`-` reads stdin)
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Output format [default: the inputs' format when they share one, else json]
    #[arg(short, long, value_enum)]
    pub format: Option<Format>,

    /// Rewrite file paths starting with FROM to start with TO (repeatable; first match wins;
    /// a rule that matches no file of any input is named on stderr)
    #[arg(long, value_name = "FROM=TO")]
    pub map: Vec<PathMap>,

    /// Write to FILE (replaced only when the merge succeeded) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Exit with status 1 when total coverage is below PCT, as coverage.py's --fail-under
    #[arg(long, value_name = "PCT")]
    pub fail_under: Option<String>,

    /// Decimal places of displayed percentages, up to 100 [default: as the inputs show them, else 0]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=MAX_PRECISION as i64))]
    pub precision: Option<u8>,

    /// For Cobertura output: name files relative to DIR, as coverage.py's `source` setting (repeatable)
    #[arg(long, value_name = "DIR")]
    pub source: Vec<String>,
}

/// The formats cov-merge writes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Cobertura XML, as `coverage xml`
    Cobertura,
    /// coverage.py JSON, as `coverage json`
    Json,
    /// LCOV tracefile, as `coverage lcov`
    Lcov,
    /// The table of `coverage report --show-missing`
    Text,
}

pub const EXAMPLES: &[Example] = &[
    Example {
        about: "Merge the JSON reports of four shards that ran in containers under /code into one coverage.xml",
        command: "cov-merge --map /code=. --format cobertura -o coverage.xml reports/*/coverage.json",
    },
    Example {
        about: "Show the merged coverage table and fail below 90 %",
        command: "cov-merge --format text --fail-under 90 reports/*/coverage.json",
    },
    Example {
        about: "Merge coverage.py Cobertura files of a CI matrix (exact: missing-branches names the exits)",
        command: "cov-merge -f cobertura node-*/coverage.xml > coverage.xml",
    },
    Example {
        about: "Merge LCOV tracefiles",
        command: "cov-merge -f lcov shard-1.info shard-2.info > merged.info",
    },
];

pub const EXIT_STATUS: &[(i32, &str)] = &[
    (exit::SUCCESS, "merged"),
    (
        exit::FAILURES,
        "merged and written, but total coverage is below --fail-under",
    ),
    (
        exit::USAGE,
        "usage or input error: unreadable or malformed report (file and position named), \
         branch data mixed with statement-only data; nothing is written",
    ),
];
