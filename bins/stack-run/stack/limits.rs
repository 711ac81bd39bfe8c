//! When whatever runs in a stack must stop: a signal, or its time is up.

use std::time::{Duration, Instant};

use crate::engine::signals::Stop;
use crate::model::gate::Built;
use crate::model::verdict::StopCause;

/// The limits of one attempt: any signal, and `--timeout` from its start.
/// The run's build is not counted: a cold build of many minutes would
/// otherwise time out the first attempt of every stack, whose own time is
/// what `--timeout` is about.
pub struct Limits<'a> {
    stop: &'a Stop,
    timeout: Option<Duration>,
    start: Instant,
    /// The run's build; while it runs, no deadline.
    build: Option<&'a Built>,
}

impl<'a> Limits<'a> {
    /// The limits of what starts now: `timeout` from now, and any signal.
    pub fn from_now(stop: &'a Stop, timeout: Option<Duration>) -> Limits<'a> {
        Limits {
            stop,
            timeout,
            start: Instant::now(),
            build: None,
        }
    }

    /// These limits with their clock held until `build` ends, if it has not.
    pub fn after(self, build: Option<&'a Built>) -> Limits<'a> {
        Limits { build, ..self }
    }

    /// When time is up; `None` without a timeout or while the build runs.
    fn deadline(&self) -> Option<Instant> {
        let timeout = self.timeout?;
        let from = match self.build {
            Some(build) => self.start.max(build.opened_at()?),
            None => self.start,
        };
        Some(from + timeout)
    }

    pub fn reached(&self) -> bool {
        self.stop.requested() || self.deadline().is_some_and(|d| Instant::now() >= d)
    }

    /// `by`, or the deadline if it comes first.
    pub fn cap(&self, by: Instant) -> Instant {
        self.deadline().map_or(by, |deadline| deadline.min(by))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_waits_for_the_build_and_starts_at_the_later_of_it_and_the_start() {
        let stop = Stop::default();
        let build = Built::default();
        let limits = Limits::from_now(&stop, Some(Duration::ZERO)).after(Some(&build));
        assert!(!limits.reached(), "no deadline while the image builds");
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(limits.cap(far), far);
        // As a stack waits for the image: the limits look at the build.
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| build.wait(|| limits.reached()));
            build.open(Ok(()));
            assert!(waiter.join().unwrap().is_some());
        });
        assert!(limits.reached(), "a zero timeout is up once it is built");
        assert!(limits.cap(far) <= Instant::now());
        let unbuilt = Limits::from_now(&stop, Some(Duration::ZERO));
        assert!(
            unbuilt.reached(),
            "without a build the clock starts at once"
        );
        let late = Limits::from_now(&stop, Some(Duration::from_secs(3600))).after(Some(&build));
        assert!(
            !late.reached(),
            "a build ended before the start holds nothing"
        );
    }
}
