//! The command line of junit-merge.

use std::path::PathBuf;

use clap::Parser;
use shared::exit;
use shared::help::{Example, after_help};

/// Merge JUnit XML reports into one.
///
/// Reads the reports every common tool writes (pytest, Maven Surefire,
/// Gradle, jest, mocha, go-junit-report, Bazel, PHPUnit and others), in any
/// encoding, and writes one <testsuites> document on stdout: every input
/// suite kept whole, with the root's tests, failures, errors, skipped and
/// time the sums of the inputs' top-level suites. A dashboard reading the
/// result sees the same tests, outcomes, counts and duration as reading all
/// the inputs. The output does not depend on the order of the inputs.
/// An input whose counts disagree with its test cases (pytest 9 counts
/// every passing subtest in tests) is kept as it is, with a note on stderr
/// giving both.
///
/// Inputs stream through twice (once to check and add up, once to copy), so
/// memory stays small however large they are; what comes through a pipe
/// (stdin, <(...), a FIFO) is saved to a temporary file first, up to 1 GiB,
/// and a device (/dev/zero, a terminal) is refused. A malformed input, one
/// that is not JUnit, one with a DTD or entity declarations, or counts and
/// times that add up past what can be counted stop the merge before
/// anything is written.
///
/// Reports in a folder named rerun (stack-run --rerun-failed writes them to
/// OUT/shard-K/rerun) are second attempts, not more tests: a test that failed
/// and then passed there is written as passed, its <failure> (or <error>)
/// turned into Surefire's <flakyFailure> (<flakyError>) with the message and
/// text in <stackTrace>, and the failure and error counts lowered to match;
/// a test that failed again stays failed and gains a <rerunFailure>
/// (<rerunError>) with the second attempt's message and text.
#[derive(Parser, Debug)]
#[command(name = "junit-merge", version, after_long_help = after_help(EXAMPLES, EXIT_STATUS))]
pub struct Cli {
    /// JUnit XML files, folders to search for *.xml files (other XML found
    /// there, such as a coverage.xml, is skipped with a note), or - for stdin.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub inputs: Vec<PathBuf>,

    /// Write the merged report to FILE, replacing it only once complete.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Add an error test case for every test in PLAN that no input has a
    /// result for, naming the shard it was planned for. PLAN holds
    /// SHARD<TAB>TEST_ID lines (shard-plan's output) or bare pytest node ids.
    /// How many were missing is also printed on stderr.
    #[arg(long, value_name = "PLAN")]
    pub expect: Option<PathBuf>,
}

pub const EXAMPLES: &[Example] = &[
    Example {
        about: "Merge the reports of every shard into one file",
        command: "junit-merge -o unit.xml reports/",
    },
    Example {
        about: "Merge, and report every planned test that produced no result as an error",
        command: "junit-merge --expect .shardstack/plan.tsv reports/*/junit.xml > unit.xml",
    },
    Example {
        about: "Add a report that arrives on stdin to one on disk",
        command: "ssh ci-runner cat junit.xml | junit-merge - local.xml > unit.xml",
    },
];

pub const EXIT_STATUS: &[(i32, &str)] = &[
    (
        exit::SUCCESS,
        "merged; failing tests in the inputs, and planned tests with no result \
         (recorded as errors in the output with --expect), do not change the status",
    ),
    (
        exit::USAGE,
        "usage or input error: a missing file, malformed XML, a root that is not JUnit, \
         a DTD; nothing is written",
    ),
];
