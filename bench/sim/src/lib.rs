//! Simulations that pick shardstack's defaults by computation alone.
//!
//! Running the example suite in real stacks measures one small suite on one
//! machine; choosing how `shard-plan --batches auto` sizes batches needs
//! many stack counts, a real-sized suite and durations that are exact, stale
//! or missing. This crate generates such a suite ([`suite`]), plans it with
//! the real planner and plays the plans out on simulated stacks ([`sim`]),
//! on one machine or on many CI nodes whose stacks start up as measured
//! ([`node`]).

pub mod node;
pub mod random;
pub mod sim;
pub mod suite;
