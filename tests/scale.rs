//! Many stacks on one host, against real Docker: stack-run gives every
//! stack's networks subnets from its own pool, so forty stacks at once need
//! none of Docker's default pools (about 30 networks a host), a pool too
//! small ends in one clear error, and a compose file's fixed subnet (with an
//! address pinned in it) works in every shard.

use shared::results::Status;

use crate::stack_run::{expect_statuses, results};
use crate::util::{Dir, Swept, docker_lock, fixture, local_images, root, tool};

/// A plan of `shards` one-test shards.
fn plan(shards: u32) -> String {
    (1..=shards).map(|k| format!("{k}\tt{k}\n")).collect()
}

#[test]
fn forty_stacks_at_once_each_on_its_own_subnet() {
    let _lock = docker_lock();
    let prefix = Swept(format!("scale-forty-{}", std::process::id()));
    let dir = Dir::new();
    let outcome = tool("stack-run")
        .arg("-f")
        .arg(fixture("stack-run/sleeper.yml"))
        .args(["-s", "app", "--prefix", &prefix.0, "-o"])
        .arg(dir.join("out"))
        // The subnet each stack's app sees, to show none is shared.
        .args([
            "--",
            "sh",
            "-c",
            "hostname -i > /shardstack/out/address",
            "{tests}",
        ])
        .stdin(plan(40))
        .run()
        .code(0);
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Passed; 40], &outcome.stderr);
    let mut subnets: Vec<String> = (1..=40)
        .map(|k| {
            let address = dir.read(&format!("out/shard-{k}/address"));
            let address = address.trim().rsplit_once('.').unwrap().0.to_string();
            assert!(
                address.starts_with("10.213."),
                "{address}: not from the pool"
            );
            address
        })
        .collect();
    subnets.sort();
    subnets.dedup();
    assert_eq!(subnets.len(), 40, "two stacks shared a subnet");
    assert_eq!(prefix.leftovers(), Vec::<String>::new());
}

#[test]
fn a_pool_too_small_is_one_clear_error_and_leaves_nothing() {
    let _lock = docker_lock();
    let prefix = Swept(format!("scale-small-{}", std::process::id()));
    let dir = Dir::new();
    // Two /24s for three stacks: one of them cannot have a network.
    let outcome = tool("stack-run")
        .arg("-f")
        .arg(fixture("stack-run/sleeper.yml"))
        .args([
            "-s",
            "app",
            "--prefix",
            &prefix.0,
            "--subnet-pool",
            "10.213.254.0/23",
            "-o",
        ])
        .arg(dir.join("out"))
        .args(["--", "sh", "-c", "sleep 5", "{tests}"])
        .stdin(plan(3))
        .run()
        .code(3);
    let results = results(&outcome);
    let errors: Vec<&str> = results
        .iter()
        .filter(|r| r.first.status == Status::Error)
        .filter_map(|r| r.first.message.as_deref())
        .collect();
    assert_eq!(errors.len(), 1, "{}", outcome.stdout);
    assert!(
        errors[0].contains("no free /24 left in the subnet pool 10.213.254.0/23")
            && errors[0].contains("--subnet-pool"),
        "{}",
        errors[0]
    );
    assert_eq!(prefix.leftovers(), Vec::<String>::new());
}

#[test]
fn a_fixed_subnet_and_a_pinned_address_work_in_every_shard() {
    let _lock = docker_lock();
    let prefix = Swept(format!("scale-fixed-{}", std::process::id()));
    let dir = Dir::new();
    let ids = [
        "tests/test_health.py::test_health_endpoint_is_json",
        "tests/test_health.py::test_health_reports_database_ok",
        "tests/test_health.py::test_health_counts_are_positive",
        "tests/test_tax.py::test_is_eu",
    ];
    let plan: String = ids
        .iter()
        .enumerate()
        .map(|(k, id)| format!("{}\t{id}\n", k + 1))
        .collect();
    let run = tool("stack-run")
        .arg("-f")
        .arg(root().join("examples/shop/docker-compose.yml"))
        .arg("-f")
        .arg(fixture("stack-run/fixed-subnet.yml"))
        .args(["-s", "app", "--prefix", &prefix.0, "-o"])
        .arg(dir.join("out"))
        .args(["--", "pytest", "@{tests}", "--junit-xml={out}/junit.xml"])
        .stdin(plan);
    let outcome = local_images()
        .into_iter()
        .fold(run, |run, (key, value)| run.env(&key, value))
        .run()
        .code(0);
    expect_statuses(&results(&outcome), &[Status::Passed; 4], &outcome.stderr);
    // Each shard's database sat at .10 of its own copy of the subnet.
    for k in 1..=4 {
        let file = dir.read(&format!("out/.stack-run/shard-{k}.compose.json"));
        let doc: serde_json::Value = serde_json::from_str(&file).unwrap();
        let address = doc["services"]["db"]["networks"]["legacy"]["ipv4_address"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            address.starts_with("10.213.") && address.ends_with(".10"),
            "{address}"
        );
    }
    assert_eq!(prefix.leftovers(), Vec::<String>::new());
}
