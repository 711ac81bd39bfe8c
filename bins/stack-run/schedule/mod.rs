//! What runs when: every attempt at every unit of the plan, on stacks
//! fresh or pooled, the rerun rule and the stack count.

pub mod attempt;
pub mod lifecycle;
pub mod pool;
pub mod seed;
