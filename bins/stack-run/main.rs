//! stack-run: every shard of a test plan in its own docker-compose project.
//!
//! `orchestrate` runs the whole invocation over a [`context::Context`] built
//! once from the command line; `lifecycle` runs one shard's attempts, each
//! by `attempt`, whose status `verdict` decides; with `--stacks`, `pool`
//! runs batches on stacks kept up between them, from the same pieces of
//! `attempt`; `collect` lists the tests in a stack of its own; `seed` makes
//! the sidecars' state once, before any shard starts, `seed_cache`
//! carries exactly that seed in a file between CI jobs, and `seed_report`
//! accounts for it (its results line, the shards' logs). The rest are
//! leaves: the compose program and files (`compose`, `derive`), each
//! stack's networks (`subnets`), child processes (`proc`), readiness
//! (`ready`, woken by Docker's `events`), removal by label (`sweep`),
//! signals, progress, the plan (`selection`) and whether its ids name
//! files the container has (`ids`), the output layout, how many
//! stacks a host holds (`capacity`), xdist's warning, and `rerun`'s JUnit
//! reading.

mod attempt;
mod build;
mod build_key;
mod capacity;
mod cli;
mod collect;
mod compose;
mod context;
mod derive;
mod events;
mod gate;
mod ids;
mod layout;
mod lifecycle;
mod orchestrate;
mod pool;
mod proc;
mod progress;
mod ready;
mod rerun;
mod resident;
mod seed;
mod seed_cache;
mod seed_key;
mod seed_report;
mod selection;
mod signals;
mod subnets;
mod sweep;
mod template;
mod verdict;
mod xdist;

use clap::Parser;

fn main() -> std::process::ExitCode {
    shared::cli::run("stack-run", || orchestrate::main(cli::Cli::parse()))
}
