//! SIGINT and SIGTERM: the first stops the run in order, the second now.
//!
//! A cancelled CI job sends SIGTERM and waits a little before SIGKILL; Ctrl-C
//! sends SIGINT. On the first, the workers stop launching shards, stop the
//! running ones and tear every stack down (in parallel, each worker its own).
//! On the second, the run's force action removes everything by label and the
//! process ends. Listening starts before the first child process does, so no
//! signal finds stack-run without its handlers.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Which signal asked the run to stop, if any, and what a second one does.
#[derive(Default)]
pub struct Stop {
    signal: AtomicI32,
    on_force: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Stop {
    /// The first signal received (SIGINT or SIGTERM), 0 while none.
    pub fn signal(&self) -> i32 {
        self.signal.load(Ordering::SeqCst)
    }

    pub fn requested(&self) -> bool {
        self.signal() != 0
    }

    /// The exit status for the signal received: 130 or 143.
    pub fn exit_code(&self) -> Option<i32> {
        match self.signal() {
            0 => None,
            signal => Some(128 + signal),
        }
    }

    /// Note `signal` as the one that stops the run; `false` when one
    /// already did.
    pub fn request(&self, signal: i32) -> bool {
        self.signal
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// What the second signal does before the process exits; set once, when
    /// the run knows what it will create.
    pub fn on_force(&self, action: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_force.set(Box::new(action));
    }
}

/// Start listening: `on_first` runs on the first signal; on the second, the
/// force action (if set yet) runs and the process exits with the first's status.
pub fn listen(stop: Arc<Stop>, on_first: impl Fn(i32) + Send + 'static) -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::spawn(move || {
        for signal in signals.forever() {
            if stop.request(signal) {
                on_first(signal);
            } else {
                if let Some(action) = stop.on_force.get() {
                    action();
                }
                std::process::exit(128 + stop.signal());
            }
        }
    });
    Ok(())
}
