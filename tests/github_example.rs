//! The GitHub Actions example, `examples/ci/github-actions.yml`, run: its
//! jobs' steps in order, on a scratch checkout of the example shop, with the
//! variables a runner sets, by `tests/workflow-runner/run.py` (see there what
//! it emulates). The example's `uses: shardstack/shardstack` is this
//! repository's `action.yml`, so the action's shell runs too: each matrix
//! node collects, plans and runs its slice in real stacks, and the merge job
//! merges what the nodes uploaded. This machine cannot reach GitHub, so the
//! publishing actions are skipped, and the action installs the wheel from
//! `dist/` when one is there and newer than the sources, else uses the
//! workspace's binaries (`install: false`). The nodes run one after the
//! other, so the first makes the seed and saves its file in the cache, and
//! the second, on a Docker host without this prefix's seed images (as a
//! fresh runner would be), restores the file, loads it and starts from it.
//! Another prefix's seed image and an untagged seed image on the host are
//! never saved. The example asks for 4 shards;
//! to spare a small machine the test runs 2, one per node.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;
use shared::results::ResultLine;

use crate::hygiene::Neighbours;
use crate::seeding::cached_seed;
use crate::util::{
    Dir, Swept, bin, command, docker_lock, example_stack_lock, local_images, require_local_images,
    root,
};

/// The test cases of the example shop's suite.
const SUITE: u64 = 355;

/// The newest wheel in `dist/`, when it was built after every source file
/// changed; an older one would test stale tools.
fn fresh_wheel() -> Option<PathBuf> {
    let modified = |path: &Path| path.metadata().and_then(|m| m.modified()).ok();
    let wheel = std::fs::read_dir(root().join("dist"))
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("shardstack-") && name.ends_with(".whl")
        })
        .max_by_key(|path| modified(path))?;
    let sources = ["bins", "shared/src", "Cargo.toml", "Cargo.lock"]
        .iter()
        .map(|source| newest(&root().join(source)))
        .max()
        .flatten()?;
    (modified(&wheel)? > sources).then_some(wheel)
}

/// The newest modification time of a file, or of any file under a folder.
fn newest(path: &Path) -> Option<SystemTime> {
    if path.is_dir() {
        std::fs::read_dir(path)
            .ok()?
            .filter_map(|entry| newest(&entry.ok()?.path()))
            .max()
    } else {
        path.metadata().and_then(|m| m.modified()).ok()
    }
}

/// The steps of one job the runner ran, by name.
fn step<'a>(job: &'a Value, name: &str) -> &'a Value {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?} in {job:#}"))
}

fn output<'a>(step: &'a Value, key: &str) -> &'a str {
    step["outputs"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no output {key} in {step:#}"))
}

/// Names of the containers, networks and volumes Docker lists with FILTER.
fn docker_objects(filter: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (kind, format) in [
        ("ps", "{{.Names}}"),
        ("network", "{{.Name}}"),
        ("volume", "{{.Name}}"),
    ] {
        let mut cmd = Command::new("docker");
        match kind {
            "ps" => cmd.args(["ps", "-a"]),
            other => cmd.args([other, "ls"]),
        };
        let listed = cmd
            .args(["--filter", filter, "--format", format])
            .output()
            .unwrap();
        assert!(listed.status.success(), "docker {kind}: {listed:?}");
        found.extend(
            String::from_utf8_lossy(&listed.stdout)
                .lines()
                .map(|name| format!("{kind} {name}")),
        );
    }
    found
}

#[test]
fn github_example_runs_green_and_merges_the_whole_suite() {
    let _docker = docker_lock();
    let _stack = example_stack_lock();
    require_local_images();
    let dir = Dir::new();
    let run_id = format!(
        "{}{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 100_000
    );

    let prefix = format!("shardstack-gh-example-{run_id}");
    let _swept = Swept(prefix.clone());
    // A shared runner's other tenants, which the seed cache once tripped
    // on: their seed images (one untagged) and a stack of theirs, still up.
    let neighbours = Neighbours::new();

    let mut runner = Command::new("python3");
    runner
        .arg(root().join("tests/workflow-runner/run.py"))
        .arg("--workflow")
        .arg(root().join("examples/ci/github-actions.yml"))
        .arg("--checkout")
        .arg(root().join("examples/shop"))
        .arg("--action")
        .arg(format!("shardstack/shardstack={}", root().display()))
        .arg("--work")
        .arg(dir.path())
        .args(["--env", &format!("GITHUB_RUN_ID={run_id}")])
        .args(["--input", "shards=2"])
        // Its own prefix, apart from other runs on this machine.
        .args(["--input", &format!("prefix={prefix}")])
        // Every job on a runner without the prefix's seed images.
        .arg("--before-job")
        .arg(format!(
            "docker image prune -a -f --filter label=io.shardstack.seed \
             --filter label=io.shardstack.prefix={prefix}"
        ));
    for (key, value) in local_images() {
        runner.args(["--env", &format!("{key}={value}")]);
    }
    let path = std::env::var("PATH").unwrap();
    let installed_from = match fresh_wheel() {
        Some(wheel) => {
            // `pip install shardstack`, as the action runs it, finds the wheel.
            let dist = wheel.parent().unwrap().display().to_string();
            runner
                .args(["--env", "PIP_NO_INDEX=1"])
                .args(["--env", &format!("PIP_FIND_LINKS={dist}")])
                .env("PATH", &path);
            wheel.display().to_string()
        }
        None => {
            let bins = Path::new(bin("stack-run")).parent().unwrap();
            runner
                .args(["--input", "install=false"])
                .env("PATH", format!("{}:{path}", bins.display()));
            format!("the workspace's binaries in {}", bins.display())
        }
    };
    eprintln!("github example: the tools are {installed_from}");
    let ran = runner.output().expect("python3 runs the workflow runner");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(
        ran.status.code(),
        Some(0),
        "the workflow failed:\n{printed}"
    );

    let report: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let jobs: Vec<(String, String)> = report
        .iter()
        .map(|job| {
            let node = job["matrix"]["node"]
                .as_u64()
                .map_or(String::new(), |n| format!(" {n}"));
            (
                format!("{}{node}", job["job"].as_str().unwrap()),
                job["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let success = |name: &str| (name.to_string(), "success".to_string());
    assert_eq!(
        jobs,
        [success("shards 1"), success("shards 2"), success("merge")]
    );

    // Each node seeded (made, or found), then ran its one shard of two, in a
    // stack of its own, and passed.
    let mut projects = Vec::new();
    for (index, job) in report[..2].iter().enumerate() {
        let run = step(job, "Run this node's shards");
        assert_eq!(run["outcome"], "success");
        assert_eq!(output(run, "status"), "0");
        let results = Path::new(job["workspace"].as_str().unwrap()).join(output(run, "results"));
        let lines: Vec<ResultLine> = std::fs::read_to_string(&results)
            .unwrap()
            .lines()
            .map(|line| ResultLine::from_json(line).unwrap())
            .collect();
        let [ResultLine::Seed(seed), ResultLine::Shard(shard)] = &lines[..] else {
            panic!("a seed's line, then a shard's: {lines:?}");
        };
        assert_eq!(seed.reused, index == 1, "{seed:?}");
        assert_eq!(shard.shard, index as u32 + 1);
        projects.push(shard.first.project.clone());
    }

    // Node 1 made the seed and cached its file; node 2 restored the file and
    // loaded it.
    let restored = |job: &Value| output(step(job, "Restore the seed"), "cache-hit").to_string();
    assert_eq!(
        (restored(&report[0]), restored(&report[1])),
        ("false".into(), "true".into())
    );
    assert_eq!(printed.matches(": building it").count(), 1, "{printed}");
    let saved = "saved to shardstack-seed.cache";
    assert_eq!(printed.matches(saved).count(), 1, "{printed}");
    let loaded = "loaded from shardstack-seed.cache: found, not rebuilt";
    assert_eq!(printed.matches(loaded).count(), 1, "{printed}");

    // The cached file holds this prefix's two seed images, nothing else.
    let cached = dir
        .join("caches")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let (header, tags) = cached_seed(&cached.path().join("shardstack-seed.cache"));
    assert_eq!(header["prefix"], prefix.as_str());
    assert_eq!(tags.len(), 2, "{tags:?}");
    let ours = format!("{prefix}-seed-");
    assert!(tags.iter().all(|tag| tag.starts_with(&ours)), "{tags:?}");
    neighbours.assert_untouched();

    let merge = &report[2];
    let merged = step(merge, "Merge");
    assert_eq!(merged["outcome"], "success");
    assert_eq!(output(merged, "tests"), SUITE.to_string());
    assert_eq!(output(merged, "passed"), SUITE.to_string());
    for zero in ["failures", "errors", "skipped", "flaky"] {
        assert_eq!(output(merged, zero), "0", "{zero}");
    }
    let coverage: f64 = output(merged, "coverage").parse().unwrap();
    assert!((50.0..=100.0).contains(&coverage), "coverage {coverage}");
    let balance: f64 = output(merged, "balance").parse().unwrap();
    assert!(balance >= 1.0, "balance {balance}");
    eprintln!("github example: merged {SUITE} tests, coverage {coverage}%, balance {balance}");
    assert_eq!(output(merged, "junit"), "shardstack-merged/unit.xml");
    let workspace = Path::new(merge["workspace"].as_str().unwrap());
    for file in [
        "shardstack-merged/unit.xml",
        "shardstack-merged/coverage.xml",
        "shardstack-merged/.test_durations",
    ] {
        assert!(workspace.join(file).is_file(), "no {file}");
    }
    // The new durations went up as an artifact for the next plan.
    assert!(
        dir.join("artifacts/test-durations/.test_durations")
            .is_file()
    );

    let summary = merge["summary"].as_str().unwrap();
    assert!(summary.starts_with("## Test results\n"), "{summary}");
    assert!(
        summary.contains(&format!("| {SUITE} | {SUITE} | 0 | 0 | 0 | 0 |")),
        "{summary}"
    );
    assert!(summary.contains("### Shards"), "{summary}");
    assert!(
        summary.contains(&format!("Coverage: {}%", output(merged, "coverage"))),
        "{summary}"
    );

    assert_eq!(step(merge, "Publish test results")["outcome"], "success");
    assert!(
        printed.contains("skipped: EnricoMi/publish-unit-test-result-action@v2 publishes"),
        "{printed}"
    );
    assert_eq!(step(merge, "Coverage comment")["outcome"], "skipped");
    assert_eq!(step(merge, "Fail when a test failed")["outcome"], "success");

    // Nothing left in Docker: not the shards' stacks, not the collections'.
    for project in projects {
        assert_eq!(
            docker_objects(&format!("label=com.docker.compose.project={project}")),
            Vec::<String>::new(),
            "{project} left behind"
        );
    }
    assert_eq!(
        docker_objects(&format!("label=io.shardstack.prefix={prefix}")),
        Vec::<String>::new(),
        "the shards' stacks left behind"
    );
    // The collection's project (stack-run --collect) is named after the prefix too.
    assert_eq!(
        docker_objects(&format!("name={prefix}-")),
        Vec::<String>::new(),
        "the collection's project left behind"
    );
    // The images stack-run keeps (the next build's cache, the seeds) are
    // this prefix's alone.
    command(bin("stack-run"))
        .args(["--clean", "--prefix", &prefix])
        .succeeds();
    let images = Command::new("docker")
        .args([
            "images",
            "-q",
            "--filter",
            &format!("label=io.shardstack.prefix={prefix}"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&images.stdout), "");
}
