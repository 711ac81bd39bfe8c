//! A one-time event many threads wait for, with its outcome: the shards
//! wait on the run's build this way, starting their sidecars meanwhile.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use shared::exit::Failure;

/// Opens when the run's images are built, or failed to.
pub type Built = Gate<Result<(), Arc<Failure>>>;

pub struct Gate<T> {
    /// The outcome, and when it came.
    outcome: Mutex<Option<(T, Instant)>>,
    opened: Condvar,
}

impl<T> Default for Gate<T> {
    fn default() -> Gate<T> {
        Gate {
            outcome: Mutex::new(None),
            opened: Condvar::new(),
        }
    }
}

impl<T: Clone> Gate<T> {
    pub fn open(&self, outcome: T) {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some((outcome, Instant::now()));
        self.opened.notify_all();
    }

    /// The outcome, if open already.
    pub fn outcome(&self) -> Option<T> {
        self.outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(outcome, _)| outcome.clone())
    }

    /// When it opened, if it has.
    pub fn opened_at(&self) -> Option<Instant> {
        let outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        outcome.as_ref().map(|&(_, at)| at)
    }

    /// The outcome once open; `None` if `stop` says so first. `stop` is
    /// asked with the gate unlocked: it may look at the gate itself (a
    /// deadline that starts when the gate opens does).
    pub fn wait(&self, stop: impl Fn() -> bool) -> Option<T> {
        loop {
            if let Some(outcome) = self.outcome() {
                return Some(outcome);
            }
            if stop() {
                return None;
            }
            let outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
            // Looked at under the lock `open` takes: its notice cannot be missed.
            if outcome.is_none() {
                let _ = self
                    .opened
                    .wait_timeout(outcome, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_get_the_outcome_or_give_up_when_told() {
        let gate: Gate<Result<(), String>> = Gate::default();
        assert_eq!(gate.wait(|| true), None);
        assert_eq!(gate.opened_at(), None);
        let before = Instant::now();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| gate.wait(|| false));
            gate.open(Err("no image".into()));
            assert_eq!(waiter.join().unwrap(), Some(Err("no image".into())));
        });
        assert_eq!(gate.outcome(), Some(Err("no image".into())));
        assert!(gate.opened_at().is_some_and(|at| at >= before));
    }

    #[test]
    fn a_waiter_may_look_at_the_gate_to_decide_whether_to_stop() {
        let gate: Gate<()> = Gate::default();
        assert_eq!(gate.wait(|| gate.opened_at().is_none()), None);
        gate.open(());
        assert_eq!(gate.wait(|| gate.outcome().is_none()), Some(()));
    }
}
