//! Removing what a compose project created, found by label.
//!
//! Compose labels every container, network and volume it creates with its
//! project; stack-run adds its own labels (see `derive`). Removing by label
//! does what `compose down -v --remove-orphans` does, also for one-off `run`
//! containers whose client was killed, and works after a crash when no
//! client knows the project any more.

use std::process::Command;

use anyhow::bail;

use crate::proc::Children;

/// The label compose puts on everything of a project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";

/// Remove every container (with its anonymous volumes), network, volume and,
/// with `images`, image carrying `label=value`. Returns how many objects went.
pub fn sweep(children: &Children, label: &str, value: &str, images: bool) -> anyhow::Result<usize> {
    let filter = format!("label={label}={value}");
    let mut removed = 0;
    let containers = list(children, &["ps", "-aq", "--filter", &filter])?;
    removed += remove(children, &["rm", "-f", "-v"], &containers)?;
    let networks = list(children, &["network", "ls", "-q", "--filter", &filter])?;
    removed += remove(children, &["network", "rm"], &networks)?;
    let volumes = list(children, &["volume", "ls", "-q", "--filter", &filter])?;
    removed += remove(children, &["volume", "rm", "-f"], &volumes)?;
    if images {
        let mut images = list(children, &["images", "-q", "--filter", &filter])?;
        // An image listed once per tag is removed once.
        images.sort();
        images.dedup();
        removed += remove(children, &["rmi", "-f"], &images)?;
    }
    Ok(removed)
}

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

fn remove(children: &Children, args: &[&str], ids: &[String]) -> anyhow::Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut cmd = docker(args);
    cmd.args(ids);
    let output = children.capture(cmd)?;
    if !output.status.success() {
        bail!(
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(ids.len())
}

pub fn docker(args: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    cmd
}
