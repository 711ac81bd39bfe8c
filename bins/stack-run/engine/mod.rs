//! Processes, the docker and compose command lines, Docker's events,
//! networks, image keys and caches, signals.

pub mod build_key;
pub mod compose;
pub mod docker;
pub mod events;
pub mod proc;
pub mod seed_cache;
pub mod session;
pub mod signals;
pub mod subnets;
