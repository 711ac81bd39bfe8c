//! A real suite whose session fixture sleeps (`tests/fixtures/stack-run/
//! session-setup`, 4 s, as pytest-django's test database creation takes its
//! time): listed with `stack-run --collect`, which must leave nothing
//! behind, then run in two shards. pytest charges the sleep to each shard's
//! first test; the saved durations must not, and `shard-plan --summary` and
//! stack-report show it per shard. Also the other settings real projects
//! bring: xdist in addopts, keys Compose v1 lacks.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Stacks, docker};
use crate::util::{Dir, TestCommand, docker_lock, tool};

const COMPOSE: &str = "session-setup/docker-compose.yml";
/// The fixture's `SETUP_SECONDS`.
const SETUP: f64 = 4.0;

/// What compose itself made for the prefix, whether labelled or not.
fn named_after(stacks: &Stacks) -> Vec<String> {
    let filter = format!("name={}-", stacks.prefix);
    [
        vec!["ps", "-aq", "--filter", &filter],
        vec!["network", "ls", "-q", "--filter", &filter],
        vec!["volume", "ls", "-q", "--filter", &filter],
    ]
    .iter()
    .flat_map(|args| docker(args))
    .collect()
}

#[test]
fn collect_prints_the_ids_and_leaves_nothing_behind() {
    let _lock = docker_lock();
    let stacks = Stacks::new("collect");
    let outcome = stacks
        .command(COMPOSE, "reports")
        .args(["--collect", "--", "pytest", "--collect-only", "-q"])
        .succeeds();
    let ids: Vec<&str> = outcome
        .stdout
        .lines()
        .filter(|l| l.contains("::"))
        .collect();
    assert_eq!(ids.len(), 8, "{}", outcome.stdout);
    assert_eq!(ids[0], "tests/test_orders.py::test_quick[0]");
    assert!(outcome.stdout.contains("8 tests collected"));
    // The named volume and the default network went with the container.
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
    assert_eq!(named_after(&stacks), Vec::<String>::new());

    // A command that fails: its status says so, and nothing is left either.
    let failed = stacks
        .command(COMPOSE, "reports")
        .args([
            "--collect",
            "--",
            "pytest",
            "--collect-only",
            "-q",
            "tests/gone.py",
        ])
        .run()
        .code(1);
    assert!(
        failed
            .stderr
            .contains("stack-run: the collection command exited 4"),
        "{}",
        failed.stderr
    );
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
    assert_eq!(named_after(&stacks), Vec::<String>::new());
}

#[test]
fn session_setup_is_not_charged_to_any_test() {
    let _lock = docker_lock();
    let stacks = Stacks::new("setup");
    let dir = Dir::new();
    let tests = stacks
        .command(COMPOSE, "collect")
        .args(["--collect", "--", "pytest", "--collect-only", "-q"])
        .succeeds()
        .stdout;
    let tests_file = dir.write("tests.txt", &tests);
    let plan = tool("shard-plan")
        .args(["-n", "2"])
        .arg(&tests_file)
        .succeeds()
        .stdout;
    let plan_file = dir.write("plan.tsv", &plan);
    let run = stacks
        .command(COMPOSE, "reports")
        .arg("--plan")
        .arg(&plan_file)
        .args(["--", "pytest", "@{tests}", "--junit-xml={out}/junit.xml"])
        .succeeds();
    let results = dir.write("results.jsonl", &run.stdout);
    let reports = [1, 2].map(|k| stacks.out(&format!("reports/shard-{k}/junit.xml")));
    // pytest charged the sleep to each shard's first test.
    for report in &reports {
        let text = std::fs::read_to_string(report).unwrap();
        let first_time: f64 = text
            .split("time=\"")
            .nth(2)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(first_time >= SETUP, "{text}");
    }

    let saved = dir.join(".test_durations");
    tool("shard-plan")
        .arg("-d")
        .arg(&reports[0])
        .arg("-d")
        .arg(&reports[1])
        .arg("--save-durations")
        .arg(&saved)
        .arg(&tests_file)
        .succeeds();
    let durations: BTreeMap<String, f64> =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    eprintln!("saved durations: {durations:?}");
    let (setups, tests): (Vec<_>, Vec<_>) = durations
        .iter()
        .partition(|(id, _)| id.starts_with("<session setup>"));
    assert_eq!(tests.len(), 8);
    // No test holds the sleep: the slowest sleeps 0.6 s.
    assert!(tests.iter().all(|(_, s)| **s < 1.5), "{tests:?}");
    let setup_keys: Vec<&str> = setups.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        setup_keys,
        ["<session setup>::shard-1", "<session setup>::shard-2"]
    );
    assert!(
        setups
            .iter()
            .all(|(_, s)| (SETUP - 0.5..SETUP + 3.0).contains(*s)),
        "{setups:?}"
    );

    // The next plan shows each shard's session setup.
    let summary = tool("shard-plan")
        .args(["-n", "2", "--summary", "-d"])
        .arg(&saved)
        .arg(&tests_file)
        .succeeds()
        .stderr;
    eprintln!("{summary}");
    let lines: Vec<&str> = summary.lines().collect();
    assert!(lines[0].ends_with("session setup"), "{summary}");
    for line in &lines[1..3] {
        let setup: f64 = line.split_whitespace().last().unwrap().parse().unwrap();
        assert!(setup >= SETUP - 0.5, "{summary}");
    }

    // So does stack-report, and its slowest test is a test's own time.
    let unit = dir.join("unit.xml");
    tool("junit-merge")
        .arg("--expect")
        .arg(&plan_file)
        .args(&reports)
        .arg("-o")
        .arg(&unit)
        .succeeds();
    let report = tool("stack-report")
        .arg("--results")
        .arg(&results)
        .arg("--junit")
        .arg(&unit)
        .args(["--slowest", "1"])
        .succeeds()
        .stdout;
    eprintln!("{report}");
    assert!(
        report.contains("| start-up | session setup | tests run |"),
        "{report}"
    );
    let rows: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("| 1 |") || l.starts_with("| 2 |"))
        .collect();
    assert_eq!(rows.len(), 2, "{report}");
    for row in rows {
        let setup: f64 = row
            .split('|')
            .nth(5)
            .unwrap()
            .trim()
            .trim_end_matches(" s")
            .parse()
            .unwrap();
        assert!(setup >= SETUP - 0.5, "{report}");
    }
    let slowest = report.split("### Slowest tests").nth(1).unwrap();
    assert!(slowest.contains("test_slower"), "{report}");
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

/// `stack-run --dry-run` of `dir`'s docker-compose.yml, service app, on `plan`.
fn dry_run(stacks: &Stacks, dir: &Dir, plan: &Path) -> TestCommand {
    tool("stack-run")
        .arg("-f")
        .arg(dir.join("docker-compose.yml"))
        .args(["-s", "app", "--prefix", &stacks.prefix, "--dry-run"])
        .arg("--plan")
        .arg(plan)
        .args(["--", "pytest", "@{tests}"])
}

#[test]
fn a_project_that_turns_xdist_on_is_warned_about() {
    let stacks = Stacks::new("xdist");
    let dir = Dir::new();
    dir.write(
        "docker-compose.yml",
        "services:\n  app:\n    image: busybox\n",
    );
    dir.write(
        "pytest.ini",
        "[pytest]\naddopts = --reuse-db\n    -n=auto --failed-first\n",
    );
    let plan = dir.write("plan.tsv", "1\tt.py::a\n");
    let outcome = dry_run(&stacks, &dir, &plan).succeeds();
    assert!(
        outcome.stderr.contains(&format!(
            "stack-run: warning: {}'s addopts start pytest-xdist (auto workers) inside every shard; add `-p no:xdist` (or `-n 0`) to the command",
            dir.join("pytest.ini").display()
        )),
        "{}",
        outcome.stderr
    );
}

#[test]
fn compose_v1_says_which_key_needs_compose_v2() {
    let stacks = Stacks::new("v1key");
    let dir = Dir::new();
    let plan = dir.write("plan.tsv", "1\tt.py::a\n");
    for (file, key) in [
        (
            "name: shop\nservices:\n  app:\n    image: busybox\n",
            "name",
        ),
        (
            "services:\n  app:\n    image: busybox\n    develop:\n      watch: []\n",
            "develop",
        ),
    ] {
        dir.write("docker-compose.yml", file);
        let outcome = dry_run(&stacks, &dir, &plan)
            .env("SHARDSTACK_COMPOSE", "docker-compose")
            .run()
            .code(2);
        assert!(
            outcome.stderr.contains(&format!(
                "`{key}`: this key needs Compose v2 (`docker compose`)"
            )),
            "{}",
            outcome.stderr
        );
    }
}
