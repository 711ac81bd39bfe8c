//! Plans played out on simulated stacks: when would the last one finish?
//!
//! The model, in seconds. Every stack pays `startup` once (its compose
//! project up and ready); all stacks start together. A static plan gives
//! each shard its own stack and one runner start (`batch`), so it ends at
//! `startup + max(shard's actual time + batch)`. A queue of batches keeps
//! `stacks` stacks and hands the next batch, in plan order, to whichever
//! stack is free first (the lowest-numbered on a tie); each batch costs
//! `batch + its actual time`. No plan on `stacks` stacks can end before
//! [`bound`]. Sliced over CI nodes ([`Slicing`]), each node runs its share
//! of the batches on stacks of its own. Plans are made from what the planner
//! is told ([`Knowledge`]); they are played out with the actual durations.

use shared::planner::{BatchRule, Plan};

use crate::random::Random;

/// Fixed costs of a run, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Costs {
    /// Bringing one stack up, once per stack.
    pub startup: f64,
    /// Starting the test runner for one shard or batch (`compose run`,
    /// pytest's start-up and collection).
    pub batch: f64,
}

/// What the planner knows of the durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knowledge {
    /// The durations of the last run, and the tests take exactly that again.
    Exact,
    /// The recorded durations, while each test now takes between 0.7 and 1.3
    /// times as long (uniform, one factor per test).
    Stale,
    /// No durations: the planner estimates every test at the same second.
    Missing,
}

impl Knowledge {
    pub const ALL: [Knowledge; 3] = [Knowledge::Exact, Knowledge::Stale, Knowledge::Missing];

    pub fn name(self) -> &'static str {
        match self {
            Knowledge::Exact => "exact",
            Knowledge::Stale => "stale ±30 %",
            Knowledge::Missing => "no durations",
        }
    }

    /// What the planner is told about `recorded`, and how long the tests
    /// then really take.
    pub fn case(self, recorded: &[f64], random: &mut Random) -> Case {
        let known = match self {
            Knowledge::Missing => vec![None; recorded.len()],
            _ => recorded.iter().copied().map(Some).collect(),
        };
        let actual = match self {
            Knowledge::Stale => recorded
                .iter()
                .map(|&seconds| seconds * random.uniform(0.7, 1.3))
                .collect(),
            _ => recorded.to_vec(),
        };
        Case { known, actual }
    }
}

/// One simulated run's input.
pub struct Case {
    /// What the planner is given, per test.
    pub known: Vec<Option<f64>>,
    /// What each test takes when it runs.
    pub actual: Vec<f64>,
}

/// A way to size batches, for any number of stacks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Candidate {
    /// `BatchRule::Guided`: 1/(share × stacks) of what is left, at least
    /// `floor` predicted seconds.
    Guided { share: u32, floor: f64 },
    /// `BatchRule::Count`: `per_stack` × stacks batches.
    Count { per_stack: u32 },
    /// `shard-plan --batches auto`: `BatchRule::auto` with the default floor,
    /// which turns on whether any duration is known.
    Auto,
}

impl Candidate {
    /// The rule for `stacks` stacks and `units` units, `blind` when the
    /// planner knows no duration.
    pub fn rule(self, stacks: u32, blind: bool, units: usize) -> BatchRule {
        match self {
            Candidate::Auto => BatchRule::auto(
                stacks,
                shared::planner::nanos(shared::planner::DEFAULT_MIN_BATCH),
                blind,
                units,
            ),
            Candidate::Guided { share, floor } => BatchRule::Guided {
                stacks,
                share,
                floor: shared::planner::nanos(floor),
            },
            Candidate::Count { per_stack } => BatchRule::Count(per_stack * stacks),
        }
    }

    pub fn label(self) -> String {
        match self {
            Candidate::Guided { share, floor } => format!("guided 1/{share}N, floor {floor} s"),
            Candidate::Count { per_stack } => format!("count {per_stack}N"),
            Candidate::Auto => format!(
                "auto: guided 1/{}N, floor {} s; {}N blind",
                shared::planner::GUIDED_SHARE,
                shared::planner::DEFAULT_MIN_BATCH,
                shared::planner::BLIND_BATCHES_PER_STACK
            ),
        }
    }
}

/// The actual seconds of each shard or batch of `plan`.
fn actual_loads(plan: &Plan, actual: &[f64]) -> Vec<f64> {
    let mut loads = vec![0.0; plan.shards.len()];
    for (&shard, &seconds) in plan.shard_of.iter().zip(actual) {
        loads[shard as usize - 1] += seconds;
    }
    loads
}

/// A static plan's wall time: every shard on a stack of its own.
pub fn static_wall(plan: &Plan, actual: &[f64], costs: Costs) -> f64 {
    let longest = actual_loads(plan, actual).into_iter().fold(0.0, f64::max);
    costs.startup + costs.batch + longest
}

/// A queue's wall time: the batches of `plan`, in order, on `stacks` stacks.
pub fn queue_wall(plan: &Plan, actual: &[f64], stacks: u32, costs: Costs) -> f64 {
    queue_wall_on_nodes(plan, actual, 1, stacks, costs)
}

/// How a queue's batches are shared out among CI nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slicing {
    /// What `stack-run --node I/M` does: node I takes batches I, I+M, I+2M, ...
    RoundRobin,
    /// Back and forth (simulated only): node I takes batches I and 2M+1-I of
    /// every 2M, so the node that took a round's largest batch (batches
    /// shrink) takes the next round's smallest.
    Snake,
}

impl Slicing {
    /// The 0-based node of the 0-based `batch` among `nodes` nodes.
    pub fn node(self, batch: usize, nodes: usize) -> usize {
        let (round, place) = (batch / nodes, batch % nodes);
        match self {
            Slicing::Snake if round % 2 == 1 => nodes - 1 - place,
            _ => place,
        }
    }
}

/// The same queue sliced over `nodes` CI nodes as `stack-run --node I/M`
/// slices it (node I takes batches I, I+M, I+2M, ...), each node with
/// `stacks` stacks of its own: the wall time of the last node.
pub fn queue_wall_on_nodes(
    plan: &Plan,
    actual: &[f64],
    nodes: u32,
    stacks: u32,
    costs: Costs,
) -> f64 {
    node_ends(plan, actual, nodes, stacks, costs, Slicing::RoundRobin)
        .into_iter()
        .fold(0.0, f64::max)
}

/// When each of `nodes` nodes, with `stacks` stacks of its own, finishes its
/// slice of the queue; each stack takes the node's next batch as it comes free.
pub fn node_ends(
    plan: &Plan,
    actual: &[f64],
    nodes: u32,
    stacks: u32,
    costs: Costs,
    slicing: Slicing,
) -> Vec<f64> {
    let nodes = nodes.max(1) as usize;
    let mut free_at = vec![vec![costs.startup; stacks.max(1) as usize]; nodes];
    for (batch, load) in actual_loads(plan, actual).into_iter().enumerate() {
        let free_at = &mut free_at[slicing.node(batch, nodes)];
        let first_free = (0..free_at.len())
            .min_by(|&a, &b| free_at[a].total_cmp(&free_at[b]).then(a.cmp(&b)))
            .expect("at least one stack");
        free_at[first_free] += costs.batch + load;
    }
    free_at
        .into_iter()
        .map(|stacks| stacks.into_iter().fold(0.0, f64::max))
        .collect()
}

/// No run on `stacks` stacks ends sooner: the longest test, or an even share
/// of all of them, after one stack start-up.
pub fn bound(actual: &[f64], stacks: u32, startup: f64) -> f64 {
    let longest = actual.iter().copied().fold(0.0, f64::max);
    let total: f64 = actual.iter().sum();
    startup + longest.max(total / f64::from(stacks.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::planner::Load;

    fn plan(shard_of: &[u32]) -> Plan {
        let count = *shard_of.iter().max().unwrap() as usize;
        let load = Load {
            nanos: 0,
            tests: 0,
            units: 0,
        };
        Plan {
            shard_of: shard_of.to_vec(),
            shards: vec![load; count],
        }
    }

    const COSTS: Costs = Costs {
        startup: 10.0,
        batch: 2.0,
    };

    #[test]
    fn a_static_plan_ends_with_its_longest_shard() {
        let p = plan(&[1, 2, 2]);
        assert_eq!(static_wall(&p, &[5.0, 3.0, 4.0], COSTS), 10.0 + 2.0 + 7.0);
    }

    #[test]
    fn the_queue_gives_each_batch_to_the_first_free_stack() {
        // Batches of 8, 4, 3 and 1 s on 2 stacks up at 10 s: 8 on the first
        // (free at 20), 4 then 3 on the second (free at 16, then 21), 1 on
        // the first again, from 20 to 23.
        let p = plan(&[1, 2, 3, 4]);
        let wall = queue_wall(&p, &[8.0, 4.0, 3.0, 1.0], 2, COSTS);
        assert_eq!(wall, 23.0);
        // A stack per batch: the longest batch ends last.
        assert_eq!(queue_wall(&p, &[8.0, 4.0, 3.0, 1.0], 9, COSTS), 20.0);
    }

    #[test]
    fn nodes_take_every_mth_batch_on_stacks_of_their_own() {
        // Batches of 8, 4, 3 and 1 s on 2 nodes of 1 stack: the first node
        // runs 8 and 3 (10 + 10 + 5), the second 4 and 1 (10 + 6 + 3).
        let p = plan(&[1, 2, 3, 4]);
        let actual = [8.0, 4.0, 3.0, 1.0];
        assert_eq!(queue_wall_on_nodes(&p, &actual, 2, 1, COSTS), 25.0);
        assert_eq!(
            queue_wall_on_nodes(&p, &actual, 1, 2, COSTS),
            queue_wall(&p, &actual, 2, COSTS)
        );
    }

    #[test]
    fn the_snake_turns_back_every_other_round() {
        let nodes: Vec<usize> = (0..8).map(|b| Slicing::Snake.node(b, 3)).collect();
        assert_eq!(nodes, [0, 1, 2, 2, 1, 0, 0, 1]);
        let nodes: Vec<usize> = (0..8).map(|b| Slicing::RoundRobin.node(b, 3)).collect();
        assert_eq!(nodes, [0, 1, 2, 0, 1, 2, 0, 1]);
    }

    #[test]
    fn the_snake_evens_out_shrinking_batches_over_nodes() {
        // Batches of 8, 6, 4 and 2 s on 2 nodes of 1 stack: round-robin
        // gives the first node 8 and 4 (10 + 10 + 6), the second 6 and 2
        // (10 + 8 + 4); the snake gives each 10 s of tests (10 + 10 + 4).
        let p = plan(&[1, 2, 3, 4]);
        let actual = [8.0, 6.0, 4.0, 2.0];
        let ends = |slicing| node_ends(&p, &actual, 2, 1, COSTS, slicing);
        assert_eq!(ends(Slicing::RoundRobin), [26.0, 22.0]);
        assert_eq!(ends(Slicing::Snake), [24.0, 24.0]);
    }

    #[test]
    fn a_node_without_batches_ends_when_its_stacks_are_up() {
        let p = plan(&[1, 2]);
        let ends = node_ends(&p, &[8.0, 4.0], 3, 2, COSTS, Slicing::RoundRobin);
        assert_eq!(ends, [20.0, 16.0, 10.0]);
    }

    #[test]
    fn the_bound_is_the_longest_test_or_an_even_share() {
        assert_eq!(bound(&[8.0, 4.0, 3.0, 1.0], 2, 10.0), 18.0);
        assert_eq!(bound(&[8.0, 4.0, 3.0, 1.0], 4, 10.0), 18.0);
        assert_eq!(bound(&[4.0, 4.0, 4.0, 4.0], 2, 10.0), 18.0);
    }

    #[test]
    fn stale_durations_stay_within_thirty_percent() {
        let recorded = vec![10.0; 1000];
        let case = Knowledge::Stale.case(&recorded, &mut Random::new(1));
        assert!(case.actual.iter().all(|&s| (7.0..13.0).contains(&s)));
        assert!(case.known.iter().all(|&s| s == Some(10.0)));
        let missing = Knowledge::Missing.case(&recorded, &mut Random::new(1));
        assert!(missing.known.iter().all(Option::is_none));
        assert_eq!(missing.actual, recorded);
    }
}
