//! When whatever runs in a stack must stop: a signal, or its time is up.

use std::time::{Duration, Instant};

use crate::engine::signals::Stop;
use crate::model::verdict::StopCause;

/// The limits of one attempt: any signal, and `--timeout` from its start.
pub struct Limits<'a> {
    stop: &'a Stop,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl Limits<'_> {
    /// The limits of what starts now: `timeout` from now, and any signal.
    pub fn from_now(stop: &Stop, timeout: Option<Duration>) -> Limits<'_> {
        Limits {
            stop,
            timeout,
            deadline: timeout.map(|timeout| Instant::now() + timeout),
        }
    }

    pub fn reached(&self) -> bool {
        self.stop.requested() || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `by`, or the deadline if it comes first.
    pub fn cap(&self, by: Instant) -> Instant {
        self.deadline.map_or(by, |deadline| deadline.min(by))
    }

    /// Why, once reached.
    pub fn cause(&self) -> StopCause {
        if self.stop.requested() {
            StopCause::Signal
        } else {
            StopCause::Timeout(self.timeout.unwrap_or_default())
        }
    }
}
