//! `stack-run --stacks N` against real Docker: a plan's batches run on fewer
//! stacks than batches, each stack kept up from one batch to the next and
//! never shared, a stack whose sidecar dies replaced, and a signal leaving
//! nothing. The fixture's runner counts, in its stack's own Redis, how many
//! batches the stack ran (RUNNER_BATCHES), which proves both reuse and isolation.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use shared::contract::labels;
use shared::results::{ShardResult, Status};

use crate::stack_run::{Stacks, docker, expect_statuses, finish, results, wait_until};
use crate::util::docker_lock;

/// `stack-run … --stacks N -e RUNNER_BATCHES=1` on `plan`, running.
fn spawn(stacks: &Stacks, plan: &str, count: u32) -> std::process::Child {
    let count = count.to_string();
    let extra = ["--stacks", &count, "-e", "RUNNER_BATCHES=1"];
    stacks.spawn("light.yml", "out", plan, &extra)
}

/// What the runner wrote for a batch: its test count and the stack's batch count.
fn runner_result(stacks: &Stacks, batch: u32) -> (usize, u32) {
    let path = stacks.out(&format!("out/shard-{batch}/result.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let fields: Vec<&str> = text.split_whitespace().collect();
    (fields[0].parse().unwrap(), fields[1].parse().unwrap())
}

#[test]
fn batches_take_turns_on_fewer_stacks_that_never_share_a_service() {
    let _lock = docker_lock();
    let stacks = Stacks::new("batches");
    let plan = "1\tsleep:3\n1\tok\n2\tsleep:2\n3\tok\n4\tok\n5\tok\n6\tok\n";
    let outcome = finish(spawn(&stacks, plan, 2), Duration::from_secs(180)).code(0);
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Passed; 6], &outcome.stderr);
    assert!(
        outcome.stderr.contains("6 batches on 2 stacks"),
        "{}",
        outcome.stderr
    );
    // Each stack ran its batches in turn: its Redis counted 1, 2, 3… in the
    // order they started, and no batch saw another stack's count.
    let mut by_stack: BTreeMap<u32, Vec<&ShardResult>> = BTreeMap::new();
    for result in &results {
        by_stack
            .entry(result.stack.unwrap())
            .or_default()
            .push(result);
    }
    assert_eq!(by_stack.keys().copied().collect::<Vec<_>>(), [1, 2]);
    for (stack, mut batches) in by_stack {
        batches.sort_by(|a, b| a.started_seconds.partial_cmp(&b.started_seconds).unwrap());
        let counts: Vec<u32> = batches
            .iter()
            .map(|r| runner_result(&stacks, r.shard).1)
            .collect();
        assert_eq!(counts, (1..=batches.len() as u32).collect::<Vec<_>>());
        // One project per stack; only its first batch paid for the start-up,
        // only its last for the teardown.
        assert!(
            batches
                .iter()
                .all(|r| r.first.project.ends_with(&format!("-k{stack}")))
        );
        assert!(batches[0].first.up_seconds > 0.0);
        assert!(batches[1..].iter().all(|r| r.first.up_seconds == 0.0));
        let (last, rest) = batches.split_last().unwrap();
        assert!(last.first.down_seconds > 0.0);
        assert!(rest.iter().all(|r| r.first.down_seconds == 0.0));
    }
    assert_eq!(runner_result(&stacks, 1).0, 2);
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn a_stack_whose_sidecar_dies_is_replaced_by_a_fresh_one() {
    let _lock = docker_lock();
    let stacks = Stacks::new("replace");
    let child = spawn(&stacks, "1\tsleep:15\n2\tok\n", 1);
    // Once its runner has counted in Redis, batch 1 only sleeps: kill that
    // Redis under it.
    let log = stacks.out("out/shard-1/log.txt");
    wait_until("batch 1 past its Redis", || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("redis counted 1"))
    });
    let filter = labels::filter(labels::COMPOSE_SERVICE, "cache");
    let prefix = labels::filter(labels::PREFIX, &stacks.prefix);
    let caches = docker(&["ps", "-q", "--filter", &filter, "--filter", &prefix]);
    assert_eq!(caches.len(), 1);
    let killed = Command::new("docker")
        .args(["kill", &caches[0]])
        .output()
        .unwrap();
    assert!(killed.status.success());
    let outcome = finish(child, Duration::from_secs(180)).code(0);
    let results = results(&outcome);
    // Batch 1 ended as it ended; batch 2 ran in a fresh stack, its Redis new.
    expect_statuses(&results, &[Status::Passed, Status::Passed], &outcome.stderr);
    assert!(results[0].first.project.ends_with("-k1"));
    assert!(results[1].first.project.ends_with("-k1-2"));
    assert!(
        results[0].first.down_seconds > 0.0,
        "the dead stack's teardown is batch 1's"
    );
    assert!(results[1].first.up_seconds > 0.0);
    assert_eq!(runner_result(&stacks, 2).1, 1);
    let services = stacks.out("out/shard-1/services.log");
    assert!(
        services.exists(),
        "the dead stack's logs are kept with batch 1"
    );
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn a_signal_stops_the_stacks_and_every_batch_gets_its_line() {
    let _lock = docker_lock();
    let stacks = Stacks::new("batch-sig");
    let plan = "1\tsleep:600\n2\tsleep:600\n3\tok\n4\tok\n";
    let child = spawn(&stacks, plan, 2);
    // Both stacks' resident containers run between batches too: wait for
    // both batches' runners.
    wait_until("two batches running", || {
        [1, 2].iter().all(|batch| {
            let log = stacks.out(&format!("out/shard-{batch}/log.txt"));
            std::fs::read_to_string(log).is_ok_and(|text| text.contains("redis counted 1"))
        })
    });
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let outcome = finish(child, Duration::from_secs(90)).code(130);
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Interrupted; 4], &outcome.stderr);
    // The two running were stopped in their stacks; the others never started.
    let mut started: Vec<Option<u32>> = results.iter().map(|r| r.stack).collect();
    started[..2].sort();
    assert_eq!(started, [Some(1), Some(2), None, None]);
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn keep_on_failure_keeps_the_failed_batchs_stack_and_goes_on_in_a_fresh_one() {
    let _lock = docker_lock();
    let stacks = Stacks::new("batch-keep");
    let count = "1".to_string();
    let extra = [
        "--stacks",
        &count,
        "--keep-on-failure",
        "-e",
        "RUNNER_BATCHES=1",
    ];
    let child = stacks.spawn("light.yml", "out", "1\texit:1\n2\tok\n", &extra);
    let outcome = finish(child, Duration::from_secs(180)).code(1);
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Failed, Status::Passed], &outcome.stderr);
    assert!(results[0].first.project.ends_with("-k1"));
    assert!(results[1].first.project.ends_with("-k1-2"));
    // Batch 1's stack is still up, as it was; batch 2's is gone.
    let kept = labels::filter(labels::COMPOSE_PROJECT, &results[0].first.project);
    assert_eq!(
        docker(&["ps", "-q", "--filter", &kept]).len(),
        2,
        "its Redis and its resident container"
    );
    let fresh = labels::filter(labels::COMPOSE_PROJECT, &results[1].first.project);
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &fresh]),
        Vec::<String>::new()
    );
    assert!(
        outcome.stderr.contains("left running"),
        "{}",
        outcome.stderr
    );
}

/// Run three batches on one stack of `file` (its image counts the runs of
/// its entrypoint in /tmp); per batch, in its order, the container it ran
/// in and how many runs of the entrypoint that container had seen.
fn three_batches_on_one_stack(stacks: &Stacks, file: &str) -> (Vec<(String, u32)>, String) {
    let plan = stacks.out("plan.tsv");
    std::fs::write(&plan, "1\ta\n2\tb\n3\tc\n").unwrap();
    let script = r#"cat /etc/hostname > "$1/host"; wc -l < /tmp/entrypoint-runs > "$1/runs""#;
    let outcome = stacks
        .command(file, "out")
        .arg("--plan")
        .arg(&plan)
        .args(["--stacks", "1", "--", "sh", "-c", script, "sh", "{out}"])
        .run()
        .code(0);
    let mut results = results(&outcome);
    results.sort_by(|a, b| a.started_seconds.partial_cmp(&b.started_seconds).unwrap());
    let runs = results
        .iter()
        .map(|r| {
            let read = |name: &str| {
                let path = stacks.out(&format!("out/shard-{}/{name}", r.shard));
                std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
            };
            (
                read("host").trim().to_string(),
                read("runs").trim().parse().unwrap(),
            )
        })
        .collect();
    let stack_log = std::fs::read_to_string(stacks.out("out/.stack-run/stack-1.log")).unwrap();
    (runs, stack_log)
}

#[test]
fn a_stacks_batches_run_in_its_resident_container_through_the_entrypoint() {
    let _lock = docker_lock();
    let stacks = Stacks::new("resident");
    let (runs, stack_log) = three_batches_on_one_stack(&stacks, "resident.yml");
    // One container for all three, the image's entrypoint run before each.
    let hosts: Vec<&str> = runs.iter().map(|(host, _)| host.as_str()).collect();
    assert_eq!(hosts, [hosts[0]; 3], "{stack_log}");
    let counts: Vec<u32> = runs.iter().map(|(_, count)| *count).collect();
    assert_eq!(counts, [1, 2, 3], "{stack_log}");
    assert!(
        stack_log.contains("resident container started in"),
        "{stack_log}"
    );
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn an_image_without_sleep_gets_a_compose_run_per_batch() {
    let _lock = docker_lock();
    let stacks = Stacks::new("no-resident");
    let (runs, stack_log) = three_batches_on_one_stack(&stacks, "resident-nosleep.yml");
    // A fresh container each time, which ran the entrypoint once.
    let mut hosts: Vec<&str> = runs.iter().map(|(host, _)| host.as_str()).collect();
    hosts.dedup();
    assert_eq!(hosts.len(), 3, "{stack_log}");
    let counts: Vec<u32> = runs.iter().map(|(_, count)| *count).collect();
    assert_eq!(counts, [1, 1, 1], "{stack_log}");
    assert!(
        stack_log.contains("no resident container") && stack_log.contains("compose run"),
        "{stack_log}"
    );
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}
