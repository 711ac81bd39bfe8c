//! Pure data and functions: the compose model and what is derived from
//! it, names, the output layout, the plan, verdicts, templates.

pub mod derive;
pub mod gate;
pub mod layout;
pub mod names;
pub mod network;
pub mod report;
pub mod rerun;
pub mod seed_key;
pub mod seed_source;
pub mod selection;
pub mod template;
pub mod verdict;
