//! stack-run: every shard of a test plan in its own docker-compose project.

mod cli;
mod compose;
mod derive;
mod proc;
mod progress;
mod ready;
mod rerun;
mod run;
mod shard;
mod signals;
mod sweep;
mod template;

use clap::Parser;

fn main() -> std::process::ExitCode {
    shared::cli::run("stack-run", || run::main(cli::Cli::parse()))
}
