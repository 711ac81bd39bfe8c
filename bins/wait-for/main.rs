//! wait-for: wait until services are really ready, then exec a command.
//! Invoked as `wait-for-it.sh`, it is a drop-in for wait-for-it.

mod cli;
mod compat;
mod net;
mod probe;
mod run;
mod signals;
mod target;
mod wait;

use std::path::Path;

use clap::Parser;
use shared::exit::{self, ExitContext};

fn main() -> std::process::ExitCode {
    if let Err(error) = signals::exit_on_interrupt() {
        eprintln!("wait-for: cannot catch SIGINT and SIGTERM: {error}");
    }
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let name = Path::new(&argv0)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if compat::is_compat(&name) {
        return shared::cli::run(&name, || Ok(compat::run(&name, args.collect())));
    }
    shared::cli::run("wait-for", || {
        run::run(cli::Cli::parse()).exit_code(exit::USAGE)
    })
}
