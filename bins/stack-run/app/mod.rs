//! The invocation: the command line, its modes, the wiring of the layers
//! below, signals, and the only code that prints.

pub mod capacity;
pub mod cli;
pub mod collect;
pub mod context;
pub mod ids;
pub mod orchestrate;
pub mod progress;
pub mod seed_report;
pub mod xdist;
