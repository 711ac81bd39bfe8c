//! junit-merge: not built yet.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    shared::cli::run("junit-merge", || {
        let _cli = cli::Cli::parse();
        anyhow::bail!("not built yet")
    })
}
