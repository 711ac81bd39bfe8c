//! What the shardstack tools share, and nothing else.
//!
//! Each binary in `bins/` is a thin command line over this crate: the exit
//! codes every tool documents, opening inputs and writing outputs the same
//! way, ending with one error line, and the formats the tools hand each other.

pub mod ci;
pub mod cli;
pub mod contract;
pub mod count;
pub mod coverage;
pub mod durations;
pub mod exit;
pub mod help;
pub mod io;
pub mod junit;
pub mod nodeid;
pub mod plan;
pub mod planner;
pub mod results;
pub mod setup;
pub mod subnet;
pub mod time;
pub mod timeout;
pub mod xml;
