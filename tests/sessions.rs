//! `stack-run --stacks N --session` against real Docker, on a small pytest
//! suite (`tests/fixtures/stack-run/sessions`) whose session fixture notes
//! every setup in OUT/setups.txt: batches on fewer stacks, one session each;
//! a container killed under a test, a test calling `os._exit`, a test past
//! `--timeout` and a Ctrl-C, each losing nothing; coverage equal to one
//! sequential run's.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shared::contract::labels;
use shared::results::{ShardResult, Status};

use crate::stack_run::{Stacks, docker, expect_statuses, finish, results, wait_until};
use crate::util::{Dir, bin, docker_lock, fixture, local_images, tool};

const COMPOSE: &str = "stack-run/sessions/docker-compose.yml";

/// The suite's test ids, by their names in tests/test_shop.py.
fn id(name: &str) -> String {
    format!("tests/test_shop.py::{name}")
}

/// The suite's ordinary tests: they pass, and take every branch of shop.py.
fn ordinary() -> Vec<String> {
    let prices = (0..12).map(|q| id(&format!("test_price[{q}]")));
    prices
        .chain([id("test_label"), id("test_label_of_nothing")])
        .collect()
}

/// A plan of `batches`, numbered from 1.
fn plan(batches: &[Vec<String>]) -> String {
    let lines = batches
        .iter()
        .enumerate()
        .flat_map(|(k, ids)| ids.iter().map(move |test| format!("{}\t{test}\n", k + 1)));
    lines.collect()
}

/// `stack-run --session` on `plan`, with `extra` flags, running; the
/// command pytest with a JUnit report and coverage for every batch.
fn spawn(stacks: &Stacks, dir: &Dir, plan: &str, extra: &[&str]) -> Child {
    Command::new(bin("stack-run"))
        .arg("-f")
        .arg(fixture(COMPOSE))
        .args(["-s", "app", "--prefix", &stacks.prefix, "--plan"])
        .arg(dir.write("plan.tsv", plan))
        .arg("-o")
        .arg(stacks.out("out"))
        .args(["--session"])
        .args(extra)
        .args(["--", "pytest", "@{tests}", "--junit-xml={out}/junit.xml"])
        .args([
            "--cov",
            "--cov-branch",
            "--cov-report=json:{out}/coverage.json",
        ])
        .envs(local_images())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The merged report of every batch's, every planned test accounted for.
fn merged(stacks: &Stacks, dir: &Dir) -> String {
    let reports = std::fs::read_dir(stacks.out("out"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("junit.xml"))
        .filter(|path| path.exists());
    let unit = dir.join("unit.xml");
    tool("junit-merge")
        .arg("--expect")
        .arg(dir.join("plan.tsv"))
        .args(reports)
        .arg("-o")
        .arg(&unit)
        .succeeds();
    std::fs::read_to_string(unit).unwrap()
}

/// How many test cases `report` has named `name` (by its JUnit name).
fn cases(report: &str, name: &str) -> usize {
    report.matches(&format!(" name=\"{name}\"")).count()
}

/// The session setups the suite noted: one line each.
fn setups(stacks: &Stacks) -> Vec<String> {
    let text = std::fs::read_to_string(stacks.out("out/setups.txt")).unwrap_or_default();
    text.lines().map(String::from).collect()
}

/// Wait until the suite's test `name` says it runs (OUT/NAME.running).
fn wait_running(stacks: &Stacks, name: &str) {
    let said = stacks.out(&format!("out/{name}.running"));
    wait_until(&format!("{name} running"), || said.exists());
}

fn message(result: &ShardResult) -> &str {
    result.first.message.as_deref().unwrap_or_default()
}

/// What cov-merge makes of `reports`, as text.
fn coverage(reports: &[std::path::PathBuf]) -> String {
    tool("cov-merge")
        .args(["--format", "text"])
        .args(reports)
        .succeeds()
        .stdout
}

#[test]
fn batches_run_in_one_session_per_stack_and_merge_as_one_run() {
    let _lock = docker_lock();
    let stacks = Stacks::new("sessions");
    let dir = Dir::new();
    let mut tests = ordinary();
    tests.extend([id("test_hangs_when_asked"), id("test_exits_when_asked")]);
    let batches: Vec<Vec<String>> = tests.chunks(3).map(<[String]>::to_vec).collect();
    let child = spawn(&stacks, &dir, &plan(&batches), &["--stacks", "2"]);
    let outcome = finish(child, Duration::from_secs(300)).code(0);
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Passed; 6], &outcome.stderr);
    // Six batches, two stacks, two session setups: one per stack.
    let setups = setups(&stacks);
    assert_eq!(setups.len(), 2, "{setups:?}\n{}", outcome.stderr);
    assert!(
        setups.iter().any(|s| s.starts_with("stack 1 "))
            && setups.iter().any(|s| s.starts_with("stack 2 "))
    );
    let report = merged(&stacks, &dir);
    assert!(
        report.contains(r#"<testsuites tests="16" failures="0" errors="0""#),
        "{report}"
    );
    assert_eq!(cases(&report, "test_price[11]"), 1);

    // The same tests in one pytest run, with no session: the same coverage.
    let sequential = stacks
        .command("sessions/docker-compose.yml", "seq")
        .arg("--plan")
        .arg(dir.write("one.tsv", plan(&[tests])))
        .args(["--", "pytest", "@{tests}", "--cov", "--cov-branch"])
        .arg("--cov-report=json:{out}/coverage.json")
        .succeeds();
    let sessions: Vec<_> = [1, 2]
        .map(|s| stacks.out(&format!("out/session-{s}/coverage.json")))
        .into();
    let seq = coverage(&[stacks.out("seq/shard-1/coverage.json")]);
    assert_eq!(coverage(&sessions), seq, "{}", sequential.stderr);
    // Every file the project has, and only those: not the session's plugin.
    assert!(
        seq.lines()
            .any(|l| l.starts_with("shop.py ") && l.ends_with("100%")),
        "{seq}"
    );
    assert!(!seq.contains("shardstack_session"), "{seq}");
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn a_collection_error_fails_every_batch_and_starts_one_stack() {
    let _lock = docker_lock();
    let stacks = Stacks::new("sess-broken");
    let dir = Dir::new();
    let tests = ordinary();
    let broken = "tests/test_breaks_when_asked.py::test_imports".to_string();
    let batches = [
        vec![tests[0].clone(), broken],
        tests[1..3].to_vec(),
        tests[3..5].to_vec(),
    ];
    let extra = ["--stacks", "1", "-e", "BREAK_IMPORT=1"];
    let child = spawn(&stacks, &dir, &plan(&batches), &extra);
    let outcome = finish(child, Duration::from_secs(300));
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Error; 3], &outcome.stderr);
    let said = message(&results[0]);
    assert!(
        said.starts_with(
            "1 error(s) during collection, the first in tests/test_breaks_when_asked.py"
        ) && said.contains("this module breaks when asked"),
        "{said}"
    );
    // The batches after it fail at once: no stack, no session of their own.
    for later in &results[1..] {
        let said = message(later);
        assert!(
            said.starts_with(
                "not run: no session can serve this run: 1 error(s) during collection"
            ),
            "{said}"
        );
        assert_eq!(later.first.project, "");
    }
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn two_nodes_slices_into_one_out_merge_as_one_run() {
    let _lock = docker_lock();
    let stacks = Stacks::new("sess-nodes");
    let dir = Dir::new();
    let batches: Vec<Vec<String>> = ordinary().chunks(4).map(<[String]>::to_vec).collect();
    let plan = plan(&batches);
    // As a CI matrix would, one after the other here, into the same --out.
    for node in ["1/2", "2/2"] {
        let child = spawn(&stacks, &dir, &plan, &["--stacks", "1", "--node", node]);
        let outcome = finish(child, Duration::from_secs(300)).code(0);
        expect_statuses(&results(&outcome), &[Status::Passed; 2], &outcome.stderr);
    }
    let mut folders: Vec<String> = std::fs::read_dir(stacks.out("out"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("session-"))
        .collect();
    folders.sort();
    assert_eq!(folders, ["session-1-1", "session-2-1"]);
    let report = merged(&stacks, &dir);
    assert!(
        report.contains(r#"<testsuites tests="14" failures="0" errors="0""#),
        "{report}"
    );
    let reports: Vec<_> = folders
        .iter()
        .map(|f| stacks.out(&format!("out/{f}/coverage.json")))
        .collect();
    assert!(
        coverage(&reports)
            .lines()
            .any(|l| l.starts_with("shop.py ") && l.ends_with("100%"))
    );
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn a_container_killed_under_a_test_loses_nothing() {
    let _lock = docker_lock();
    let stacks = Stacks::new("sess-kill");
    let dir = Dir::new();
    let tests = ordinary();
    let mut first: Vec<String> = tests[..6].to_vec();
    first.extend([id("test_fails_when_asked"), id("test_hangs_when_asked")]);
    first.extend(tests[6..9].iter().cloned());
    let plan = plan(&[first, tests[9..].to_vec()]);
    let env = ["-e", "HANG=1", "-e", "FAIL=1"];
    let child = spawn(
        &stacks,
        &dir,
        &plan,
        &[&["--stacks", "1"][..], &env].concat(),
    );
    wait_running(&stacks, "hang");
    let filter = labels::filter(labels::PREFIX, &stacks.prefix);
    let resident = docker(&["ps", "-q", "--filter", &filter, "--filter", "name=resident"]);
    assert_eq!(resident.len(), 1);
    assert!(
        Command::new("docker")
            .args(["kill", &resident[0]])
            .status()
            .unwrap()
            .success()
    );
    let outcome = finish(child, Duration::from_secs(300));
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Error, Status::Passed], &outcome.stderr);
    let said = message(&results[0]);
    assert!(
        said.contains("the session died under it in stack") && said.contains("-k1"),
        "{said}"
    );
    // The three tests after the hung one ran in a new session, in a fresh
    // stack, and batch 2 after them.
    assert!(
        results[1].first.project.ends_with("-k1-2"),
        "{:?}",
        results[1].first.project
    );
    assert_eq!(setups(&stacks).len(), 2);
    let report = merged(&stacks, &dir);
    assert!(
        report.contains(r#"<testsuites tests="16" failures="1" errors="1""#),
        "{report}"
    );
    // The failure before the kill keeps its message and traceback.
    assert!(
        report.contains(r#"<failure message="AssertionError: assert"#)
            && report.contains(r#"assert shop.label("tea") == "Coffee""#),
        "{report}"
    );
    for test in [
        "test_fails_when_asked",
        "test_hangs_when_asked",
        "test_price[5]",
        "test_price[6]",
        "test_price[8]",
    ] {
        assert_eq!(cases(&report, test), 1, "{test}: {report}");
    }
    assert!(report.contains(r#"type="SessionEnded""#), "{report}");
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn a_test_that_exits_or_outlives_the_timeout_is_an_error_and_the_rest_run() {
    let _lock = docker_lock();
    let stacks = Stacks::new("sess-exit");
    let dir = Dir::new();
    let tests = ordinary();
    let batches = [
        vec![
            tests[0].clone(),
            id("test_exits_when_asked"),
            tests[1].clone(),
            tests[2].clone(),
        ],
        // Nothing after the test that hangs: no session resumes the batch.
        vec![
            tests[3].clone(),
            tests[4].clone(),
            id("test_hangs_when_asked"),
        ],
    ];
    let extra = [
        "--stacks",
        "1",
        "--timeout",
        "25",
        "-e",
        "EXIT=1",
        "-e",
        "HANG=1",
    ];
    let child = spawn(&stacks, &dir, &plan(&batches), &extra);
    let outcome = finish(child, Duration::from_secs(300));
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Error, Status::Timeout], &outcome.stderr);
    let said = message(&results[0]);
    assert!(
        said.contains("the pytest process ended (exit status: 3)"),
        "{said}"
    );
    // The session exited, its stack stayed healthy: batch 2 ran there.
    assert!(
        results[1].first.project.ends_with("-k1"),
        "{:?}",
        results[1].first.project
    );
    let report = merged(&stacks, &dir);
    assert!(
        report.contains(r#"<testsuites tests="7" failures="0" errors="2""#),
        "{report}"
    );
    assert!(report.contains("passed --timeout (25s)"), "{report}");
    for test in ["test_price[2]", "test_price[4]"] {
        assert_eq!(cases(&report, test), 1, "{test}: {report}");
    }
    // The last session ended under the last batch with none after it: one
    // more took its coverage data over and wrote the report.
    let covered = coverage(&[stacks.out("out/session-1/coverage.json")]);
    assert!(
        covered
            .lines()
            .any(|l| l.starts_with("shop.py ") && !l.ends_with(" 0%")),
        "{covered}"
    );
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn ctrl_c_under_a_session_leaves_nothing_and_every_batch_its_line() {
    let _lock = docker_lock();
    let stacks = Stacks::new("sess-sig");
    let dir = Dir::new();
    let tests = ordinary();
    let batches = [
        vec![tests[0].clone(), id("test_hangs_when_asked")],
        tests[1..4].to_vec(),
    ];
    let child = spawn(
        &stacks,
        &dir,
        &plan(&batches),
        &["--stacks", "1", "-e", "HANG=1"],
    );
    wait_running(&stacks, "hang");
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let outcome = finish(child, Duration::from_secs(120)).code(130);
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Interrupted; 2], &outcome.stderr);
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}
