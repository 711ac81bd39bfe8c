//! Data and the functions on it, with no Docker and no other process: the
//! compose model and what is derived from it, names, the output layout
//! (which makes its folders), the plan, verdicts, templates, failed tests
//! read from JUnit.

pub mod derive;
pub mod gate;
pub mod layout;
pub mod lost_batch;
pub mod names;
pub mod network;
pub mod report;
pub mod rerun;
pub mod seed_key;
pub mod seed_source;
pub mod selection;
pub mod session;
pub mod template;
pub mod verdict;
