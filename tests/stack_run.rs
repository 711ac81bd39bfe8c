//! stack-run against real Docker: stacks built from `tests/fixtures/stack-run`
//! (PostgreSQL and Redis from `make images`, published ports, fixed container
//! names), shards that pass, fail, crash, hang, get killed or interrupted.
//!
//! Every test uses its own `--prefix` and sweeps it when it ends, pass or fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use shared::contract::{IDLE_COMMAND, labels};
use shared::results::{ResultLine, ShardResult, Status};

use crate::signals::Watched;
use crate::util::{
    Dir, Outcome, Swept, TestCommand, bin, docker_lock, fixture, local_images, tool,
};

mod collect;
mod session_setup;

/// One test's resources: its prefix, and a scratch folder for OUT.
pub struct Stacks {
    pub prefix: String,
    dir: Dir,
    swept: Swept,
}

impl Stacks {
    pub fn new(name: &str) -> Stacks {
        let prefix = format!("srt-{name}-{}", std::process::id());
        Stacks {
            swept: Swept(prefix.clone()),
            prefix,
            dir: Dir::new(),
        }
    }

    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `stack-run -f FILE -s app -o OUT --prefix P` with the local images.
    pub fn command(&self, file: &str, out: &str) -> TestCommand {
        let mut cmd = tool("stack-run")
            .arg("-f")
            .arg(fixture(&format!("stack-run/{file}")))
            .args(["-s", "app", "--prefix", &self.prefix, "-o"])
            .arg(self.out(out));
        for (key, value) in local_images() {
            cmd = cmd.env(&key, value);
        }
        cmd
    }

    /// The same, as a child process still running.
    pub fn spawn(&self, file: &str, out: &str, plan: &str, extra: &[&str]) -> Child {
        self.child_command(file, out, plan, extra).spawn().unwrap()
    }

    /// The command `spawn` starts, its output piped.
    pub fn child_command(&self, file: &str, out: &str, plan: &str, extra: &[&str]) -> Command {
        let plan_path = self.dir.write(&format!("{out}.plan"), plan);
        let mut cmd = Command::new(bin("stack-run"));
        cmd.arg("-f")
            .arg(fixture(&format!("stack-run/{file}")))
            .args(["-s", "app", "--prefix", &self.prefix, "--plan"])
            .arg(plan_path)
            .arg("-o")
            .arg(self.out(out))
            .args(extra)
            .args(["--", "python", "/runner.py", "{tests}", "{out}"])
            .envs(local_images())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// The containers, networks and volumes left with this test's prefix label.
    pub fn leftovers(&self) -> Vec<String> {
        self.swept.leftovers()
    }

    /// Untagged images with this test's prefix label: what a moved tag left.
    pub fn dangling_images(&self) -> Vec<String> {
        dangling_images(&self.prefix)
    }

    /// Containers of `--shard` where the command runs now: its one-off
    /// containers (a `compose run`'s, or the resident one once the command
    /// is exec'ed in it) running more than the resident's idle `sleep`.
    pub fn running_commands(&self, shard: Option<u32>) -> Vec<String> {
        let mut args = vec![
            "ps".to_string(),
            "-q".into(),
            "--filter".into(),
            labels::filter(labels::PREFIX, &self.prefix),
            "--filter".into(),
            labels::filter(labels::COMPOSE_ONEOFF, "True"),
        ];
        if let Some(shard) = shard {
            args.push("--filter".into());
            args.push(labels::filter(labels::SHARD, shard));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut containers = docker(&args);
        containers.retain(|container| runs_a_command(container));
        containers
    }
}

/// Whether `container` runs a process besides the resident container's
/// idle `sleep` (false once it is gone).
fn runs_a_command(container: &str) -> bool {
    let top = Command::new("docker")
        .args(["top", container])
        .output()
        .unwrap();
    top.status.success()
        && String::from_utf8_lossy(&top.stdout)
            .lines()
            .skip(1)
            .any(|process| !process.trim_end().ends_with(&IDLE_COMMAND.join(" ")))
}

/// Untagged images labelled with PREFIX.
pub fn dangling_images(prefix: &str) -> Vec<String> {
    let filter = labels::filter(labels::PREFIX, prefix);
    docker(&[
        "images",
        "-q",
        "--filter",
        "dangling=true",
        "--filter",
        &filter,
    ])
}

pub fn docker(args: &[&str]) -> Vec<String> {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(output.status.success(), "docker {args:?} failed");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The shards' result lines, sorted by shard (a seed's line is not one).
pub fn results(outcome: &Outcome) -> Vec<ShardResult> {
    let mut results: Vec<ShardResult> = result_lines(outcome)
        .into_iter()
        .filter_map(|line| match line {
            ResultLine::Shard(result) => Some(result),
            ResultLine::Seed(_) => None,
        })
        .collect();
    results.sort_by_key(|r| r.shard);
    results
}

/// Every result line, in the order printed.
pub fn result_lines(outcome: &Outcome) -> Vec<ResultLine> {
    outcome
        .stdout
        .lines()
        .map(|line| ResultLine::from_json(line).unwrap())
        .collect()
}

/// Expect these statuses, shard by shard; on a mismatch, show every result line.
pub fn expect_statuses(results: &[ShardResult], expected: &[Status], context: &str) {
    let statuses: Vec<Status> = results.iter().map(|r| r.first.status).collect();
    let lines: Vec<String> = results.iter().map(ShardResult::to_line).collect();
    assert_eq!(statuses, expected, "{context}\n{}", lines.join("\n"));
}

/// Wait for a child, with its output; it must end within `limit`.
pub fn finish(mut child: Child, limit: Duration) -> Outcome {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("stack-run still running after {limit:?}");
        }
        thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Poll until `ready` holds; panics after two minutes.
pub fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "gave up waiting: {what}"
        );
        thread::sleep(Duration::from_millis(250));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn four_stacks_at_once_from_a_file_that_publishes_ports_and_names_containers() {
    let _lock = docker_lock();
    let stacks = Stacks::new("four");
    let plan = "1\tok\n1\tok\n2\tok\n3\tok\n3\tok\n3\tok\n4\tok\n";
    let outcome = stacks
        .command("docker-compose.yml", "out")
        .args(["--jobs", "4", "-e", "SHARD_LABEL=shard-{shard}-of-{shards}"])
        .args(["--", "python", "/runner.py", "{tests}", "{out}"])
        .stdin(plan)
        .succeeds();
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Passed; 4], "");
    for (result, tests) in results.iter().zip([2, 1, 3, 1]) {
        let shard = result.shard;
        assert_eq!(result.first.test_count, tests);
        assert_eq!(result.first.exit_code, Some(0));
        assert!(result.first.project.starts_with(&stacks.prefix));
        let dir = stacks.out(&format!("out/shard-{shard}"));
        assert_eq!(result.first.folder, dir.display().to_string());
        // The runner proved its Redis was its own, and wrote where {out} pointed.
        assert_eq!(
            read(&dir.join("result.txt")),
            format!("{tests} shard-{shard}-of-4 1\n")
        );
        assert_eq!(read(&dir.join("tests.txt")), "ok\n".repeat(tests));
        assert!(read(&dir.join("log.txt")).contains("ok PASSED [100%]"));
        // The -e value is hidden in the log.
        assert!(read(&dir.join("log.txt")).contains("-e SHARD_LABEL=…"));
    }
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
    // Only the image kept for the next run's build cache stays; the run's tag is gone.
    let filter = labels::filter(labels::PREFIX, &stacks.prefix);
    let images = docker(&["images", "--format", "{{.Repository}}", "--filter", &filter]);
    assert_eq!(images, [format!("{}-app", stacks.prefix)]);
}

#[test]
fn failing_tests_and_crashes_are_told_apart() {
    let _lock = docker_lock();
    let stacks = Stacks::new("status");
    let plan = "1\tok\n2\texit:1\n3\texit:5\n";
    let outcome = stacks
        .command("light.yml", "out")
        .args(["--", "python", "/runner.py", "{tests}", "{out}"])
        .stdin(plan)
        .run()
        .code(3);
    let results = results(&outcome);
    expect_statuses(
        &results,
        &[Status::Passed, Status::Failed, Status::Error],
        "",
    );
    let codes: Vec<Option<i32>> = results.iter().map(|r| r.first.exit_code).collect();
    assert_eq!(codes, [Some(0), Some(1), Some(5)]);
    assert_eq!(
        results[2].first.message.as_deref(),
        Some("no tests were collected (exit status 5)")
    );
    // The sidecars' logs are kept for the shards that did not pass.
    assert!(!stacks.out("out/shard-1/services.log").exists());
    for shard in 2..=3 {
        let log = read(&stacks.out(&format!("out/shard-{shard}/services.log")));
        assert!(log.contains("cache"), "shard {shard}: {log}");
    }
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn a_shard_past_its_timeout_is_stopped() {
    let _lock = docker_lock();
    let stacks = Stacks::new("timeout");
    let outcome = stacks
        .command("light.yml", "out")
        .args(["--timeout", "5s"])
        .args(["--", "python", "/runner.py", "{tests}", "{out}"])
        .stdin("1\tsleep:600\n")
        .run()
        .code(3);
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Timeout], "");
    assert_eq!(results[0].first.exit_code, None);
    // Whether it was still starting or already running depends on the machine's load.
    let message = results[0].first.message.as_deref().unwrap();
    assert!(message.starts_with("timed out after 5s"), "{message}");
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn a_command_past_its_timeout_stops_even_in_a_kept_stack() {
    let _lock = docker_lock();
    let stacks = Stacks::new("timeout-kept");
    stacks
        .command("light.yml", "out")
        .args(["--timeout", "20s", "--keep-on-failure"])
        .args(["--", "python", "/runner.py", "{tests}", "{out}"])
        .stdin("1\tsleep:600\n")
        .run()
        .code(3);
    let log = read(&stacks.out("out/shard-1/log.txt"));
    assert!(log.contains("-app-resident python /runner.py"), "{log}");
    assert!(log.contains("killed the resident container"), "{log}");
    // The stack is kept, the command in it is not running.
    assert!(!stacks.leftovers().is_empty(), "the stack was removed");
    assert_eq!(stacks.running_commands(Some(1)), Vec::<String>::new());
    tool("stack-run")
        .args(["--clean", "--prefix", &stacks.prefix])
        .succeeds();
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn readiness_waits_on_docker_events_and_stops_watching_once_ready() {
    let _lock = docker_lock();
    let stacks = Stacks::new("gated");
    let run = Watched::start(stacks.child_command("gated.yml", "out", "1\tsleep:5\n", &[]));
    // The sidecar cannot be healthy yet: the run watches Docker's events.
    // (An argument of its own: `docker events`, not a name holding the word.)
    let events = "\0events\0";
    wait_until("the run's events watched", || run.runs_child(events));
    let gate = docker(&[
        "ps",
        "-q",
        "--filter",
        &labels::filter(labels::PREFIX, &stacks.prefix),
        "--filter",
        &labels::filter(labels::COMPOSE_SERVICE, "cache"),
    ]);
    assert_eq!(gate.len(), 1, "{gate:?}");
    docker(&["exec", &gate[0], "touch", "/tmp/ready"]);
    wait_until("the shard running", || {
        !stacks.running_commands(Some(1)).is_empty()
    });
    // No stack waits any more: the stream is stopped.
    assert!(!run.runs_child(events));
    let outcome = run.finish(Duration::from_secs(90)).code(0);
    expect_statuses(&results(&outcome), &[Status::Passed], &outcome.stderr);
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn a_failed_build_is_an_error_for_every_shard() {
    let _lock = docker_lock();
    let stacks = Stacks::new("build");
    let outcome = stacks
        .command("broken.yml", "out")
        .args(["--", "python", "/runner.py", "{tests}", "{out}"])
        .stdin("1\tok\n2\tok\n")
        .run()
        .code(3);
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Error, Status::Error], "");
    for result in &results {
        let message = result.first.message.as_deref().unwrap();
        assert!(
            message.contains("the image could not be built: building app failed"),
            "{message}"
        );
    }
    let log = read(&stacks.out("out/.stack-run/build.log"));
    assert!(log.contains("this build fails"), "{log}");
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn a_shard_killed_from_outside_is_an_error_and_the_others_finish() {
    let _lock = docker_lock();
    let stacks = Stacks::new("kill");
    let plan = "1\tsleep:5\n2\tsleep:600\n";
    let child = stacks.spawn("light.yml", "out", plan, &[]);
    wait_until("shard 2 running", || {
        !stacks.running_commands(Some(2)).is_empty()
    });
    let victim = stacks.running_commands(Some(2));
    docker(
        &[
            &["kill"],
            victim
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
        ]
        .concat(),
    );
    let outcome = finish(child, Duration::from_secs(120)).code(3);
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Passed, Status::Error], "");
    assert_eq!(results[1].first.exit_code, Some(137));
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn two_runs_at_once_do_not_interfere() {
    let _lock = docker_lock();
    // One prefix for both: the run id alone must keep them apart.
    let stacks = Stacks::new("twice");
    let plan = "1\tsleep:3\n2\tsleep:3\n";
    let first = stacks.spawn("light.yml", "first", plan, &[]);
    let second = stacks.spawn("light.yml", "second", plan, &[]);
    for (child, name) in [(first, "first"), (second, "second")] {
        let outcome = finish(child, Duration::from_secs(120)).code(0);
        let results = results(&outcome);
        expect_statuses(&results, &[Status::Passed; 2], name);
        for shard in 1..=2 {
            let result = stacks.out(&format!("{name}/shard-{shard}/result.txt"));
            assert_eq!(read(&result), "1  1\n", "{name}");
        }
    }
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn keep_on_failure_leaves_the_stack_up_and_clean_removes_it() {
    let _lock = docker_lock();
    let stacks = Stacks::new("keep");
    let outcome = stacks
        .command("light.yml", "out")
        .args([
            "--keep-on-failure",
            "--",
            "python",
            "/runner.py",
            "{tests}",
            "{out}",
        ])
        .stdin("1\texit:1\n")
        .run()
        .code(1);
    assert!(
        outcome.stderr.contains("left running"),
        "{}",
        outcome.stderr
    );
    assert!(
        !stacks.leftovers().is_empty(),
        "the failed stack was removed"
    );
    tool("stack-run")
        .args(["--clean", "--prefix", &stacks.prefix])
        .succeeds();
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

#[test]
fn dry_run_starts_nothing_and_hides_env_values() {
    let stacks = Stacks::new("dry");
    let outcome = stacks
        .command("light.yml", "out")
        .args(["--dry-run", "--node", "2/2", "-e", "TOKEN=s3cret"])
        .args(["--", "pytest", "@{tests}", "--junit-xml={out}/junit.xml"])
        .stdin("1\ta\n2\tb\n3\tc\n4\td\n")
        .succeeds();
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", outcome.stdout);
    assert!(lines[0].contains("service: app; sidecars: cache; built once: app"));
    assert!(lines[1].starts_with("# shards: each runs by `docker exec`"));
    assert!(
        lines[2].starts_with("shard 2/4 (1 tests): "),
        "{}",
        lines[2]
    );
    assert!(lines[2].ends_with(
        "run --rm -T --no-deps -e SHARDSTACK_SHARD=2 -e SHARDSTACK_SHARDS=4 \
         -e SHARDSTACK_STACK=2 -e COVERAGE_FILE=/shardstack/out/.coverage -e TOKEN=… \
         app pytest @/shardstack/out/tests.txt --junit-xml=/shardstack/out/junit.xml"
    ));
    assert!(lines[3].starts_with("shard 4/4 (1 tests): "));
    assert!(!outcome.stdout.contains("s3cret"));
    assert!(!stacks.out("out").exists());
}

#[test]
fn a_shard_folder_with_results_is_not_overwritten() {
    let stacks = Stacks::new("busy");
    stacks.dir.write("out/shard-2/junit.xml", "<testsuites/>");
    stacks
        .command("light.yml", "out")
        .args(["--", "pytest", "@{tests}"])
        .stdin("1\ta\n2\tb\n")
        .run()
        .fails_with(2, "shard-2 already holds results; use --force");
    assert_eq!(stacks.dir.read("out/shard-2/junit.xml"), "<testsuites/>");
    assert!(!stacks.out("out/shard-1").exists());
}

#[test]
fn bad_plans_and_flags_are_usage_errors() {
    let stacks = Stacks::new("usage");
    stacks
        .command("light.yml", "out")
        .args(["--", "pytest", "@{tests}"])
        .stdin("1\ta\nb\n")
        .run()
        .fails_with(2, "<stdin>: mixes SHARD<TAB>ID lines with bare test ids");
    stacks
        .command("light.yml", "out")
        .args(["--node", "3/2", "--", "pytest"])
        .stdin("1\ta\n")
        .run()
        .fails_with(2, "is not I/M with 1 <= I <= M");
    tool("stack-run")
        .arg("-f")
        .arg(fixture("stack-run/light.yml"))
        .args(["-s", "web", "--", "pytest", "@{tests}"])
        .stdin("1\ta\n")
        .run()
        .fails_with(
            2,
            "the compose file has no service \"web\" (it has: app, cache)",
        );
}

/// `make test` runs this module under each compose (SHARDSTACK_COMPOSE); the
/// program named there is the one that raised the stack, and Compose v2's
/// standalone binary (`docker-compose-v2`, from `scripts/setup`) works as
/// well as the `docker compose` plugin.
#[test]
fn the_chosen_compose_raises_the_stack() {
    let _lock = docker_lock();
    let asked = std::env::var("SHARDSTACK_COMPOSE").ok();
    let mut programs: Vec<String> = asked.into_iter().collect();
    programs.push("docker-compose-v2".into());
    for program in programs {
        let stacks = Stacks::new("program");
        let outcome = stacks
            .command("light.yml", "out")
            .env("SHARDSTACK_COMPOSE", &program)
            .args(["--", "python", "/runner.py", "{tests}", "{out}"])
            .stdin("1\tok\n")
            .succeeds();
        expect_statuses(&results(&outcome), &[Status::Passed], &program);
        let log = read(&stacks.out("out/shard-1/log.txt"));
        let up = log.lines().find(|line| line.contains(" up -d ")).unwrap();
        assert!(
            up.starts_with(&format!("stack-run: $ {program} --project-directory")),
            "{program}: {up}"
        );
        assert_eq!(stacks.leftovers(), Vec::<String>::new(), "{program}");
    }
}

#[test]
fn a_shards_command_is_execed_in_a_container_started_beside_its_sidecars() {
    let _lock = docker_lock();
    let stacks = Stacks::new("exec");
    let outcome = stacks
        .command("light.yml", "out")
        .args(["--", "python", "/runner.py", "{tests}", "{out}"])
        .stdin("1\tok\n")
        .succeeds();
    expect_statuses(&results(&outcome), &[Status::Passed], &outcome.stderr);
    let log = read(&stacks.out("out/shard-1/log.txt"));
    assert!(log.contains("resident container started in"), "{log}");
    let command = log
        .lines()
        .find(|line| line.contains("/runner.py"))
        .unwrap();
    assert!(
        command.starts_with("stack-run: $ docker exec ")
            && command.contains("-app-resident python /runner.py"),
        "{command}"
    );
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

/// `stack-run --dry-run --node auto` on a 5-shard plan in an environment
/// holding only `vars` of all the CI variables `--node auto` reads (the test
/// machine's own CI=true and the like stay out of it).
fn node_auto(vars: &[(&str, &str)]) -> Outcome {
    let stacks = Stacks::new("auto");
    let mut cmd = stacks.command("light.yml", "out");
    for source in shared::ci::SOURCES {
        cmd = cmd.env_remove(source.index).env_remove(source.total);
    }
    for (key, value) in vars {
        cmd = cmd.env(key, value);
    }
    cmd.args(["--dry-run", "--node", "auto", "--", "pytest", "@{tests}"])
        .stdin("1\ta\n2\tb\n3\tc\n4\td\n5\te\n")
        .run()
}

/// The shards a dry run lists, as `K/N`.
fn dry_run_shards(outcome: &Outcome) -> Vec<&str> {
    outcome
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("shard "))
        .filter_map(|line| line.split(' ').next())
        .collect()
}

#[test]
fn node_auto_reads_each_cis_numbering() {
    // The CI's variables, the shards the dry run lists, what stack-run says.
    type Case = (
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
        &'static str,
    );
    let cases: &[Case] = &[
        (
            &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "2")],
            &["2/5", "4/5"],
            "node 2/2 (from GitLab CI's CI_NODE_INDEX and CI_NODE_TOTAL)",
        ),
        (
            &[("CI_NODE_TOTAL", "1")],
            &["1/5", "2/5", "3/5", "4/5", "5/5"],
            "node 1/1 (from GitLab CI's",
        ),
        (
            &[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "2")],
            &["1/5", "3/5", "5/5"],
            "node 1/2 (from CircleCI's",
        ),
        (
            &[
                ("BUILDKITE_PARALLEL_JOB", "2"),
                ("BUILDKITE_PARALLEL_JOB_COUNT", "3"),
            ],
            &["3/5"],
            "node 3/3 (from Buildkite's",
        ),
        (
            &[("SEMAPHORE_JOB_INDEX", "1"), ("SEMAPHORE_JOB_COUNT", "3")],
            &["1/5", "4/5"],
            "node 1/3 (from Semaphore's",
        ),
        (
            &[
                ("SYSTEM_JOBPOSITIONINPHASE", "2"),
                ("SYSTEM_TOTALJOBSINPHASE", "4"),
            ],
            &["2/5"],
            "node 2/4 (from Azure Pipelines'",
        ),
        (
            &[
                ("CIRCLE_NODE_INDEX", "0"),
                ("CIRCLE_NODE_TOTAL", "2"),
                ("SHARDSTACK_NODE_INDEX", "2"),
                ("SHARDSTACK_NODE_TOTAL", "2"),
            ],
            &["2/5", "4/5"],
            "node 2/2 (from shardstack's SHARDSTACK_NODE_INDEX",
        ),
    ];
    for (vars, shards, said) in cases {
        let outcome = node_auto(vars).code(0);
        assert_eq!(dry_run_shards(&outcome), *shards, "{vars:?}");
        assert!(
            outcome.stderr.contains(said),
            "{vars:?}: {}",
            outcome.stderr
        );
    }
}

#[test]
fn node_auto_without_ci_variables_names_them() {
    let outcome = node_auto(&[("CI", "true")]).fails_with(
        2,
        "stack-run: --node auto: no CI node variables are set: set SHARDSTACK_NODE_INDEX \
         and SHARDSTACK_NODE_TOTAL (1-based), or run in a parallel job of GitLab CI \
         (CI_NODE_INDEX/CI_NODE_TOTAL), CircleCI (CIRCLE_NODE_INDEX/CIRCLE_NODE_TOTAL), \
         Buildkite (BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT), Semaphore \
         (SEMAPHORE_JOB_INDEX/SEMAPHORE_JOB_COUNT), Azure Pipelines \
         (SYSTEM_JOBPOSITIONINPHASE/SYSTEM_TOTALJOBSINPHASE)\n",
    );
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
}

#[test]
fn node_auto_with_bad_values_names_the_variable() {
    node_auto(&[("CIRCLE_NODE_INDEX", "2"), ("CIRCLE_NODE_TOTAL", "2")]).fails_with(
        2,
        "stack-run: --node auto: CIRCLE_NODE_INDEX=2 is out of range: \
         with CIRCLE_NODE_TOTAL=2, CircleCI numbers nodes 0 to 1\n",
    );
    node_auto(&[
        ("SHARDSTACK_NODE_INDEX", "x"),
        ("SHARDSTACK_NODE_TOTAL", "2"),
    ])
    .fails_with(2, "SHARDSTACK_NODE_INDEX=\"x\" is not a whole number\n");
    node_auto(&[("CI_NODE_INDEX", "1")])
        .fails_with(2, "CI_NODE_INDEX=1 is set but CI_NODE_TOTAL is not\n");
}

#[test]
fn jobs_auto_says_how_many_stacks_this_host_holds() {
    let stacks = Stacks::new("auto");
    let outcome = stacks
        .command("light.yml", "out")
        .args(["--dry-run", "--jobs", "auto", "--", "true", "{tests}"])
        .stdin("1\ta\n")
        .succeeds();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(
        outcome.stderr.contains("--jobs auto: ")
            && outcome.stderr.contains(&format!("({cores} cores, ")),
        "{}",
        outcome.stderr
    );
    stacks
        .command("light.yml", "out")
        .args(["--dry-run", "--stacks", "0", "--", "true", "{tests}"])
        .stdin("1\ta\n")
        .run()
        .fails_with(2, "expected a whole number from 1 up, or auto");
}

#[test]
fn a_dry_run_of_batches_shows_each_batchs_folder_under_the_stacks_mount() {
    let stacks = Stacks::new("dry-batches");
    let outcome = stacks
        .command("light.yml", "out")
        .args([
            "--dry-run",
            "--stacks",
            "2",
            "--",
            "true",
            "{tests}",
            "{out}",
        ])
        .stdin("1\ta\n2\tb\n3\tc\n")
        .succeeds();
    assert!(
        outcome
            .stdout
            .contains("# batches on 2 stacks: each runs by `docker exec`"),
        "{}",
        outcome.stdout
    );
    let mount = format!("-v {}:/shardstack/out ", stacks.out("out").display());
    let batch = outcome
        .stdout
        .lines()
        .find(|l| l.starts_with("shard 3/3"))
        .unwrap();
    assert!(batch.contains(&mount), "{batch}");
    assert!(
        batch.ends_with(" app true /shardstack/out/shard-3/tests.txt /shardstack/out/shard-3"),
        "{batch}"
    );
}

#[test]
fn a_rebuilt_image_takes_the_cache_tag_and_leaves_no_untagged_image() {
    let _lock = docker_lock();
    let stacks = Stacks::new("rebuild");
    let cache_tag = format!("{}-app", stacks.prefix);
    let mut ids = Vec::new();
    for nonce in ["first", "second"] {
        // A build arg that differs: another image each time.
        stacks
            .command("fresh.yml", nonce)
            .env("NONCE", format!("{}-{nonce}", stacks.prefix))
            .args(["--", "python", "/runner.py", "{tests}", "{out}"])
            .stdin("1\tok\n")
            .succeeds();
        ids.push(docker(&[
            "image", "inspect", "--format", "{{.Id}}", &cache_tag,
        ]));
    }
    assert_ne!(ids[0], ids[1], "two builds, one image");
    assert_eq!(stacks.dangling_images(), Vec::<String>::new());
    let gone = Command::new("docker")
        .args(["image", "inspect", &ids[0][0]])
        .output()
        .unwrap();
    assert!(
        !gone.status.success(),
        "the first build's image is still there"
    );
}

#[test]
fn a_build_says_why_is_not_timed_and_an_image_of_the_same_inputs_is_reused_under_either_compose() {
    // Issue 26 item 10: an image built under Compose v1 was built again under
    // v2 (178 s), and all that was said was `building py`.
    let _lock = docker_lock();
    let stacks = Stacks::new("buildwhy");
    let dir = Dir::new();
    dir.write("docker-compose.yml", "services:\n  app:\n    build: .\n");
    dir.write(
        "Dockerfile",
        "FROM shardstack/bookworm:12\nCOPY app.txt /app.txt\nRUN sleep 6\nRUN cat /app.txt\n",
    );
    // Its own contents: no builder's cache answers for the slow step.
    let nonce = format!("{}-{:?}", stacks.prefix, Instant::now());
    dir.write("app.txt", format!("one {nonce}\n"));
    let this = std::env::var("SHARDSTACK_COMPOSE").unwrap_or_else(|_| "docker compose".into());
    let other = match this.as_str() {
        "docker-compose" => "docker compose",
        _ => "docker-compose",
    };
    let run = |out: &str, compose: &str, extra: &[&str]| {
        tool("stack-run")
            .arg("-f")
            .arg(dir.join("docker-compose.yml"))
            .args(["-s", "app", "--prefix", &stacks.prefix, "-o"])
            .arg(stacks.out(out))
            .env("SHARDSTACK_COMPOSE", compose)
            .args(extra)
            .args(["--", "test", "-f", "{tests}"])
            .stdin("1\tt\n")
            .succeeds()
    };
    let kept = format!("{}-app", stacks.prefix);
    let log = |out: &str| stacks.out(&format!("{out}/.stack-run/build.log"));

    // The build outlasts the timeout, which does not count it.
    let first = run("first", &this, &["--timeout", "3s"]);
    let why = format!(
        "building app: no image of an earlier run ({kept}) (its log: {})\n",
        log("first").display()
    );
    assert!(first.stderr.contains(&why), "{}", first.stderr);
    // A build of more than a few seconds says where it is.
    let progress = format!("building app (its log: {}): ", log("first").display());
    assert!(first.stderr.contains(&progress), "{}", first.stderr);
    assert!(first.stderr.contains("built app in "), "{}", first.stderr);

    // The same inputs, the other compose: the image is used as it is.
    let second = run("second", other, &[]);
    assert!(
        second.stderr.contains(&format!(
            "app: reusing {kept}, built from the same context, Dockerfile, build options and \
             base image (not built again)\n"
        )),
        "{}",
        second.stderr
    );
    assert!(!second.stderr.contains("building app"), "{}", second.stderr);
    assert!(!log("second").exists());

    // A file of the context changed: built again, and said why.
    dir.write("app.txt", format!("two {nonce}\n"));
    let third = run("third", &this, &[]);
    let why = format!("building app: its context changed since {kept} was built (its log: ");
    assert!(third.stderr.contains(&why), "{}", third.stderr);
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
    assert_eq!(stacks.dangling_images(), Vec::<String>::new());
}
