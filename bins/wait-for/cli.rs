//! The command line of wait-for.

use clap::Parser;
use shared::exit;
use shared::help::{Example, after_help};

/// Not built yet.
#[derive(Parser, Debug)]
#[command(name = "wait-for", version, after_long_help = after_help(EXAMPLES, EXIT_STATUS))]
pub struct Cli {}

pub const EXAMPLES: &[Example] = &[];

pub const EXIT_STATUS: &[(i32, &str)] = &[(exit::USAGE, "usage error")];
