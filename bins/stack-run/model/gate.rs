//! A one-time event many threads wait for, with its outcome: the shards
//! wait on the run's build this way, starting their sidecars meanwhile.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

pub struct Gate<T> {
    outcome: Mutex<Option<T>>,
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
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        self.opened.notify_all();
    }

    /// The outcome, if open already.
    pub fn outcome(&self) -> Option<T> {
        self.outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The outcome once open; `None` if `stop` says so first.
    pub fn wait(&self, stop: impl Fn() -> bool) -> Option<T> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(outcome) = outcome.as_ref() {
                return Some(outcome.clone());
            }
            if stop() {
                return None;
            }
            outcome = self
                .opened
                .wait_timeout(outcome, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
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
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| gate.wait(|| false));
            gate.open(Err("no image".into()));
            assert_eq!(waiter.join().unwrap(), Some(Err("no image".into())));
        });
        assert_eq!(gate.outcome(), Some(Err("no image".into())));
    }
}
