//! stack-run: every shard of a test plan in its own docker-compose project.

mod app;
mod engine;
mod model;
mod schedule;
mod stack;

use clap::Parser;

fn main() -> std::process::ExitCode {
    shared::cli::run("stack-run", || {
        app::orchestrate::main(app::cli::Cli::parse())
    })
}
