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
//! its own project's from what that look saw. A look costs two docker
//! processes, about 0.1 s of CPU with eight stacks up; looking every 200 ms
//! took a quarter of a 2-core host from the very sidecars being waited for.
//! So while stacks wait, Docker's own events on the run's containers (a
//! start, an exit, a health change: see [`crate::engine::events`]) say when to look
//! again; only a sidecar waited for on its ports, which no event announces,
//! has the run look every [`POLL_EVERY`].

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use serde_json::Value;
use shared::contract::labels;

use crate::engine::docker::{docker, list};
use crate::engine::events::{self, Unwatch};
use crate::engine::proc::Children;

/// The least time between two looks, and how often the run looks when a
/// waiter cannot wait for an event.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// How long waiters go without a look while events are watched and none
/// comes: the net under an event the stream might miss.
const QUIET_FOR: Duration = Duration::from_secs(2);

/// A stream of events that ends this soon after its start never worked.
const BROKEN_WITHIN: Duration = Duration::from_secs(1);

/// The run's containers by compose project, as one look saw them.
type Snapshot = Result<BTreeMap<String, Vec<Value>>, String>;

/// The run's looks at its containers, shared by every stack waiting; a
/// clone is a handle to the same (the signal listener's, to wake it).
#[derive(Clone, Default)]
pub struct Poll {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<PollState>,
    /// A look ended, a waiter asked for one, or an event came.
    changed: Condvar,
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
    /// When the next look is due: the soonest any waiter asked for.
    due: Option<Instant>,
    /// Events seen so far, and how many had been when the latest look began.
    events: u64,
    events_looked: u64,
    /// How many stacks wait now, and since when one has: the events watched date from then.
    waiters: usize,
    waited_since: Option<SystemTime>,
    watch: Watch,
    /// How many streams have started.
    streams: u64,
}

/// The stream of events, if any.
#[derive(Default)]
enum Watch {
    #[default]
    Off,
    /// Running: the latest stream (`streams` numbers it, so that an older
    /// stream's end is told apart).
    On { stop: Unwatch },
    /// It could not start, or ended by itself: the run looks every [`POLL_EVERY`].
    Broken,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, PollState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Poll {
    /// Have the next look now (a signal came: waiters must see it).
    pub fn wake(&self) {
        self.shared.lock().due = Some(Instant::now());
        self.shared.changed.notify_all();
    }

    /// Count a stack in as waiting, until the guard drops; when the last
    /// waiter leaves, the stream of events stops.
    fn join(&self) -> Waiter<'_> {
        let mut state = self.shared.lock();
        if state.waiters == 0 {
            state.waited_since = Some(SystemTime::now());
        }
        state.waiters += 1;
        Waiter { poll: self }
    }
}

/// One stack waiting for its sidecars.
struct Waiter<'a> {
    poll: &'a Poll,
}

/// When a waiter needs its next look.
#[derive(Clone, Copy)]
enum NextLook {
    /// Within [`POLL_EVERY`]: its first, or one to probe ports again,
    /// which no event announces.
    Soon,
    /// At the run's next event, or [`QUIET_FOR`] after the last look.
    AtAnEvent,
}

impl Waiter<'_> {
    /// How many looks have begun: what a new waiter has seen.
    fn begun(&self) -> u64 {
        self.poll.shared.lock().begun
    }

    /// The first look numbered above `seen`, with its number: another
    /// waiter's, or else taken here with `look`, as `next` says, and by
    /// `deadline` at the latest; never within [`POLL_EVERY`] of the last.
    fn after(
        &self,
        seen: u64,
        next: NextLook,
        deadline: Instant,
        look: impl FnOnce() -> Snapshot,
    ) -> (u64, Arc<Snapshot>) {
        let shared = &self.poll.shared;
        let newer = |state: &PollState| {
            state
                .latest
                .as_ref()
                .filter(|(number, _)| *number > seen)
                .cloned()
        };
        let mut state = shared.lock();
        if let Some(latest) = newer(&state) {
            return latest;
        }
        let within = match (next, &state.watch) {
            (NextLook::AtAnEvent, Watch::On { .. }) => QUIET_FOR,
            _ => POLL_EVERY,
        };
        let due = state
            .began_at
            .map_or_else(Instant::now, |at| at + within)
            .min(deadline);
        state.due = Some(state.due.map_or(due, |other| other.min(due)));
        // A look being waited for may now be due sooner.
        shared.changed.notify_all();
        loop {
            if let Some(latest) = newer(&state) {
                return latest;
            }
            if !state.looking {
                break;
            }
            state = shared
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        state.looking = true;
        let mut state = pause_until_due(shared, state);
        state.begun += 1;
        let number = state.begun;
        state.began_at = Some(Instant::now());
        state.events_looked = state.events;
        state.due = None;
        drop(state);
        let snapshot = Arc::new(look());
        let mut state = shared.lock();
        state.looking = false;
        state.latest = Some((number, Arc::clone(&snapshot)));
        shared.changed.notify_all();
        (number, snapshot)
    }

    /// Have the run's events watched with `start`, unless they are already
    /// (or cannot be): it gets the time to watch from, and whom to tell.
    fn watch(&self, start: impl FnOnce(SystemTime, Tell) -> anyhow::Result<Unwatch>) {
        let shared = &self.poll.shared;
        let mut state = shared.lock();
        if !matches!(state.watch, Watch::Off) {
            return;
        }
        state.streams += 1;
        let tell = Tell {
            shared: Arc::clone(shared),
            number: state.streams,
            started: Instant::now(),
        };
        let since = state.waited_since.unwrap_or_else(SystemTime::now);
        // Started under the lock, so that no other waiter starts a second.
        state.watch = match start(since, tell) {
            Ok(stop) => Watch::On { stop },
            Err(_) => Watch::Broken,
        };
    }
}

/// Wait, holding the right to look, until the next look is due: at once
/// after an event, else when a waiter asked for it; never within
/// [`POLL_EVERY`] of the last.
fn pause_until_due<'a>(
    shared: &'a Shared,
    mut state: MutexGuard<'a, PollState>,
) -> MutexGuard<'a, PollState> {
    loop {
        let now = Instant::now();
        let earliest = state.began_at.map_or(now, |at| at + POLL_EVERY);
        let wake = match state.due {
            _ if state.events > state.events_looked => earliest,
            Some(due) => due.max(earliest),
            None => earliest,
        };
        if now >= wake {
            return state;
        }
        state = shared
            .changed
            .wait_timeout(state, wake - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// What a stream of events tells the poll.
#[derive(Clone)]
pub struct Tell {
    shared: Arc<Shared>,
    /// The stream's number.
    number: u64,
    started: Instant,
}

impl Tell {
    /// Something changed: the next look need not wait.
    pub fn event(&self) {
        self.shared.lock().events += 1;
        self.shared.changed.notify_all();
    }

    /// The stream ended. Stopped because no one waits, it is done; ended
    /// by itself, the next look is now (a signal may have killed it, and
    /// waiters must hear of that), and the next waiter starts another,
    /// unless it ended within [`BROKEN_WITHIN`], when looks go back to every
    /// [`POLL_EVERY`].
    pub fn ended(&self) {
        let mut state = self.shared.lock();
        if !matches!(state.watch, Watch::On { .. }) || state.streams != self.number {
            return;
        }
        state.watch = if self.started.elapsed() < BROKEN_WITHIN {
            Watch::Broken
        } else {
            Watch::Off
        };
        // The next stream takes up from here.
        state.waited_since = Some(SystemTime::now());
        state.due = Some(Instant::now());
        self.shared.changed.notify_all();
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut state = self.poll.shared.lock();
        state.waiters -= 1;
        if state.waiters > 0 {
            return;
        }
        state.waited_since = None;
        if !matches!(state.watch, Watch::On { .. }) {
            return;
        }
        if let Watch::On { stop, .. } = std::mem::replace(&mut state.watch, Watch::Off) {
            drop(state);
            stop();
        }
    }
}

/// How one container stands.
#[derive(Debug, PartialEq)]
enum Readiness {
    Ready,
    /// For Docker: an event will say when this changes.
    Waiting(String),
    /// For its ports, which no event announces.
    Closed(String),
    Failed(String),
}

/// Wait until every container of `project` (of run `run_id`) is ready,
/// `deadline` passes, or `stop` says so.
pub fn wait(
    (poll, children, run_id): (&Poll, &Arc<Children>, &str),
    project: &str,
    deadline: Instant,
    stop: impl Fn() -> bool,
) -> anyhow::Result<()> {
    let waiter = poll.join();
    // Only a look begun from now on sees the containers as they are now.
    let mut seen = waiter.begun();
    let mut next = NextLook::Soon;
    loop {
        let (number, snapshot) = waiter.after(seen, next, deadline, || {
            look(children, run_id).map_err(|err| format!("{err:#}"))
        });
        seen = number;
        let containers = match snapshot.as_ref() {
            Ok(by_project) => by_project.get(project),
            Err(err) => bail!("{err}"),
        };
        let mut waiting = Vec::new();
        next = NextLook::AtAnEvent;
        for container in containers.into_iter().flatten() {
            match readiness(container) {
                Readiness::Ready => {}
                Readiness::Waiting(why) => waiting.push(why),
                Readiness::Closed(why) => {
                    waiting.push(why);
                    next = NextLook::Soon;
                }
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
        waiter.watch(|since, tell| {
            let ended = tell.clone();
            events::watch(
                children,
                run_id,
                since,
                move || tell.event(),
                move || ended.ended(),
            )
        });
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
        Readiness::Closed(format!("{service} (port {})", closed.join(", ")))
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
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;

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

    fn nothing() -> Snapshot {
        Ok(BTreeMap::new())
    }

    /// A deadline no test reaches.
    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn waiters_share_looks_begun_after_they_ask() {
        let poll = Poll::default();
        let began = Mutex::new(Vec::new());
        let look = || {
            began.lock().unwrap().push(Instant::now());
            thread::sleep(Duration::from_millis(50));
            nothing()
        };
        thread::scope(|scope| {
            let waiters: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let waiter = poll.join();
                        let seen = waiter.begun();
                        let (number, _) = waiter.after(seen, NextLook::Soon, far(), look);
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
        let waiter = poll.join();
        let (latest, _) = waiter.after(0, NextLook::Soon, far(), || {
            unreachable!("a look newer than 0 exists")
        });
        assert_eq!(
            waiter.after(latest, NextLook::Soon, far(), look).0,
            latest + 1
        );
        let began = began.into_inner().unwrap();
        assert!(began[began.len() - 1] - began[began.len() - 2] >= POLL_EVERY);
    }

    /// A watch whose stream is a test's: what it tells, and whether it was stopped.
    fn watched(waiter: &Waiter) -> (Tell, Arc<AtomicBool>) {
        let told = Mutex::new(None);
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopped);
        waiter.watch(|_, tell| {
            *told.lock().unwrap() = Some(tell);
            Ok(Box::new(move || stop.store(true, Ordering::SeqCst)))
        });
        (
            told.into_inner().unwrap().expect("the watch started"),
            stopped,
        )
    }

    #[test]
    fn while_events_are_watched_an_event_brings_the_next_look() {
        let poll = Poll::default();
        let waiter = poll.join();
        let (first, _) = waiter.after(0, NextLook::Soon, far(), nothing);
        let (tell, stopped) = watched(&waiter);
        // No look is due for QUIET_FOR; the event makes one due at once.
        tell.event();
        let asked = Instant::now();
        let (second, _) = waiter.after(first, NextLook::AtAnEvent, far(), nothing);
        assert_eq!(second, first + 1);
        assert!(asked.elapsed() < QUIET_FOR);
        // A second waiter shares the stream, and the last one out stops it.
        let other = poll.join();
        other.watch(|_, _| unreachable!("one stream a run"));
        drop(waiter);
        assert!(!stopped.load(Ordering::SeqCst));
        drop(other);
        assert!(stopped.load(Ordering::SeqCst));
    }

    #[test]
    fn a_stream_that_ends_at_once_leaves_the_run_to_look_often() {
        let poll = Poll::default();
        let waiter = poll.join();
        let (first, _) = waiter.after(0, NextLook::Soon, far(), nothing);
        let (tell, _) = watched(&waiter);
        tell.ended();
        waiter.watch(|_, _| unreachable!("a broken stream is not started again"));
        let asked = Instant::now();
        waiter.after(first, NextLook::AtAnEvent, far(), nothing);
        assert!(asked.elapsed() < QUIET_FOR);
        drop(waiter);
        poll.join()
            .watch(|_, _| unreachable!("nor by a later waiter"));
    }

    #[test]
    fn a_deadline_or_a_wake_brings_the_next_look_without_an_event() {
        let poll = Poll::default();
        let waiter = poll.join();
        let (first, _) = waiter.after(0, NextLook::Soon, far(), nothing);
        let _stream = watched(&waiter);
        let asked = Instant::now();
        let deadline = asked + POLL_EVERY;
        let (second, _) = waiter.after(first, NextLook::AtAnEvent, deadline, nothing);
        assert!(asked.elapsed() < QUIET_FOR);
        thread::scope(|scope| {
            scope.spawn(|| {
                thread::sleep(POLL_EVERY);
                poll.wake();
            });
            let asked = Instant::now();
            waiter.after(second, NextLook::AtAnEvent, far(), nothing);
            assert!(asked.elapsed() < QUIET_FOR);
        });
    }
}
