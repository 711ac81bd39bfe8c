//! The wait loop: probe each target until it is ready or its time is up,
//! all targets at once, each on its own thread with its own deadline.
//!
//! Polling starts at a millisecond and backs off to a small ceiling, so a
//! service on loopback is noticed within about ten milliseconds of becoming
//! ready, while a long wait costs a hundred cheap attempts a second at most.

use std::thread;
use std::time::{Duration, Instant};

use crate::probe;
use crate::target::Target;

/// The first pause between attempts.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// The longest pause between attempts: the worst-case detection latency.
const MAX_PAUSE: Duration = Duration::from_millis(10);
/// The longest one attempt may take, so a black-holed address is retried
/// (a SYN lost while a network comes up is not waited on for minutes).
const MAX_ATTEMPT: Duration = Duration::from_secs(2);

/// How waiting for one target went.
#[derive(Debug)]
pub struct Report {
    pub ready: bool,
    /// The address that answered, when one did.
    pub address: Option<String>,
    pub attempts: u32,
    pub elapsed: Duration,
    /// Why the last failed attempt failed.
    pub last_error: Option<String>,
    /// What a server that is up but refuses this client said.
    pub note: Option<String>,
}

/// Wait for every target at once; `timeout` applies to targets without
/// their own, and `None` means forever. `done` hears of each target as soon
/// as it is settled; the reports come back in target order.
pub fn wait_all(
    targets: &[Target],
    timeout: Option<Duration>,
    done: impl Fn(&Target, &Report) + Sync,
) -> Vec<Report> {
    let done = &done;
    thread::scope(|scope| {
        let waits: Vec<_> = targets
            .iter()
            .map(|target| {
                scope.spawn(move || {
                    let report = wait(target, limit(target, timeout));
                    done(target, &report);
                    report
                })
            })
            .collect();
        waits
            .into_iter()
            .map(|wait| wait.join().expect("a wait thread panicked"))
            .collect()
    })
}

/// How long `target` may take: its own timeout, else `timeout`.
pub fn limit(target: &Target, timeout: Option<Duration>) -> Option<Duration> {
    target.timeout.map_or(timeout, nonzero)
}

/// A zero timeout means no timeout, as in wait-for-it.
pub fn nonzero(timeout: Duration) -> Option<Duration> {
    (!timeout.is_zero()).then_some(timeout)
}

/// Probe one target until it is ready or `timeout` has passed. A timeout
/// too long for the clock to reach (`-t 18446744073709551615`) is forever.
pub fn wait(target: &Target, timeout: Option<Duration>) -> Report {
    let start = Instant::now();
    let deadline = timeout.and_then(|timeout| start.checked_add(timeout));
    let timed_out = || deadline.is_some_and(|deadline| Instant::now() >= deadline);
    let mut pause = FIRST_PAUSE;
    let mut attempts = 0;
    let mut last_error = None;
    loop {
        attempts += 1;
        let attempt_end = Instant::now() + MAX_ATTEMPT;
        let attempt_deadline = deadline.map_or(attempt_end, |deadline| deadline.min(attempt_end));
        match probe::check(&target.service, attempt_deadline) {
            Ok(ready) => {
                return Report {
                    ready: true,
                    address: ready.address,
                    attempts,
                    elapsed: start.elapsed(),
                    last_error,
                    note: ready.note,
                };
            }
            // An attempt the overall deadline cut short says less than the
            // failure before it ("timed out" after "connection refused").
            Err(_) if timed_out() && last_error.is_some() => {}
            Err(error) => last_error = Some(format!("{error:#}")),
        }
        if !timed_out() {
            let left = deadline.map_or(pause, |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            thread::sleep(pause.min(left));
            pause = (pause * 2).min(MAX_PAUSE);
        }
        if timed_out() {
            return Report {
                ready: false,
                address: None,
                attempts,
                elapsed: start.elapsed(),
                last_error,
                note: None,
            };
        }
    }
}
