//! The example project, `examples/shop`, on real containers: its suite
//! passes when it runs alone in one compose stack, and under `pytest -n 4`
//! sharing one stack exactly the tests marked `isolation` fail. That failure
//! is the problem shardstack exists to solve; the other tools' tests and the
//! demo rely on both facts.
//!
//! The compose file's fixed `container_name` and published port allow one
//! copy per machine, so every test here holds `example_stack_lock()`, raises
//! its own compose project and takes it down with its volumes when it ends.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use shared::contract::labels;
use shared::junit::model::{Case, Outcome};
use shared::junit::read::{Event, Reader};
use shared::nodeid;

use shared::plan;
use shared::results::{ShardResult, Status};

use crate::util::{
    Dir, bin, docker_lock, example_stack_lock, local_images, require_local_images, root, tool,
};

/// A test's (classname, name) as pytest writes it in JUnit XML.
type Key = (String, String);

/// One compose project of the example, taken down with its volumes on drop.
struct Stack {
    project: String,
    compose: Vec<String>,
    out: Dir,
}

impl Stack {
    fn new(name: &str) -> Stack {
        require_local_images();
        let stack = Stack {
            project: format!("shardstack-example-{name}-{}", std::process::id()),
            compose: compose_program(),
            out: Dir::new(),
        };
        // Built as the example's own project (`shop`, its folder), as a user's
        // build in examples/shop is: Compose v2 labels an image with its
        // project, and a build labelled with each test's own left the image
        // before it untagged, one per test.
        stack.compose_ok("shop", &["build", "--quiet", "app"]);
        stack
    }

    fn file() -> PathBuf {
        root().join("examples/shop/docker-compose.yml")
    }

    fn command(&self, args: &[&str]) -> Command {
        self.command_in(&self.project, args)
    }

    /// Compose `args` on the example's file as `project`.
    fn command_in(&self, project: &str, args: &[&str]) -> Command {
        // A hung container must not hang CI: the guard below still cleans up.
        let mut cmd = Command::new("timeout");
        cmd.args(["--kill-after=10", "900"])
            .args(&self.compose)
            .arg("-p")
            .arg(project)
            .arg("-f")
            .arg(Self::file())
            .args(args)
            .envs(local_images());
        cmd
    }

    fn compose_ok(&self, project: &str, args: &[&str]) -> Output {
        let output = self.command_in(project, args).output().unwrap();
        assert!(
            output.status.success(),
            "compose {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// `pytest ARGS` in a fresh app container, with `/out` mounted from this
    /// test's scratch folder (and coverage data kept out of the source tree).
    fn pytest(&self, args: &[&str]) -> Output {
        let volume = format!("{}:/out", self.out.path().display());
        let mut run = vec![
            "run",
            "--rm",
            "-v",
            &volume,
            "-e",
            "COVERAGE_FILE=/out/.coverage",
            "app",
            "pytest",
        ];
        run.extend_from_slice(args);
        self.command(&run).output().unwrap()
    }

    /// The ids pytest collects, with extra ARGS (`-m isolation`).
    fn collect(&self, args: &[&str]) -> Vec<String> {
        let mut run = vec![
            "run",
            "--rm",
            "--no-deps",
            "app",
            "pytest",
            "--collect-only",
            "-q",
        ];
        run.extend_from_slice(args);
        let output = self.command(&run).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "collection failed:\n{stdout}");
        stdout
            .lines()
            .filter(|line| line.contains("::"))
            .map(str::to_string)
            .collect()
    }

    /// The tests marked `isolation`, listed by pytest itself.
    fn isolation_tests(&self) -> BTreeSet<Key> {
        self.collect(&["-m", "isolation"])
            .iter()
            .map(|id| nodeid::junit_key(id))
            .collect()
    }

    fn junit(&self) -> PathBuf {
        self.out.join("junit.xml")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self
            .command(&["down", "-v", "--remove-orphans", "--timeout", "5"])
            .output();
        // stack-run's runs used the project as --prefix: their cached image too.
        let _ = Command::new(bin("stack-run"))
            .args(["--clean", "--prefix", &self.project])
            .output();
    }
}

/// `docker compose` (v2) when it works, else `docker-compose` (v1), as the
/// tools choose; `SHARDSTACK_COMPOSE` overrides.
fn compose_program() -> Vec<String> {
    if let Ok(program) = std::env::var("SHARDSTACK_COMPOSE") {
        return program.split_whitespace().map(str::to_string).collect();
    }
    let v2 = Command::new("docker").args(["compose", "version"]).output();
    if v2.is_ok_and(|output| output.status.success()) {
        vec!["docker".into(), "compose".into()]
    } else {
        vec!["docker-compose".into()]
    }
}

/// Every test case of a JUnit report.
fn cases(path: &Path) -> Vec<Case> {
    let mut reader = Reader::open(path, "junit.xml").unwrap();
    let mut found = Vec::new();
    while let Some(event) = reader.next_event().unwrap() {
        if let Event::Case(case) = event {
            found.push(case);
        }
    }
    found
}

fn keys_where(cases: &[Case], keep: impl Fn(Outcome) -> bool) -> BTreeSet<Key> {
    cases
        .iter()
        .filter(|case| keep(case.outcome()))
        .map(|case| (case.classname.clone(), case.name.clone()))
        .collect()
}

/// pytest's "short test summary info": one line per failed test, with why.
fn failure_lines(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("FAILED ") || line.starts_with("ERROR "))
        .collect();
    lines.join("\n")
}

fn summary(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().rev().find(|line| !line.trim().is_empty());
    last.unwrap_or_default().to_string()
}

#[test]
fn suite_passes_sequentially_in_one_stack() {
    let _docker = docker_lock();
    let _stack = example_stack_lock();
    let stack = Stack::new("seq");
    let isolation = stack.isolation_tests();

    let output = stack.pytest(&["--junit-xml=/out/junit.xml"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "the suite failed alone:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("example suite, sequential: {}", summary(&output));

    let cases = cases(&stack.junit());
    assert!(cases.len() >= 300, "only {} tests", cases.len());
    assert_eq!(
        keys_where(&cases, |o| o != Outcome::Passed),
        BTreeSet::new()
    );
    // The isolation-sensitive tests are a minority, and ran (and passed) here.
    let share = isolation.len() as f64 / cases.len() as f64;
    assert!(
        (0.05..=0.10).contains(&share),
        "{} of {}",
        isolation.len(),
        cases.len()
    );
    assert!(isolation.is_subset(&keys_where(&cases, |o| o == Outcome::Passed)));
}

#[test]
fn under_xdist_exactly_the_isolation_tests_fail() {
    let _docker = docker_lock();
    let _stack = example_stack_lock();
    let stack = Stack::new("xdist");
    let isolation = stack.isolation_tests();

    let output = stack.pytest(&["-n", "4", "--junit-xml=/out/junit.xml"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "pytest -n 4 should report test failures:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("example suite, pytest -n 4: {}", summary(&output));

    let cases = cases(&stack.junit());
    let broken = keys_where(&cases, Outcome::is_failure);
    assert_eq!(
        broken,
        isolation,
        "pytest's summary:\n{}",
        failure_lines(&output)
    );
    assert_eq!(
        keys_where(&cases, |o| o == Outcome::Passed).len(),
        cases.len() - isolation.len()
    );
}

#[test]
fn stack_run_passes_the_whole_suite_in_three_shards() {
    // What xdist breaks, shards keep: each shard has its own PostgreSQL and
    // Redis, so the isolation tests pass. No example_stack_lock: stack-run
    // drops the fixed container_name and the published port.
    let _docker = docker_lock();
    let stack = Stack::new("shards");
    let ids = stack.collect(&[]);
    let isolation = stack.isolation_tests();
    let plan = tool("shard-plan")
        .args(["--shards", "3"])
        .stdin(ids.join("\n"))
        .succeeds()
        .stdout;
    let plan_path = stack.out.write("plan.tsv", &plan);
    let reports = stack.out.join("reports");

    let run = tool("stack-run")
        .arg("-f")
        .arg(Stack::file())
        .args(["--service", "app", "--prefix", &stack.project, "--plan"])
        .arg(&plan_path)
        .arg("--out")
        .arg(&reports)
        .args(["--", "pytest", "@{tests}", "--junit-xml={out}/junit.xml"])
        .args([
            "--cov",
            "--cov-branch",
            "--cov-report=json:{out}/coverage.json",
        ]);
    let outcome = local_images()
        .into_iter()
        .fold(run, |run, (key, value)| run.env(&key, value))
        .run()
        .code(0);
    let mut results: Vec<ShardResult> = outcome
        .stdout
        .lines()
        .map(|line| ShardResult::from_json(line).unwrap())
        .collect();
    results.sort_by_key(|result| result.shard);
    let statuses: Vec<(u32, Status)> = results.iter().map(|r| (r.shard, r.first.status)).collect();
    assert_eq!(
        statuses,
        [
            (1, Status::Passed),
            (2, Status::Passed),
            (3, Status::Passed)
        ]
    );

    let planned = plan::read("plan.tsv", plan.as_bytes()).unwrap();
    let mut ran = BTreeSet::new();
    for shard in 1..=3 {
        let out = reports.join(format!("shard-{shard}"));
        assert!(
            out.join("coverage.json").is_file(),
            "shard {shard}: no coverage.json"
        );
        assert!(out.join("log.txt").is_file(), "shard {shard}: no log.txt");
        let cases = cases(&out.join("junit.xml"));
        let expected: BTreeSet<Key> = planned
            .iter()
            .filter(|entry| entry.shard == Some(shard))
            .map(|entry| nodeid::junit_key(&entry.id))
            .collect();
        assert_eq!(
            keys_where(&cases, |o| o == Outcome::Passed),
            expected,
            "shard {shard}"
        );
        ran.extend(expected);
    }
    assert_eq!(ran.len(), ids.len());
    assert!(isolation.is_subset(&ran));

    let left = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(labels::filter(labels::PREFIX, &stack.project))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&left.stdout),
        "",
        "containers left behind"
    );
}

/// The demo's print-out counts the merged report's test cases, and says
/// when its counts disagree (issue 12: pytest 9 counts every subtest): here
/// on the real pytest shards of `tests/fixtures/pytest-counts`.
#[test]
fn demo_summary_counts_test_cases() {
    let out = Dir::new();
    let fixture = |name: &str| crate::util::fixture(&format!("pytest-counts/{name}"));
    std::fs::copy(fixture("plan.tsv"), out.join("plan.tsv")).unwrap();
    tool("junit-merge")
        .arg("--expect")
        .arg(fixture("plan.tsv"))
        .arg(fixture("shard-1.xml"))
        .arg(fixture("shard-2.xml"))
        .arg("-o")
        .arg(out.join("unit.xml"))
        .succeeds();
    out.write(
        "results.jsonl",
        r#"{"shard":1,"shards":1,"project":"p","status":"failed","exit_code":1,"tests":13,"up_seconds":1,"run_seconds":2,"down_seconds":3,"out":"o","message":null}"#,
    );
    out.write("coverage.txt", "Name Stmts Miss Cover\nTOTAL 10 1 90%\n");
    let printed = crate::util::command(root().join("examples/demo/summary"))
        .arg(out.path())
        .succeeds()
        .stdout;
    assert!(
        printed.contains(
            "  tests: 14 test cases for 13 planned; 5 passed, 3 failed, 3 errors (0 not run), 3 skipped\n\
             \x20 note: unit.xml's counts say 24 tests, 4 failures, 4 errors, 3 skipped"
        ),
        "{printed}"
    );
}
