//! stack-run: not built yet.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    shared::cli::run("stack-run", || {
        let _cli = cli::Cli::parse();
        anyhow::bail!("not built yet")
    })
}
