//! Flaky tests, end to end: `stack-run --rerun-failed` runs a failed shard's
//! failed tests again in a fresh stack, and junit-merge marks the ones that
//! passed the second time flaky (Surefire's `flakyFailure`), counts adjusted,
//! while a test that failed twice stays failed.
//!
//! The suite is `tests/fixtures/stack-run/flaky`: real pytest, a real Redis.
//! `test_expects_an_empty_cache` fails after `test_fills_the_cache` ran in
//! the same stack, and passes alone in a fresh one; `test_always_broken`
//! always fails. The reports under `tests/fixtures/stack-report/out` come
//! from such a run (see the README there).

use std::path::Path;

use shared::junit::model::{Case, Counts};
use shared::junit::read::{Event, Reader};
use shared::results::{ShardResult, Status};

use crate::util::{Dir, Swept, docker_lock, fixture, local_images, tool};

const FLAKY: &str = "test_expects_an_empty_cache";
const BROKEN: &str = "test_always_broken";

/// A merged report: its totals, every case, and each case's child elements.
struct Merged {
    totals: Counts,
    cases: Vec<(Case, Vec<String>)>,
    suite_failures: Vec<String>,
}

fn read_merged(path: &Path) -> Merged {
    let mut reader = Reader::open(path, "merged").unwrap();
    let mut cases = Vec::new();
    let mut children = Vec::new();
    let mut suite_failures = Vec::new();
    while let Some(event) = reader.next_event().unwrap() {
        match event {
            Event::Xml {
                event: shared::xml::Event::Start(e) | shared::xml::Event::Empty(e),
                ..
            } => match e.local_name() {
                "testsuite" => suite_failures.push(e.get("failures").unwrap().to_string()),
                "testcase" => children.clear(),
                other => children.push(other.to_string()),
            },
            Event::Case(case) => cases.push((case, std::mem::take(&mut children))),
            _ => {}
        }
    }
    Merged {
        totals: reader.totals(),
        cases,
        suite_failures,
    }
}

impl Merged {
    fn case(&self, name: &str) -> &(Case, Vec<String>) {
        self.cases.iter().find(|(c, _)| c.name == name).unwrap()
    }
}

/// What both tests below check of a merge of the fixture suite's reports.
fn assert_marked(merged: &Merged, tests: u64) {
    assert_eq!(
        (
            merged.totals.tests,
            merged.totals.failures,
            merged.totals.errors
        ),
        (tests, 1, 0),
        "only the test that failed twice counts as failed"
    );
    let (flaky, children) = merged.case(FLAKY);
    assert!(flaky.flaky && !flaky.failure, "{flaky:?}");
    assert_eq!(children, &["flakyFailure", "stackTrace"]);
    let (broken, children) = merged.case(BROKEN);
    assert!(broken.failure && !broken.flaky, "{broken:?}");
    assert_eq!(children, &["failure", "rerunFailure", "stackTrace"]);
    let flaky_ones: Vec<&str> = merged
        .cases
        .iter()
        .filter(|(c, _)| c.flaky)
        .map(|(c, _)| c.name.as_str())
        .collect();
    assert_eq!(flaky_ones, [FLAKY], "exactly one test is flaky");
}

#[test]
fn junit_merge_marks_tests_that_passed_on_a_rerun_flaky() {
    let dir = Dir::new();
    let out = dir.join("unit.xml");
    let outcome = tool("junit-merge")
        .arg("--expect")
        .arg(fixture("stack-report/plan.tsv"))
        .arg("-o")
        .arg(&out)
        .arg(fixture("stack-report/out"))
        .succeeds();
    assert!(
        outcome
            .stderr
            .contains("1 test(s) failed and then passed on a rerun; marked flaky"),
        "{}",
        outcome.stderr
    );
    let merged = read_merged(&out);
    assert_marked(&merged, 9);
    // The shard's suite drops its flaky failure; the rerun is not a suite.
    let mut suites = merged.suite_failures.clone();
    suites.sort();
    assert_eq!(suites, ["0", "0", "0", "1"]);
    let text = std::fs::read_to_string(&out).unwrap();
    // stack-report's fixture is this very merge.
    assert_eq!(
        text,
        std::fs::read_to_string(fixture("stack-report/unit.xml")).unwrap()
    );
    assert!(text.contains("<flakyFailure message=\"AssertionError: the cache is not empty&#10;"));
    assert!(text.contains("tests/test_cache.py:20: AssertionError</stackTrace></flakyFailure>"));
}

#[test]
fn without_rerun_reports_failures_stay_failures() {
    let dir = Dir::new();
    let out = dir.join("unit.xml");
    tool("junit-merge")
        .arg("-o")
        .arg(&out)
        .arg(fixture("stack-report/out/shard-1/junit.xml"))
        .succeeds();
    let merged = read_merged(&out);
    assert_eq!((merged.totals.tests, merged.totals.failures), (3, 2));
    assert!(merged.cases.iter().all(|(c, _)| !c.flaky));
}

#[test]
fn stack_run_reruns_failed_tests_in_a_fresh_stack() {
    let _lock = docker_lock();
    let prefix = format!("flaky-{}", std::process::id());
    let _swept = Swept(prefix.clone());
    let dir = Dir::new();
    let plan = "1\ttests/test_cache.py::test_fills_the_cache\n\
                1\ttests/test_cache.py::test_expects_an_empty_cache\n\
                1\ttests/test_cache.py::test_always_broken\n\
                2\ttests/test_pricing.py::test_price_rounds_to_cents[100]\n";
    let plan_path = dir.write("plan.tsv", plan);
    let out = dir.join("out");
    let mut run = tool("stack-run")
        .arg("-f")
        .arg(fixture("stack-run/flaky/docker-compose.yml"))
        .args(["-s", "app", "--prefix", &prefix, "--rerun-failed", "-o"])
        .arg(&out)
        .arg("--plan")
        .arg(&plan_path)
        .args(["--", "pytest", "@{tests}", "--junit-xml={out}/junit.xml"]);
    for (key, value) in local_images() {
        run = run.env(&key, value);
    }
    // test_always_broken fails in the rerun too: the run has failures.
    let outcome = run.run().code(1);
    let mut results: Vec<ShardResult> = outcome
        .stdout
        .lines()
        .map(|line| ShardResult::from_json(line).unwrap())
        .collect();
    results.sort_by_key(|r| r.shard);
    assert_eq!(results[1].first.status, Status::Passed);
    assert_eq!(results[1].rerun, None, "a passed shard is not rerun");
    assert_eq!(results[0].first.status, Status::Failed);
    let rerun = results[0].rerun.as_ref().expect("shard 1 was rerun");
    assert_eq!((rerun.test_count, rerun.status), (2, Status::Failed));
    assert_eq!(rerun.exit_code, Some(1));
    assert_ne!(rerun.project, results[0].first.project, "a fresh stack");
    assert!(results.iter().all(|r| r.started_seconds.is_some()));
    assert_eq!(
        dir.read("out/shard-1/rerun/tests.txt"),
        "tests/test_cache.py::test_expects_an_empty_cache\n\
         tests/test_cache.py::test_always_broken\n"
    );

    let merged_path = dir.join("unit.xml");
    tool("junit-merge")
        .arg("--expect")
        .arg(&plan_path)
        .arg("-o")
        .arg(&merged_path)
        .arg(&out)
        .succeeds();
    assert_marked(&read_merged(&merged_path), 4);
}
