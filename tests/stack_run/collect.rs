//! `stack-run --collect` as a pipeline's first step, and the ids it prints
//! when they come back as a plan: what it shows, what it makes, what it
//! leaves (issue 26 items 1, 15 and 17).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::Stacks;
use crate::util::{Dir, TestCommand, docker_lock, fixture, local_images, tool};

const SESSION_SETUP: &str = "session-setup/docker-compose.yml";
const OUTSIDE_ROOTDIR: &str = "outside-rootdir/docker-compose.yml";
const OWN_VOLUME: &str = "own-volume/docker-compose.yml";

/// `stack-run --collect` of `file`'s app in `cwd`, with no `-o`: its files
/// would go to `reports/` there. `TMPDIR` is `tmp`, so its temporary
/// folder can be watched too.
fn collect(stacks: &Stacks, file: &str, cwd: &Path, tmp: &Path) -> TestCommand {
    let mut cmd = tool("stack-run")
        .current_dir(cwd)
        .env("TMPDIR", tmp)
        .arg("-f")
        .arg(fixture(&format!("stack-run/{file}")))
        .args(["-s", "app", "--prefix", &stacks.prefix, "--collect"]);
    for (key, value) in local_images() {
        cmd = cmd.env(&key, value);
    }
    cmd
}

/// Docker's events as they happen, from `start` to `stop`: the daemon
/// keeps only the last few hundred, too few on a shared host to ask later.
struct Events(Child);

impl Events {
    fn start() -> Events {
        let child = Command::new("docker")
            .args(["events", "--filter", "event=create", "--format"])
            .arg("{{.Type}} {{.Actor.ID}} {{.Actor.Attributes.name}}")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Time to subscribe before anything happens.
        std::thread::sleep(Duration::from_secs(1));
        Events(child)
    }

    /// The names of the objects of each kind created with `prefix`.
    fn stop(mut self, prefix: &str) -> BTreeMap<String, Vec<String>> {
        std::thread::sleep(Duration::from_secs(1));
        self.0.kill().unwrap();
        let output = self.0.wait_with_output().unwrap();
        let mut created: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            // A volume's name is its id; the others have a name attribute.
            let (kind, name) = match words.as_slice() {
                ["volume", id, ..] => ("volume", *id),
                [kind, _, name, ..] => (*kind, *name),
                _ => continue,
            };
            if name.starts_with(prefix) {
                created.entry(kind.into()).or_default().push(name.into());
            }
        }
        created
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Regression (issue 26 item 1): a collection command that failed was
/// shown with every `-e NAME=VALUE` in clear. Its values are hidden as on
/// the shard path.
#[test]
fn a_failed_collect_hides_env_values() {
    let _lock = docker_lock();
    let stacks = Stacks::new("collect-env");
    let (cwd, tmp) = (Dir::new(), Dir::new());
    let failed = collect(&stacks, SESSION_SETUP, cwd.path(), tmp.path())
        .args([
            "-e",
            "API_TOKEN=s3cret-t0ken",
            "--",
            "pytest",
            "--collect-only",
        ])
        .args(["-q", "tests/gone.py"])
        .run()
        .code(1);
    assert!(
        failed
            .stderr
            .contains("stack-run: the collection command exited 4: "),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains(" -e API_TOKEN=… app pytest"),
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains("s3cret"), "{}", failed.stderr);
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

/// Regression (issue 26 item 15): `--collect` wrote `reports/.stack-run/`
/// in the current folder and created the sidecar's volume (and its
/// network), though listing tests needs none of them. Regression too: it
/// then dropped the app's own named volume, which shows the image's tests
/// over the bind-mounted host folder, and found no test. Now it leaves no
/// file and creates the app's container, its default network and its own
/// volume, removed afterwards: no volume of a sidecar.
#[test]
fn collect_leaves_no_file_and_makes_no_sidecar_volume() {
    let _lock = docker_lock();
    let stacks = Stacks::new("collect-bare");
    let (cwd, tmp) = (Dir::new(), Dir::new());
    let events = Events::start();
    let outcome = collect(&stacks, OWN_VOLUME, cwd.path(), tmp.path())
        .args(["--", "pytest", "--collect-only", "-q"])
        .succeeds();
    let created = events.stop(&stacks.prefix);
    assert!(
        outcome.stdout.contains("8 tests collected"),
        "{}",
        outcome.stdout
    );
    // Regression (issue 26 item 15 review): the build's note named a log in
    // the temporary folder that was gone when the collection ended.
    assert!(
        outcome
            .stderr
            .contains(".log, removed if the build succeeds)"),
        "{}",
        outcome.stderr
    );
    assert_eq!(entries(cwd.path()), Vec::<String>::new());
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
    // The daemon may report one volume's creation twice.
    let mut volumes = created["volume"].clone();
    volumes.dedup();
    assert_eq!(volumes.len(), 1, "{created:?}");
    assert!(volumes[0].ends_with("_suite"), "{created:?}");
    let containers = &created["container"];
    assert_eq!(containers.len(), 1, "{created:?}");
    assert!(containers[0].contains("-app-run") || containers[0].contains("_app_run"));
    assert_eq!(created["network"].len(), 1, "{created:?}");
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

/// Regression (issue 26 item 15 review): a failed build kept the whole
/// temporary folder (derived compose files included), though `--collect`
/// says it writes no file. Now only the build's log stays, under a name
/// that says what it is, and the message names it.
#[test]
fn a_failed_collect_build_keeps_only_its_log() {
    let _lock = docker_lock();
    let stacks = Stacks::new("collect-broken");
    let (cwd, tmp) = (Dir::new(), Dir::new());
    let failed = collect(&stacks, "broken.yml", cwd.path(), tmp.path())
        .args(["--", "pytest", "--collect-only", "-q"])
        .run()
        .code(3);
    assert_eq!(entries(cwd.path()), Vec::<String>::new());
    let kept = entries(tmp.path());
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].starts_with("stack-run-collect-build-") && kept[0].ends_with(".log"),
        "{kept:?}"
    );
    let log = tmp.path().join(&kept[0]);
    assert!(
        failed.stderr.contains("stack-run: building app failed ("),
        "{}",
        failed.stderr
    );
    assert!(
        failed
            .stderr
            .contains(&format!("); see {}\n", log.display())),
        "{}",
        failed.stderr
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("this build fails"), "{text}");
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

/// Regression (issue 26 item 17): pytest names a test found under a
/// testpaths entry outside its rootdir from that entry (`test_b.py::test_b`)
/// and cannot take the id back: the shard holding it failed with `file or
/// directory not found`. The plan is refused before any stack starts.
#[test]
fn ids_pytest_cannot_take_back_are_refused_before_any_stack_starts() {
    let _lock = docker_lock();
    let stacks = Stacks::new("rootdir");
    let (cwd, tmp) = (Dir::new(), Dir::new());
    let ids = collect(&stacks, OUTSIDE_ROOTDIR, cwd.path(), tmp.path())
        .args(["--", "pytest", "--collect-only", "-q"])
        .succeeds()
        .stdout;
    assert!(ids.contains("\ntest_b.py::test_b\n"), "{ids}");
    let plan = tool("shard-plan")
        .args(["-n", "2"])
        .stdin(&ids)
        .succeeds()
        .stdout;
    let events = Events::start();
    let refused = stacks
        .command(OUTSIDE_ROOTDIR, "reports")
        .args(["--", "pytest", "@{tests}"])
        .stdin(&plan)
        .run()
        .fails_with(2, "1 planned id(s) in 1 file(s) name a file the service's container does not have, the first at ");
    // The plan's line of the id (issue 26 item 17 review: it was not named).
    let line = plan
        .lines()
        .position(|line| line.ends_with("\ttest_b.py::test_b"))
        .unwrap()
        + 1;
    assert!(
        refused.stderr.contains(&format!(
            "the first at <stdin>:{line}: test_b.py::test_b: /code/backend/test_b.py is "
        )),
        "{}",
        refused.stderr
    );
    let backend = fixture("stack-run/outside-rootdir/backend");
    assert!(
        refused.stderr.contains(&format!(
            "{}/test_b.py on the host (bind-mounted), and there is no such file",
            backend.display()
        )),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("collect in the service's working dir (/code/backend)")
    );
    assert!(!stacks.out("reports").exists());
    assert_eq!(events.stop(&stacks.prefix), BTreeMap::new());
    // The ids under the rootdir are taken.
    stacks
        .command(OUTSIDE_ROOTDIR, "reports")
        .args(["--dry-run", "--", "pytest", "@{tests}"])
        .stdin("1\ttests/test_a.py::test_a\n")
        .succeeds();
}

/// Regression (issue 26 item 17 review): the check assumed pytest runs in
/// the service's working dir, and refused (exit 2) a plan for a command
/// that runs it elsewhere, through a shell. Such a command is not checked.
#[test]
fn ids_are_not_checked_for_a_command_that_runs_pytest_through_a_shell() {
    let _lock = docker_lock();
    let stacks = Stacks::new("rootdir-sh");
    let plan = "1\ttests/test_a.py::test_a\n2\ttest_b.py::test_b\n";
    let shell = r#"cd /code/other_pkg_tests && exec pytest "$@""#;
    let dry = stacks
        .command(OUTSIDE_ROOTDIR, "reports")
        .args(["--dry-run", "--", "sh", "-c", shell, "sh", "@{tests}"])
        .stdin(plan)
        .succeeds();
    assert!(!dry.stderr.contains("planned id(s)"), "{}", dry.stderr);
    // The same plan, pytest run directly: refused.
    stacks
        .command(OUTSIDE_ROOTDIR, "reports")
        .args(["--dry-run", "--", "pytest", "@{tests}"])
        .stdin(plan)
        .run()
        .fails_with(2, "the first at <stdin>:2: test_b.py::test_b: ");
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}
