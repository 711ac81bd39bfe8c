//! The tools chained on the real example (`examples/shop`) in real stacks,
//! as `make demo` and a CI matrix chain them: slices of the shards run as
//! separate invocations merge to what one run gives, and a shard killed from
//! outside comes back as errors naming it, the merged count still the planned
//! count. A dozen of the example's quick tests keep each run short.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use shared::contract::labels;
use shared::junit::model::{Counts, Outcome};
use shared::junit::read::{Event, Reader};
use shared::results::{ShardResult, Status};

use crate::util::{Dir, Swept, docker_lock, local_images, root, tool};

/// Quick tests of the example: the health checks use PostgreSQL and Redis.
const IDS: &[&str] = &[
    "tests/test_health.py::test_health_endpoint_is_json",
    "tests/test_health.py::test_health_reports_database_ok",
    "tests/test_health.py::test_health_counts_are_positive",
    "tests/test_health.py::test_health_reports_a_single_instance",
    "tests/test_health.py::test_database_connections_are_not_leaked",
    "tests/test_health.py::test_one_event_listener_session",
    "tests/test_tax.py::test_rate_for[DE-1900]",
    "tests/test_tax.py::test_rate_for[US-0]",
    "tests/test_tax.py::test_bad_country_codes[DEU]",
    "tests/test_tax.py::test_tax_for[999-FI-255]",
    "tests/test_tax.py::test_net_from_gross[11900-DE-10000]",
    "tests/test_tax.py::test_is_eu",
];

/// One test's runs of the example: a prefix of its own, swept when it ends.
struct Pipeline {
    prefix: String,
    dir: Dir,
    plan: PathBuf,
    _swept: Swept,
}

impl Pipeline {
    /// Plan IDS in two shards.
    fn new(name: &str) -> Pipeline {
        Pipeline::planned(name, &["--shards", "2"])
    }

    /// Plan IDS as shard-plan's `how` says.
    fn planned(name: &str, how: &[&str]) -> Pipeline {
        let dir = Dir::new();
        let plan = tool("shard-plan")
            .args(how)
            .stdin(IDS.join("\n"))
            .succeeds()
            .stdout;
        let plan = dir.write("plan.tsv", plan);
        let prefix = format!("pipe-{name}-{}", std::process::id());
        Pipeline {
            _swept: Swept(prefix.clone()),
            prefix,
            dir,
            plan,
        }
    }

    /// stack-run on the plan, artifacts in `out`, EXTRA flags (`--node`):
    /// its exit status and result lines.
    fn stack_run(&self, out: &str, extra: &[&str]) -> (i32, Vec<ShardResult>) {
        let run = tool("stack-run")
            .arg("-f")
            .arg(root().join("examples/shop/docker-compose.yml"))
            .args(["--service", "app", "--prefix", &self.prefix, "--plan"])
            .arg(&self.plan)
            .arg("--out")
            .arg(self.dir.join(out))
            .args(extra)
            .args(["--", "pytest", "@{tests}", "--junit-xml={out}/junit.xml"]);
        let outcome = local_images()
            .into_iter()
            .fold(run, |run, (key, value)| run.env(&key, value))
            .run();
        let results = outcome
            .stdout
            .lines()
            .map(|line| ShardResult::from_json(line).unwrap())
            .collect();
        (outcome.code, results)
    }

    /// `junit-merge --expect plan` over the given shard folders' reports.
    fn merge(&self, outs: &[&str]) -> PathBuf {
        let merged = self.dir.join(&format!("{}.xml", outs.join("+")));
        let reports = outs.iter().flat_map(|out| {
            std::fs::read_dir(self.dir.join(out))
                .unwrap()
                .map(|entry| entry.unwrap().path().join("junit.xml"))
                .filter(|path| path.exists())
        });
        tool("junit-merge")
            .arg("--expect")
            .arg(&self.plan)
            .args(reports)
            .arg("-o")
            .arg(&merged)
            .succeeds();
        merged
    }
}

/// A merged report's totals, and every case's outcome and error type by test.
fn read(path: &Path) -> (Counts, BTreeMap<(String, String), Outcome>) {
    let mut reader = Reader::open(path, "merged").unwrap();
    let mut cases = BTreeMap::new();
    while let Some(event) = reader.next_event().unwrap() {
        if let Event::Case(case) = event {
            let outcome = case.outcome();
            assert!(
                cases.insert((case.classname, case.name), outcome).is_none(),
                "a test twice in {}",
                path.display()
            );
        }
    }
    (reader.totals(), cases)
}

/// The nodes' merged reports (`node-1`, `node-2`) hold exactly what the
/// whole run's does: every planned test once, all passed, the same counts.
fn assert_slices_merge_as_the_whole(pipeline: &Pipeline) {
    let (slices_counts, slices) = read(&pipeline.merge(&["node-1", "node-2"]));
    let (whole_counts, one_run) = read(&pipeline.merge(&["whole"]));
    assert_eq!(slices, one_run);
    assert_eq!(slices.len(), IDS.len());
    assert!(slices.values().all(|&outcome| outcome == Outcome::Passed));
    let count = |c: &Counts| (c.tests, c.failures, c.errors, c.skipped);
    assert_eq!(count(&slices_counts), count(&whole_counts));
    assert_eq!(count(&slices_counts), (IDS.len() as u64, 0, 0, 0));
}

fn shards_of(results: &[ShardResult]) -> Vec<(u32, Status)> {
    let mut shards: Vec<(u32, Status)> =
        results.iter().map(|r| (r.shard, r.first.status)).collect();
    shards.sort_by_key(|&(shard, _)| shard);
    shards
}

#[test]
fn two_slices_merge_as_one_run() {
    let _docker = docker_lock();
    let pipeline = Pipeline::new("slices");

    let (code, node1) = pipeline.stack_run("node-1", &["--node", "1/2"]);
    assert_eq!((code, shards_of(&node1)), (0, vec![(1, Status::Passed)]));
    let (code, node2) = pipeline.stack_run("node-2", &["--node", "2/2"]);
    assert_eq!((code, shards_of(&node2)), (0, vec![(2, Status::Passed)]));
    let (code, whole) = pipeline.stack_run("whole", &[]);
    assert_eq!(
        (code, shards_of(&whole)),
        (0, vec![(1, Status::Passed), (2, Status::Passed)])
    );

    assert_slices_merge_as_the_whole(&pipeline);
}

#[test]
fn batches_on_two_stacks_and_on_two_nodes_merge_as_one_run() {
    let _docker = docker_lock();
    let pipeline = Pipeline::planned("batches", &["--batches", "4"]);
    let stacks = |results: &[ShardResult]| {
        let mut stacks: Vec<u32> = results.iter().filter_map(|r| r.stack).collect();
        stacks.sort();
        stacks.dedup();
        stacks
    };
    let passed = |batches: &[u32]| {
        batches
            .iter()
            .map(|&b| (b, Status::Passed))
            .collect::<Vec<_>>()
    };

    let (code, whole) = pipeline.stack_run("whole", &["--stacks", "2"]);
    assert_eq!((code, shards_of(&whole)), (0, passed(&[1, 2, 3, 4])));
    assert_eq!(stacks(&whole), [1, 2]);
    // A node runs its slice of the batches (1 and 3, or 2 and 4) on its own stack.
    let (code, node1) = pipeline.stack_run("node-1", &["--stacks", "1", "--node", "1/2"]);
    assert_eq!((code, shards_of(&node1)), (0, passed(&[1, 3])));
    let (code, node2) = pipeline.stack_run("node-2", &["--stacks", "1", "--node", "2/2"]);
    assert_eq!((code, shards_of(&node2)), (0, passed(&[2, 4])));
    assert_eq!((stacks(&node1), stacks(&node2)), (vec![1], vec![1]));

    // Every planned test merged exactly once (junit-merge --expect checks
    // the plan, `read` that no case comes twice), the same either way.
    assert_slices_merge_as_the_whole(&pipeline);
}

#[test]
fn a_killed_shard_comes_back_as_errors_and_nothing_is_lost() {
    let _docker = docker_lock();
    let pipeline = Pipeline::new("killed");

    // From outside, as an OOM killer would: shard 2's test container, as soon
    // as it exists (it may not run the command yet: still an error, not a failure).
    let prefix = pipeline.prefix.clone();
    let killer = std::thread::spawn(move || {
        let filters = [
            labels::filter(labels::PREFIX, &prefix),
            labels::filter(labels::SHARD, 2),
            labels::filter(labels::COMPOSE_ONEOFF, "True"),
        ];
        for _ in 0..1200 {
            let mut ps = Command::new("docker");
            ps.args(["ps", "-q"]);
            for filter in &filters {
                ps.args(["--filter", filter]);
            }
            let found = String::from_utf8(ps.output().unwrap().stdout).unwrap();
            if let Some(container) = found.split_whitespace().next() {
                let killed = Command::new("docker")
                    .args(["kill", container])
                    .output()
                    .unwrap();
                return killed.status.success();
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        false
    });
    let (code, results) = pipeline.stack_run("reports", &[]);
    assert!(killer.join().unwrap(), "shard 2's container never ran");
    assert_eq!(code, shared::exit::INFRA);
    assert_eq!(
        shards_of(&results),
        vec![(1, Status::Passed), (2, Status::Error)]
    );

    let (counts, cases) = read(&pipeline.merge(&["reports"]));
    let planned = std::fs::read_to_string(&pipeline.plan).unwrap();
    let in_shard_2 = planned.lines().filter(|l| l.starts_with("2\t")).count() as u64;
    assert_eq!(counts.tests, IDS.len() as u64);
    assert_eq!(cases.len(), IDS.len());
    assert_eq!((counts.errors, counts.failures), (in_shard_2, 0));
    let merged = std::fs::read_to_string(pipeline.dir.join("reports.xml")).unwrap();
    assert_eq!(
        merged
            .matches("message=\"did not run: shard 2 reported no result for it\"")
            .count() as u64,
        in_shard_2
    );
}
