//! Waiting until a shard's sidecars are really ready.
//!
//! A container that defines a healthcheck is ready when Docker says it is
//! healthy. One without is ready when every TCP port it exposes accepts a
//! connection on its address in the project network (the ports the user
//! published become exposed ports in the derived file). One that exited 0
//! (a migration, a seed job) is done, hence ready; any other exit is a
//! failure, as is `unhealthy`.
//!
//! The stacks waiting at one moment share each look at their containers:
//! one of them lists and inspects every container of the run, and each reads
//! its own project's from what that look saw. Every look is two docker
//! processes; one look per stack, at many stacks on a small host, starved
//! the very sidecars being waited for.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;
use shared::contract::labels;

use crate::context::Context;
use crate::proc::Children;
use crate::sweep::{docker, list};

/// How often the run looks at its containers while stacks wait.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// The run's containers by compose project, as one look saw them.
type Snapshot = Result<BTreeMap<String, Vec<Value>>, String>;

/// The run's looks at its containers, shared by every stack waiting.
#[derive(Default)]
pub struct Poll {
    state: Mutex<PollState>,
    looked: Condvar,
}

#[derive(Default)]
struct PollState {
    /// Whether a waiter is taking a look now (or pausing before it).
    looking: bool,
    /// How many looks have begun, and when the last one did.
    begun: u64,
    began_at: Option<Instant>,
    /// The latest look's number and what it saw.
    latest: Option<(u64, Arc<Snapshot>)>,
}

impl Poll {
    fn lock(&self) -> MutexGuard<'_, PollState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many looks have begun: what a new waiter has seen.
    fn begun(&self) -> u64 {
        self.lock().begun
    }

    /// The first look numbered above `seen`, with its number: another
    /// waiter's, or else taken here with `look`, [`POLL_EVERY`] after the last began.
    fn after(&self, seen: u64, look: impl FnOnce() -> Snapshot) -> (u64, Arc<Snapshot>) {
        let mut state = self.lock();
        loop {
            if let Some(latest) = state.latest.as_ref().filter(|(number, _)| *number > seen) {
                return latest.clone();
            }
            if !state.looking {
                break;
            }
            state = self.looked.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.looking = true;
        let pause = state
            .began_at
            .map_or(Duration::ZERO, |at| POLL_EVERY.saturating_sub(at.elapsed()));
        drop(state);
        thread::sleep(pause);
        let number = {
            let mut state = self.lock();
            state.begun += 1;
            state.began_at = Some(Instant::now());
            state.begun
        };
        let snapshot = Arc::new(look());
        let mut state = self.lock();
        state.looking = false;
        state.latest = Some((number, Arc::clone(&snapshot)));
        self.looked.notify_all();
        (number, snapshot)
    }
}

/// How one container stands.
#[derive(Debug, PartialEq)]
enum Readiness {
    Ready,
    Waiting(String),
    Failed(String),
}

/// Wait until every container of `project` is ready, `deadline` passes, or `stop` says so.
pub fn wait(
    ctx: &Context,
    project: &str,
    deadline: Instant,
    stop: impl Fn() -> bool,
) -> anyhow::Result<()> {
    let poll = &ctx.runtime.readiness;
    // Only a look begun from now on sees the containers as they are now.
    let mut seen = poll.begun();
    loop {
        let (number, snapshot) = poll.after(seen, || {
            look(&ctx.runtime.children, &ctx.names.run_id).map_err(|err| format!("{err:#}"))
        });
        seen = number;
        let containers = match snapshot.as_ref() {
            Ok(by_project) => by_project.get(project),
            Err(err) => bail!("{err}"),
        };
        let mut waiting = Vec::new();
        for container in containers.into_iter().flatten() {
            match readiness(container) {
                Readiness::Ready => {}
                Readiness::Waiting(why) => waiting.push(why),
                Readiness::Failed(why) => bail!("{why}"),
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if stop() {
            bail!("stopped while waiting for {}", waiting.join(", "));
        }
        if Instant::now() >= deadline {
            bail!("not ready in time: {}", waiting.join(", "));
        }
    }
}

/// Every sidecar container of run `run_id`, by compose project: one
/// `docker ps`, one `docker inspect`. A `compose run` container (where the
/// command runs, idle or not) is no sidecar: its ports need not answer.
fn look(children: &Children, run_id: &str) -> anyhow::Result<BTreeMap<String, Vec<Value>>> {
    let filter = labels::filter(labels::RUN, run_id);
    let ids = list(children, &["ps", "-aq", "--filter", &filter])?;
    let mut by_project: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(by_project);
    }
    let mut cmd = docker(&["inspect"]);
    cmd.args(&ids);
    let output = children.capture(cmd)?;
    let containers: Vec<Value> =
        serde_json::from_slice(&output.stdout).context("cannot read docker inspect output")?;
    for container in containers {
        let tags = &container["Config"]["Labels"];
        if tags[labels::COMPOSE_ONEOFF] == "True" {
            continue;
        }
        let project = tags[labels::COMPOSE_PROJECT]
            .as_str()
            .unwrap_or_default()
            .to_string();
        by_project.entry(project).or_default().push(container);
    }
    Ok(by_project)
}

fn readiness(container: &Value) -> Readiness {
    let service = container["Config"]["Labels"][labels::COMPOSE_SERVICE]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let state = &container["State"];
    if state["Running"] != Value::Bool(true) {
        return match state["ExitCode"].as_i64() {
            Some(0) if state["Status"] == "exited" => Readiness::Ready,
            Some(code) if state["Status"] == "exited" => {
                Readiness::Failed(format!("sidecar {service} exited with status {code}"))
            }
            _ => Readiness::Waiting(format!(
                "{service} ({})",
                state["Status"].as_str().unwrap_or("?")
            )),
        };
    }
    if let Some(health) = state["Health"]["Status"].as_str() {
        return match health {
            "healthy" => Readiness::Ready,
            "unhealthy" => Readiness::Failed(format!("sidecar {service} is unhealthy")),
            other => Readiness::Waiting(format!("{service} ({other})")),
        };
    }
    let closed: Vec<String> = tcp_ports(container)
        .into_iter()
        .filter(|addr| TcpStream::connect_timeout(addr, Duration::from_millis(300)).is_err())
        .map(|addr| addr.port().to_string())
        .collect();
    if closed.is_empty() {
        Readiness::Ready
    } else {
        Readiness::Waiting(format!("{service} (port {})", closed.join(", ")))
    }
}

/// The container's exposed TCP ports at each of its network addresses.
fn tcp_ports(container: &Value) -> Vec<SocketAddr> {
    let ports: Vec<u16> = container["Config"]["ExposedPorts"]
        .as_object()
        .into_iter()
        .flat_map(|ports| ports.keys())
        .filter_map(|key| key.strip_suffix("/tcp")?.parse().ok())
        .collect();
    let ip: Option<IpAddr> = container["NetworkSettings"]["Networks"]
        .as_object()
        .into_iter()
        .flat_map(|networks| networks.values())
        .find_map(|network| network["IPAddress"].as_str()?.parse().ok());
    match ip {
        Some(ip) => ports
            .into_iter()
            .map(|port| SocketAddr::new(ip, port))
            .collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(state: Value) -> Value {
        json!({
            "Config": {"Labels": {"com.docker.compose.service": "db"}},
            "State": state,
            "NetworkSettings": {"Networks": {}},
        })
    }

    #[test]
    fn health_decides_when_defined() {
        let starting = container(
            json!({"Running": true, "Status": "running", "Health": {"Status": "starting"}}),
        );
        assert_eq!(
            readiness(&starting),
            Readiness::Waiting("db (starting)".into())
        );
        let healthy = container(
            json!({"Running": true, "Status": "running", "Health": {"Status": "healthy"}}),
        );
        assert_eq!(readiness(&healthy), Readiness::Ready);
        let unhealthy = container(
            json!({"Running": true, "Status": "running", "Health": {"Status": "unhealthy"}}),
        );
        assert_eq!(
            readiness(&unhealthy),
            Readiness::Failed("sidecar db is unhealthy".into())
        );
    }

    #[test]
    fn exits_are_done_or_failed() {
        let done = container(json!({"Running": false, "Status": "exited", "ExitCode": 0}));
        assert_eq!(readiness(&done), Readiness::Ready);
        let crashed = container(json!({"Running": false, "Status": "exited", "ExitCode": 1}));
        assert_eq!(
            readiness(&crashed),
            Readiness::Failed("sidecar db exited with status 1".into())
        );
        let created = container(json!({"Running": false, "Status": "created", "ExitCode": 0}));
        assert_eq!(
            readiness(&created),
            Readiness::Waiting("db (created)".into())
        );
    }

    #[test]
    fn waiters_share_looks_begun_after_they_ask() {
        let poll = Poll::default();
        let began = Mutex::new(Vec::new());
        let look = || {
            began.lock().unwrap().push(Instant::now());
            thread::sleep(Duration::from_millis(50));
            Ok(BTreeMap::new())
        };
        thread::scope(|scope| {
            let waiters: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let seen = poll.begun();
                        let (number, _) = poll.after(seen, look);
                        assert!(number > seen);
                    })
                })
                .collect();
            for waiter in waiters {
                waiter.join().unwrap();
            }
        });
        // The first look, and one for those who asked while it was under way.
        assert!(began.lock().unwrap().len() <= 2);
        let (latest, _) = poll.after(0, || unreachable!("a look newer than 0 exists"));
        assert_eq!(poll.after(latest, look).0, latest + 1);
        let began = began.into_inner().unwrap();
        assert!(began[began.len() - 1] - began[began.len() - 2] >= POLL_EVERY);
    }
}
