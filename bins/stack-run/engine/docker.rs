//! Removing what a compose project created, found by label.
//!
//! Compose labels every container, network and volume it creates with its
//! project; stack-run adds its own labels (see `derive`). Removing by label
//! does what `compose down -v --remove-orphans` does, also for one-off `run`
//! containers whose client was killed, and works after a crash when no
//! client knows the project any more. The small docker-command helpers the
//! other modules share (`docker`, `list`, `inspect`, `image_field`, `output`)
//! live here too.

use std::process::Command;
use std::thread;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;
use shared::contract::labels;

use crate::engine::proc::{Children, describe};

/// Remove every container (with its anonymous volumes), network, volume and,
/// with `images`, image carrying `label=value`. Returns how many objects went.
///
/// Another teardown of the same objects may be under way (a worker's and the
/// second signal's): removal errors are not final, what counts is that
/// nothing is left, so it lists and removes again until nothing is, for a while.
pub fn sweep(children: &Children, label: &str, value: &str, images: bool) -> anyhow::Result<usize> {
    let filter = labels::filter(label, value);
    let mut kinds: Vec<(&[&str], &[&str])> = vec![
        (&["ps", "-aq"], &["rm", "-f", "-v"]),
        (&["network", "ls", "-q"], &["network", "rm"]),
        (&["volume", "ls", "-q"], &["volume", "rm", "-f"]),
    ];
    if images {
        kinds.push((&["images", "-q"], &["rmi", "-f"]));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut attempts = 0;
    loop {
        let mut left = Vec::new();
        // In order: a network goes only once its containers are gone.
        for (listing, removal) in &kinds {
            let mut ids = list(
                children,
                &[listing, &["--filter", filter.as_str()][..]].concat(),
            )?;
            // An image listed once per tag is removed once.
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                continue;
            }
            seen.extend(ids.iter().cloned());
            let mut cmd = docker(removal);
            cmd.args(&ids);
            let output = children.capture(cmd)?;
            if !output.status.success() {
                left.push(String::from_utf8_lossy(&output.stderr).trim().to_string());
            }
        }
        if left.is_empty() {
            return Ok(seen.len());
        }
        attempts += 1;
        if attempts == ATTEMPTS {
            bail!(
                "cannot remove everything labelled {label}={value}: {}",
                left.join("; ")
            );
        }
        thread::sleep(Duration::from_millis(500));
    }
}

/// How many times a sweep lists and removes before it gives up (500 ms apart).
const ATTEMPTS: usize = 20;

/// Sweep until a pass a moment after the last finds nothing: a compose
/// client killed a moment ago may have asked the daemon for a container or a
/// network that it creates only now.
pub fn sweep_settled(children: &Children, label: &str, value: &str) -> anyhow::Result<usize> {
    let mut removed = sweep(children, label, value, false)?;
    for _ in 0..ATTEMPTS {
        thread::sleep(SETTLE);
        match sweep(children, label, value, false)? {
            0 => return Ok(removed),
            more => removed += more,
        }
    }
    bail!("objects labelled {label}={value} kept appearing")
}

/// How long after a sweep a settled sweep looks again.
const SETTLE: Duration = Duration::from_millis(500);

/// Remove these image tags; an image that has another tag stays.
pub fn untag(children: &Children, tags: &[String]) {
    if tags.is_empty() {
        return;
    }
    let mut cmd = docker(&["rmi"]);
    cmd.args(tags);
    // A tag already gone is what we wanted.
    let _ = children.capture(cmd);
}

/// `docker inspect`'s one object.
pub fn inspect(children: &Children, args: &[&str]) -> anyhow::Result<Value> {
    let text = output(children, docker(args))?;
    let mut parsed: Value =
        serde_json::from_str(&text).with_context(|| format!("cannot read docker {}", args[0]))?;
    Ok(parsed[0].take())
}

/// What `docker image inspect --format FORMAT IMAGE` prints, trimmed;
/// `None` when docker fails (no such image), an error when it cannot be run.
pub fn image_inspect(
    children: &Children,
    image: &str,
    format: &str,
) -> anyhow::Result<Option<String>> {
    let output = children.capture(docker(&["image", "inspect", "--format", format, image]))?;
    let said = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Ok(output.status.success().then_some(said))
}

/// What `format` says of `image`: `None` when docker cannot be run, fails
/// (no such image) or prints nothing.
pub fn image_field(children: &Children, image: &str, format: &str) -> Option<String> {
    image_inspect(children, image, format)
        .ok()
        .flatten()
        .filter(|said| !said.is_empty())
}

/// The stdout of a docker command that must succeed, trimmed.
pub fn output(children: &Children, cmd: std::process::Command) -> anyhow::Result<String> {
    let shown = describe(&cmd);
    let output = children.capture(cmd)?;
    if !output.status.success() {
        bail!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The ids a `docker … -q` listing prints.
pub fn list(children: &Children, args: &[&str]) -> anyhow::Result<Vec<String>> {
    let output = children.capture(docker(args))?;
    if !output.status.success() {
        bail!(
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

pub fn docker(args: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    cmd
}
