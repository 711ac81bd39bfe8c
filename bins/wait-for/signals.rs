//! Ending on SIGINT and SIGTERM while waiting, even as a container's PID 1.
//!
//! A process left with the default signal actions dies of these signals,
//! except as PID 1 of a container, where the kernel drops them: `docker
//! stop` would then wait its grace period and SIGKILL. So wait-for catches
//! them and exits 128 + the signal number (130, 143), as a shell reports a
//! process killed by them. The command wait-for execs starts with the
//! default actions again (exec resets caught signals) and handles its own.

use std::process;
use std::thread;

use shared::exit;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Exit on the first SIGINT or SIGTERM, from a thread of its own.
pub fn exit_on_interrupt() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::spawn(move || match signals.forever().next() {
        Some(SIGINT) => process::exit(exit::SIGINT),
        Some(_) => process::exit(exit::SIGTERM),
        None => {}
    });
    Ok(())
}
