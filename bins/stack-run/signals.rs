//! SIGINT and SIGTERM: the first stops the run in order, the second now.
//!
//! A cancelled CI job sends SIGTERM and waits a little before SIGKILL; Ctrl-C
//! sends SIGINT. On the first, the workers stop launching shards, stop the
//! running ones and tear every stack down (in parallel, each worker its own).
//! On the second, `on_force` removes everything by label and the process ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Which signal asked the run to stop, if any.
#[derive(Default)]
pub struct Stop {
    signal: AtomicI32,
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
}

/// Start listening; `on_force` runs on the second signal, and must not return.
pub fn install(
    stop: Arc<Stop>,
    on_first: impl Fn(i32) + Send + 'static,
    on_force: impl Fn(i32) + Send + 'static,
) -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::spawn(move || {
        for signal in signals.forever() {
            if stop
                .signal
                .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                on_first(signal);
            } else {
                on_force(stop.signal());
            }
        }
    });
    Ok(())
}
