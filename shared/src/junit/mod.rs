//! JUnit XML: the report format every CI dashboard reads.
//!
//! [`model`] holds what a report says (counts, durations, test cases),
//! [`read`] streams a report of any dialect real tools write, one event at a
//! time, and computes each suite's counts; [`write`] puts a report back
//! together. Memory stays bounded by the largest element, not the file.

pub mod model;
pub mod read;
pub mod write;
