//! One compose project's life, with no policy and no printing: made from
//! the run's blueprint, brought up, commands run in it, torn down.

pub mod build;
pub mod ready;
pub mod resident;
