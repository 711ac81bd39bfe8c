//! The command line of stack-run.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shared::ci::Node;
use shared::exit;
use shared::help::{Example, after_help};

/// Run every shard of a test plan in its own docker-compose project.
///
/// Reads a plan (`SHARD<TAB>TEST_ID` lines, from shard-plan) and, for each
/// shard, starts a private copy of the compose file's stack (its own
/// containers, network and volumes; published host ports and
/// `container_name` dropped), runs COMMAND in the service container, and
/// tears the stack down with its volumes, whatever happened.
///
/// COMMAND is run as an argument list, never through a shell. Its
/// placeholders: `{tests}` is the path, inside the container, of a file
/// with the shard's test ids, one a line (pytest reads it as `@{tests}`);
/// `{out}` is the shard's artifact folder inside the container, which is
/// OUT/shard-K on the host; `{shard}` and `{shards}` are the shard's number
/// and the plan's shard count; `{stack}` is the stack's number (the shard's
/// own, or with --stacks the one running the batch). `-e` values take
/// placeholders too. Unless `-e` sets them, the command gets
/// SHARDSTACK_SHARD, SHARDSTACK_SHARDS, SHARDSTACK_STACK and
/// COVERAGE_FILE={out}/.coverage (shards sharing a bind-mounted source tree
/// would otherwise write one `.coverage` file).
///
/// The command runs by `docker exec` in a container of the service that is
/// started, idling in `sleep`, while the sidecars get ready, with the
/// service's entrypoint before it, as `compose run` would put it: the
/// container's start is off the critical path. An image without `sleep`
/// gets a `compose run --rm -T --no-deps` instead.
///
/// Each shard's full output goes to OUT/shard-K/log.txt, and the sidecars'
/// logs to OUT/shard-K/services.log when the shard did not pass. One JSON
/// line per shard goes to stdout as it ends: shard, shards, project, status
/// (passed, failed, error, timeout, interrupted), exit_code, tests,
/// up_seconds, run_seconds, down_seconds, out, message. Progress goes to
/// stderr: a live line per shard on a terminal, timestamped lines otherwise
/// (or when CI is set).
///
/// The command's exit status decides the shard's status: 0 passed, 1 failed
/// (pytest's "tests failed"); anything else is an error (a crash: 137
/// killed, pytest's 2 interrupted, 3 internal error, 4 usage error, 5 no
/// tests collected). A command whose container stopped under it (killed,
/// out of memory) is an error whatever it exited with.
///
/// The services with `build:` are built once for the whole run (tagged
/// PREFIX-RUNID-SERVICE for the run, and PREFIX-SERVICE so the next run's build
/// is cached); the run's tag is removed at the end. A run whose service was
/// built before from the same inputs (the files the builder is sent, the
/// Dockerfile, the build options and the base images, recorded in
/// io.shardstack.build.* labels on PREFIX-SERVICE) uses that image without a
/// build, whichever compose built it; otherwise it says why it builds, where
/// the build log is, and which step the build is at when it takes a while.
/// Containers, networks, volumes and images carry the labels
/// io.shardstack.prefix, io.shardstack.run and io.shardstack.shard, so
/// `--clean` can sweep what a killed run left. Compose is `docker compose` when
/// that works, else `docker-compose`; the environment variable
/// SHARDSTACK_COMPOSE overrides it (e.g. `SHARDSTACK_COMPOSE=docker-compose`).
///
/// On SIGINT or SIGTERM, from its start, stack-run stops launching shards,
/// stops the running ones (an image build in its last step, which takes a
/// second, finishes first), tears every stack down in parallel, prints a
/// result line for every shard (`interrupted` for those stopped or never
/// started) and exits 130 or 143; a second signal kills every child,
/// force-removes everything of the run by label and exits at once, printing
/// nothing more (no result lines for the shards still running).
///
/// --seed COMMAND makes the sidecars' state once, before any shard starts:
/// COMMAND runs in the service's container of a stack of its own (for
/// Django: `pytest --create-db --reuse-db` on one test, which creates and
/// migrates the test database), with the -e variables that have no
/// placeholder (a placeholder names one shard's files or numbers); the
/// sidecars are then stopped as compose stops them, and each one becomes an
/// image: its container committed, with its volumes' contents added at their
/// paths (bind and tmpfs mounts are not captured; the seed log says so).
/// Every shard's sidecars start from these images, and Docker fills each new
/// container's volumes from them: each shard has its own copy, and what it
/// writes reaches neither the seed nor another shard. The shards then run
/// with `--reuse-db`. The seed's output is in OUT/.stack-run/seed.log; a
/// seed command that fails fails the run (exit 3, every shard an error, none
/// started). Seeding gets a result line of its own on stdout, before any
/// shard's, with `seed` (the key's first 16 hex digits) and no `shard`:
/// seed, status, reused (found under its key, not made), started_seconds,
/// seconds, images (each sidecar's), log, message. Each shard's log.txt
/// says which seed each sidecar started from: its key, its image, when that
/// was made and how long ago, and whether this run or an earlier one made
/// it. Without --seed-key the seed images are the run's own
/// (PREFIX-RUNID-seed-SERVICE) and go at its end. With --seed-key they are
/// kept as PREFIX-seed-SERVICE:KEY, labelled io.shardstack.seed with the
/// full key: a SHA-256 of the seed command, the -e variables it gets, the
/// sidecars' configurations (image names included) and the contents of the
/// files given; a run whose key finds every sidecar's image with that label
/// starts from them at once, and one that does not (a file changed, an image
/// missing or another's) seeds again and removes the prefix's older seeds.
/// A seed image also proves, by its labels, which sidecar and which
/// resolved configuration (and image) it was made from; one that does not
/// is rebuilt, never used. --seed-cache FILE carries exactly this run's
/// seed between CI jobs: loaded when FILE holds it, saved after seeding;
/// --print-seed-key prints the key a CI cache of FILE is keyed on.
/// `--clean` removes the seed images.
///
/// Stack-run keeps its own files in OUT/.stack-run: the derived compose
/// files (`shard-K.compose.json`, to reach a kept stack), the build log
/// (build.log), the seed's log (seed.log), a batch stack's log
/// (`stack-NAME.log`) and, while the seed is captured, its volumes'
/// archives (`seed-SIDECAR/`, removed once its image is built).
///
/// --collect lists the tests the same way: COMMAND (say `pytest
/// --collect-only -q`) runs once in the service's container, in a labelled
/// project of its own that holds the service alone (no sidecar, none of
/// their networks or volumes; the service's own named volumes stay, as a
/// `venv:/code/.venv` under a `.:/code` bind mount shows the image's files);
/// its stdout is printed, its container, network and volumes are removed,
/// as a shard's are, and no file is written (but a failed build's log,
/// kept in the temporary folder as `stack-run-collect-build-*.log`).
///
/// Before any stack starts, every planned pytest id whose file lies in a
/// folder the service bind-mounts must name a file that exists there: an
/// id pytest cannot take back (collected with another rootdir, or under a
/// testpaths entry outside it) is a usage error naming its plan line
/// (PLAN:LINE). Only when COMMAND runs pytest directly (`pytest`,
/// `py.test`, `python -m pytest`) without `--rootdir` or
/// `-c`/`--config-file` (in it or in PYTEST_ADDOPTS): through a shell or a
/// wrapper, pytest may run elsewhere, and is not checked.
///
/// A warning says when COMMAND, or the --seed command, runs pytest and
/// would start pytest-xdist: `-n`/`--numprocesses` in it, in PYTEST_ADDOPTS
/// (-e or the service's environment), or in the `addopts` of the project's
/// settings as pytest finds them (pytest.ini, .pytest.ini, pyproject.toml's
/// [tool.pytest] or [tool.pytest.ini_options], tox.ini's [pytest],
/// setup.cfg's [tool:pytest]) in the folders the service's code comes from:
/// its bind mounts, its build context, then the compose project's folder. A
/// seed made under xdist holds pytest-django's test_NAME_gw0, which shards
/// without xdist never open. Keys only Compose v2 knows (top-level `name:` and
/// `include:`, a service's `develop:`) make Compose v1 fail; the error then
/// says which key needs Compose v2.
#[derive(Parser, Debug)]
#[command(name = "stack-run", version, after_long_help = after_help(EXAMPLES, EXIT_STATUS))]
pub struct Cli {
    /// The compose file(s), as for compose's own -f (default: compose's own lookup)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The compose project folder (default: the first file's folder)
    #[arg(long, value_name = "DIR")]
    pub project_directory: Option<PathBuf>,

    /// The service whose container runs COMMAND; its dependencies are the sidecars
    #[arg(short, long, value_name = "SERVICE", required_unless_present = "clean")]
    pub service: Option<String>,

    /// The plan to run ('-' is stdin)
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub plan: PathBuf,

    /// Where the shard folders go: OUT/shard-K
    #[arg(short, long, value_name = "OUT", default_value = "reports")]
    pub out: PathBuf,

    /// Empty the shard folders this run writes when they hold a previous run's files
    /// (without it, a non-empty OUT/shard-K is an error; other folders are never touched)
    #[arg(long)]
    pub force: bool,

    /// How many stacks run at once (default: every selected shard at once).
    /// `auto`: one per core the process may use, and no more than the memory
    /// available holds at 1 GiB a stack (cgroup limits count), at least one
    #[arg(short, long, value_name = "P|auto", value_parser = parse_count)]
    pub jobs: Option<Count>,

    /// Where every stack's networks get their subnets: stack-run creates each
    /// stack's bridge networks with a subnet of this pool (/24, or the size
    /// of a subnet the compose file fixes, whose pinned addresses keep their
    /// offset), so stacks never exhaust Docker's default pools (about 30
    /// networks a host) nor collide on a fixed subnet
    #[arg(long, value_name = "CIDR", default_value = DEFAULT_SUBNET_POOL)]
    pub subnet_pool: shared::subnet::Subnet,

    /// Treat the plan's shards as batches (from `shard-plan --batches`) and
    /// run them on N stacks: each stack is brought up once and, whenever it
    /// is free, runs the next batch in plan order, with that batch's {tests}
    /// and {out} ({stack} is the stack's number), by `docker exec` in the
    /// stack's container of the service, kept up as long as the stack (a
    /// `compose run` per batch when its image has no `sleep`). A stack whose batch ended
    /// in an error or a timeout, or whose sidecars died, is replaced by a
    /// fresh one. Results say which stack ran each batch. `auto`: as many as
    /// --jobs auto would run
    #[arg(long, value_name = "N|auto", value_parser = parse_count, conflicts_with = "jobs")]
    pub stacks: Option<Count>,

    /// With --stacks and a pytest command: each stack runs one long-lived pytest
    /// session that collects once, while the sidecars get ready, and runs batch
    /// after batch, keeping session fixtures (the test database) from one batch
    /// to the next: a batch costs milliseconds, not a pytest start. stack-run mounts its plugin (shardstack_session) into the
    /// container, read-only. {tests} and {out} of the session's command are all
    /// selected batches' ids and OUT/session-S (its coverage goes there); each
    /// batch's JUnit report goes to OUT/shard-K under the name the command's
    /// --junit-xml gives (junit.xml without one). A test running when its
    /// session dies or passes --timeout is an error naming the stack and the
    /// cause; the batch's tests not started run once more in a new session.
    /// Needs pytest 8.4 or later; pytest-cov 7.1 for coverage
    #[arg(long, requires = "stacks")]
    pub session: bool,

    /// Run only this CI node's slice of the shards: node I of M runs shards
    /// I, I+M, I+2M, …. `auto` reads I and M from the CI's variables:
    /// SHARDSTACK_NODE_INDEX and SHARDSTACK_NODE_TOTAL (1-based; set them
    /// from a matrix on GitHub Actions or Jenkins) win over GitLab's
    /// CI_NODE_INDEX/CI_NODE_TOTAL, CircleCI's CIRCLE_NODE_INDEX/CIRCLE_NODE_TOTAL
    /// (0-based), Buildkite's BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT
    /// (0-based), Semaphore's SEMAPHORE_JOB_INDEX/SEMAPHORE_JOB_COUNT and Azure
    /// Pipelines' SYSTEM_JOBPOSITIONINPHASE/SYSTEM_TOTALJOBSINPHASE; none set
    /// is a usage error
    #[arg(long, value_name = "I/M|auto", value_parser = parse_node, conflicts_with = "shard")]
    pub node: Option<NodeArg>,

    /// Run only shard K
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    pub shard: Option<u32>,

    /// Print what would run, one line per shard, and start nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Stop a shard that runs longer than this, counted from its start,
    /// the time its images take to build not counted (e.g. 90, 90s, 15m,
    /// 1h); its command is killed, in a stack --keep-on-failure keeps too
    #[arg(long, value_name = "DURATION", value_parser = shared::timeout::parse)]
    pub timeout: Option<Duration>,

    /// Give up on sidecars not ready after this long
    #[arg(long, value_name = "DURATION", value_parser = shared::timeout::parse, default_value = "120s")]
    pub ready_timeout: Duration,

    /// Leave the stack of a shard that did not pass running, to debug it; stack-run
    /// says how to reach it and how to remove it
    #[arg(long)]
    pub keep_on_failure: bool,

    /// When a shard fails, run its failed tests once more in a fresh stack:
    /// {tests} is then OUT/shard-K/rerun/tests.txt and {out} OUT/shard-K/rerun.
    /// Failed tests are read from the JUnit XML files the command left in
    /// OUT/shard-K. A shard whose rerun passes counts as passed in the exit
    /// status; junit-merge then marks its tests flaky
    #[arg(long)]
    pub rerun_failed: bool,

    /// Remove every container, network, volume and image a previous run with
    /// this --prefix left behind, then exit
    #[arg(long, conflicts_with_all = ["dry_run", "shard", "node"])]
    pub clean: bool,

    /// Run COMMAND once in the service's container, without sidecars or
    /// their volumes, in a labelled project of its own, print its stdout
    /// (e.g. the test ids of `pytest --collect-only -q`) and remove every
    /// container and network it made; no plan is read, no placeholder
    /// expanded, no file written. Exits 1 when the command exits non-zero
    #[arg(long, conflicts_with_all = ["clean", "dry_run", "shard", "node", "stacks", "rerun_failed", "seed"])]
    pub collect: bool,

    /// Seed the sidecars: run COMMAND (split into words as a shell would, never run
    /// by one) once, in the service's container of a stack of its own, then start
    /// every shard's sidecars from the state it left, each on a private copy. For
    /// Django: create and migrate the test database, then run the shards with
    /// --reuse-db (see "--seed COMMAND" above)
    #[arg(long, value_name = "COMMAND", value_parser = parse_words)]
    pub seed: Option<Words>,

    /// Keep the seed for later runs under a key made from these files' contents
    /// (a folder: every file under it but hidden ones and __pycache__), the
    /// seed command and the sidecars' configurations: a run with the same key
    /// starts from it without seeding (e.g. `--seed-key requirements.txt '**/migrations'`).
    /// A quoted pattern is expanded by stack-run: `*` and `?` within a name, `**`
    /// any number of folders (hidden ones and __pycache__ not searched); one that
    /// matches nothing is an error. stack-run says how many files the key covers
    #[arg(long, value_name = "PATH", num_args = 1.., requires = "seed")]
    pub seed_key: Vec<PathBuf>,

    /// Carry the seed between CI jobs in FILE, for the CI's cache: when this
    /// host has no seed under the key, a FILE holding this run's seed (its key,
    /// its prefix, each sidecar's image) is loaded; one holding another is
    /// refused, said so, never loaded. After seeding, FILE gets exactly this
    /// run's seed images, nothing else of the host's, written whole or not at
    /// all, unless it held them already (see --print-seed-key)
    #[arg(long, value_name = "FILE", requires = "seed_key")]
    pub seed_cache: Option<PathBuf>,

    /// Print the seed's key in full (what --seed-key names the seed by) and
    /// exit, reading no plan and running nothing: the key of a CI cache that
    /// holds --seed-cache's FILE. Give it the run's -f, -s, -e, --seed and --seed-key
    #[arg(long, requires = "seed_key", conflicts_with_all = ["clean", "collect", "dry_run"])]
    pub print_seed_key: bool,

    /// Set an environment variable in the service container (placeholders are
    /// expanded); its value is never printed: logs, errors and --dry-run show KEY=…
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,

    /// The first part of every compose project name and the label that --clean sweeps by
    #[arg(long, value_name = "NAME", default_value = "shardstack", value_parser = parse_prefix)]
    pub prefix: String,

    /// The command to run in each shard, after `--`, with its placeholders
    #[arg(last = true, value_name = "COMMAND", required_unless_present_any = ["clean", "print_seed_key"])]
    pub command: Vec<String>,
}

/// `--node`: a fixed node, or `auto` to ask the CI (see [`shared::ci`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeArg {
    Fixed(Node),
    Auto,
}

/// `--jobs` and `--stacks`: a number, or `auto` for what the host holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Fixed(u32),
    Auto,
}

fn parse_count(text: &str) -> Result<Count, String> {
    match text {
        "auto" => Ok(Count::Auto),
        _ => match text.parse() {
            Ok(n) if n >= 1 => Ok(Count::Fixed(n)),
            _ => Err("expected a whole number from 1 up, or auto".into()),
        },
    }
}

fn parse_node(text: &str) -> Result<NodeArg, String> {
    if text == "auto" {
        return Ok(NodeArg::Auto);
    }
    Node::parse(text)
        .map(NodeArg::Fixed)
        .map_err(|err| format!("{err}, or auto"))
}

/// A command given as one argument, split into its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words(pub Vec<String>);

fn parse_words(text: &str) -> Result<Words, String> {
    match shlex::split(text) {
        Some(words) if !words.is_empty() => Ok(Words(words)),
        Some(_) => Err("expected a command".into()),
        None => Err("unbalanced quotes or a trailing backslash".into()),
    }
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// Compose project names allow lowercase letters, digits, `-` and `_`.
fn parse_prefix(text: &str) -> Result<String, String> {
    let valid = text.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a valid prefix: lowercase letters, digits, '-' and '_', \
             starting with a letter or digit"
        ))
    }
}

/// `--subnet-pool`'s default: outside Docker's default pools (172.17-31/16,
/// 192.168/16) and the ranges homes and offices use most; 256 networks of /24.
pub const DEFAULT_SUBNET_POOL: &str = "10.213.0.0/16";

pub const EXAMPLES: &[Example] = &[
    Example {
        about: "Run a 4-shard plan, each shard in its own stack, artifacts in reports/shard-K",
        command: "shard-plan --shards 4 < tests.txt |\n    stack-run -f docker-compose.yml --service app --out reports -- \\\n    pytest '@{tests}' '--junit-xml={out}/junit.xml' --cov '--cov-report=json:{out}/coverage.json'",
    },
    Example {
        about: "Pass a variable, with placeholders, to every shard's command",
        command: "stack-run --service app -e 'DJANGO_TEST_SHARD={shard}' < plan.tsv -- pytest '@{tests}'",
    },
    Example {
        about: "In a CI matrix of 3 jobs, this job (the second) runs shards 2, 5, 8, …",
        command: "stack-run --node 2/3 --service app --out reports < plan.tsv -- pytest '@{tests}'",
    },
    Example {
        about: "The same on CircleCI, GitLab, Buildkite, Semaphore or Azure Pipelines: the job's own slice",
        command: "stack-run --node auto --service app --out reports < plan.tsv -- pytest '@{tests}'",
    },
    Example {
        about: "Rerun failed tests once in a fresh stack; junit-merge then marks those that passed flaky",
        command: "stack-run --rerun-failed -s app < plan.tsv -- pytest '@{tests}' '--junit-xml={out}/junit.xml' \\\n    > results.jsonl; junit-merge reports/ > unit.xml",
    },
    Example {
        about: "List the tests in the app's container, leaving no container, network or volume behind",
        command: "stack-run --collect -f docker-compose.yml --service app -- pytest --collect-only -q > tests.txt",
    },
    Example {
        about: "Migrate the test database once, keep it until a migration changes, start every shard from it",
        command: "stack-run -s app --seed 'pytest -p no:xdist --create-db --reuse-db -q tests/test_health.py' \\\n    --seed-key requirements.txt '**/migrations' < plan.tsv -- pytest -p no:xdist --reuse-db '@{tests}'",
    },
    Example {
        about: "Show what would run, without starting anything",
        command: "stack-run --dry-run --service app < plan.tsv -- pytest '@{tests}'",
    },
    Example {
        about: "Remove whatever a killed run left behind",
        command: "stack-run --clean",
    },
];

pub const EXIT_STATUS: &[(i32, &str)] = &[
    (
        exit::SUCCESS,
        "every shard passed (--collect: the command exited 0)",
    ),
    (
        exit::FAILURES,
        "every shard ran, and some had failing tests (the command exited 1); --collect: the command exited non-zero",
    ),
    (
        exit::USAGE,
        "usage or input error: a bad flag or plan, a shard folder that is not empty (see --force)",
    ),
    (
        exit::INFRA,
        "infrastructure error: compose failed, a stack could not start, a shard crashed or timed out",
    ),
    (
        exit::SIGINT,
        "interrupted by SIGINT, after tearing every stack down",
    ),
    (
        exit::SIGTERM,
        "terminated by SIGTERM, after tearing every stack down",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn values_are_read_as_documented() {
        assert_eq!(parse_count("auto"), Ok(Count::Auto));
        assert_eq!(parse_count("3"), Ok(Count::Fixed(3)));
        assert!(parse_count("0").is_err());
        assert_eq!(parse_node("auto"), Ok(NodeArg::Auto));
        assert!(parse_node("3/2").unwrap_err().ends_with(", or auto"));
        assert_eq!(
            parse_words("pytest -q 'a b'"),
            Ok(Words(vec!["pytest".into(), "-q".into(), "a b".into()]))
        );
        assert!(parse_words("'open").is_err());
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert!(parse_env("=x").is_err());
        assert!(parse_prefix("ci-1_a").is_ok());
        assert!(parse_prefix("-ci").is_err());
        assert!(parse_prefix("CI").is_err());
    }

    #[test]
    fn a_run_needs_a_service_and_a_command_but_clean_needs_neither() {
        assert!(Cli::try_parse_from(["stack-run", "--clean"]).is_ok());
        assert!(Cli::try_parse_from(["stack-run", "--", "pytest"]).is_err());
        let cli = Cli::try_parse_from(["stack-run", "-s", "app", "--stacks", "2", "--", "pytest"])
            .unwrap();
        assert_eq!(cli.stacks, Some(Count::Fixed(2)));
        assert_eq!(cli.command, ["pytest"]);
    }
}
