//! What a test leaves on the host, and what it must leave alone. A failing
//! test's objects are swept by its guard (`util::Swept`); and a run must work
//! beside what other projects and other runs keep on a shared host (a CI
//! runner serving several repositories): their seed images, a dangling
//! seed-labelled image, their stacks still up. `Neighbours` makes those.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use shared::contract::labels;

use crate::stack_run::{dangling_images, docker};
use crate::util::{Swept, docker_lock, leftovers, local_images};

/// The label seed images carry: their key.
const SEED_LABEL: &str = "io.shardstack.seed";

/// Another project's objects on this host, removed when dropped: its seed
/// images for two sidecars, an untagged (dangling) seed image, and a stack of
/// another run still up (a container on a network, both labelled).
pub struct Neighbours {
    pub prefix: String,
    images: Vec<String>,
    container: String,
    network: String,
}

impl Neighbours {
    pub fn new() -> Neighbours {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let count = COUNT.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("neighbour-{}-{count}", std::process::id());
        let prefix_label = format!("{}={prefix}", labels::PREFIX);
        let key = "0123456789abcdef";
        let images = vec![
            labelled_image(
                &[&prefix_label, &format!("{SEED_LABEL}={key}")],
                Some(&format!("{prefix}-seed-db:{key}")),
            ),
            labelled_image(
                &[&prefix_label, &format!("{SEED_LABEL}={key}")],
                Some(&format!("{prefix}-seed-redis:{key}")),
            ),
            // Built with no tag: `<none>:<none>`, as a moved tag leaves one.
            labelled_image(
                &[&prefix_label, &format!("{SEED_LABEL}=fedcba9876543210")],
                None,
            ),
        ];
        let run_label = format!("{}={prefix}-run", labels::RUN);
        let network = docker(&[
            "network",
            "create",
            "--label",
            &prefix_label,
            "--label",
            &run_label,
            &prefix,
        ])
        .remove(0);
        let container = docker(&[
            "run",
            "-d",
            "--label",
            &prefix_label,
            "--label",
            &run_label,
            "--network",
            &prefix,
            &redis_image(),
        ])
        .remove(0);
        Neighbours {
            prefix,
            images,
            container,
            network,
        }
    }

    /// Every object is still there, the container still running.
    pub fn assert_untouched(&self) {
        for image in &self.images {
            assert!(
                docker_ok(&["image", "inspect", image]),
                "the neighbour's image {image} was removed"
            );
        }
        let running = docker(&["inspect", "--format", "{{.State.Running}}", &self.container]);
        assert_eq!(running, ["true"], "the neighbour's stack was stopped");
        assert!(
            docker_ok(&["network", "inspect", &self.network]),
            "the neighbour's network was removed"
        );
    }
}

impl Drop for Neighbours {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.container])
            .output();
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
        let _ = Command::new("docker")
            .arg("rmi")
            .arg("-f")
            .args(&self.images)
            .output();
    }
}

fn redis_image() -> String {
    local_images()
        .into_iter()
        .find(|(key, _)| key == "REDIS_IMAGE")
        .map(|(_, image)| image)
        .expect("REDIS_IMAGE in images/local.env")
}

/// A new image (the local Redis image with LABELS), tagged TAG or left
/// untagged: its id.
fn labelled_image(labels: &[&str], tag: Option<&str>) -> String {
    let mut build = Command::new("docker");
    build.args(["build", "-q"]);
    for label in labels {
        build.args(["--label", label]);
    }
    if let Some(tag) = tag {
        build.args(["-t", tag]);
    }
    let mut child = build
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dockerfile = format!("FROM {}\n", redis_image());
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "docker build of an image failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn docker_ok(args: &[&str]) -> bool {
    Command::new("docker")
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Regression (issue 26, item 6): a failed `github_example` run left its
/// seed images. A test's guard sweeps its prefix whether the test passes or
/// panics: here a test made a container, a network, a volume and an image
/// under its prefix, then failed.
#[test]
fn a_failing_test_leaves_nothing_behind() {
    let _lock = docker_lock();
    let prefix = format!("hygiene-failing-{}", std::process::id());
    let label = format!("{}={prefix}", labels::PREFIX);
    let failing = std::thread::spawn({
        let (prefix, label) = (prefix.clone(), label.clone());
        move || {
            let _swept = Swept(prefix.clone());
            docker(&["network", "create", "--label", &label, &prefix]);
            docker(&["volume", "create", "--label", &label, &prefix]);
            docker(&[
                "create",
                "--label",
                &label,
                "--network",
                &prefix,
                &redis_image(),
            ]);
            labelled_image(&[&label], Some(&format!("{prefix}-seed-db:key")));
            panic!("the test failed");
        }
    });
    assert!(failing.join().is_err(), "the test was meant to fail");
    assert_eq!(leftovers(&prefix), Vec::<String>::new());
    assert_eq!(
        docker(&["images", "-q", "--filter", &format!("label={label}")]),
        Vec::<String>::new()
    );
}

/// The neighbours are what they claim: a dangling seed image among them, and
/// nothing of theirs left once dropped.
#[test]
fn neighbours_hold_a_dangling_seed_image_and_leave_nothing() {
    let _lock = docker_lock();
    let neighbours = Neighbours::new();
    neighbours.assert_untouched();
    let filter = format!("label={}={}", labels::PREFIX, neighbours.prefix);
    let dangling = dangling_images(&neighbours.prefix);
    assert_eq!(dangling.len(), 1, "{dangling:?}");
    let prefix = neighbours.prefix.clone();
    drop(neighbours);
    assert_eq!(leftovers(&prefix), Vec::<String>::new());
    assert_eq!(
        docker(&["images", "-q", "--filter", &filter]),
        Vec::<String>::new()
    );
}
