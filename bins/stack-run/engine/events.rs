//! Docker's events on the run's containers, streamed while stacks wait for
//! their sidecars: a container that starts, exits or changes health tells
//! the readiness poll (`stack::ready`) to look now, where it would otherwise wait.
//!
//! One `docker events` process for the whole run, idle between events. The
//! healthchecks' own `exec_*` events, several a second at many stacks, are
//! filtered out: they change nothing a look would see.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use shared::contract::labels;

use crate::engine::docker::docker;
use crate::engine::proc::{Children, kill_group};

/// How long a stream may run: should stack-run be killed outright, the
/// `docker events` it started ends by itself after this. The poll starts
/// another when a stream ends while stacks still wait.
const STREAM_FOR: Duration = Duration::from_secs(15 * 60);

/// How to stop a stream of events.
pub type Unwatch = Box<dyn FnOnce() + Send>;

/// Stream the events of run `run_id`'s containers since `since`: `on_event`
/// for each, until it is stopped or ends, then `on_end`.
pub fn watch(
    children: &Arc<Children>,
    run_id: &str,
    since: SystemTime,
    on_event: impl Fn() + Send + 'static,
    on_end: impl FnOnce() + Send + 'static,
) -> anyhow::Result<Unwatch> {
    let until = SystemTime::now() + STREAM_FOR;
    let mut cmd = docker(&["events", "--format", "{{.Action}}"]);
    cmd.args([
        "--since",
        &unix_seconds(since),
        "--until",
        &unix_seconds(until),
    ])
    .args(["--filter", "type=container"])
    .args(["--filter", &labels::filter(labels::RUN, run_id)]);
    for event in ["start", "die", "health_status"] {
        cmd.args(["--filter", &format!("event={event}")]);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = children.start(cmd)?;
    let stdout = child.stdout.take().context("docker events has no stdout")?;
    // Its group while it is not reaped: a reaped child's number may be another's.
    let group = Arc::new(Mutex::new(Some(child.id())));
    let unreaped = Arc::clone(&group);
    let children = Arc::clone(children);
    thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            if line.is_err() {
                break;
            }
            on_event();
        }
        let mut unreaped = unreaped.lock().unwrap_or_else(|e| e.into_inner());
        // Its output ended: so must it, before the wait.
        if let Some(group) = unreaped.take() {
            kill_group(group);
        }
        children.reap(child);
        drop(unreaped);
        on_end();
    });
    Ok(Box::new(move || {
        let group = group.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(group) = *group {
            kill_group(group);
        }
    }))
}

/// A time as `docker events` takes it: seconds since the epoch, with a fraction.
fn unix_seconds(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "{}.{:09}",
        since_epoch.as_secs(),
        since_epoch.subsec_nanos()
    )
}
