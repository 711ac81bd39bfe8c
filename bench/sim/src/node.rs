//! A CI node of S stacks: how long its stacks take to come up, and how much
//! slower they run when the node has fewer cores than stacks.
//!
//! Stacks on one machine start together and compete for its cores:
//! stack-run's start-up per stack, measured by `bench/startup` on 2 cores,
//! was 3.9 s for 1 stack, 4.2 s for 2, 8.5 s for 4 and 24.9 s for 8.
//! [`Startup`] keeps such figures by stacks per core, so they carry over to
//! a node of any size: 8 stacks on 4 cores start as 4 did on 2. Between two
//! measured points it draws a straight line; past the last, it goes on along
//! the last segment (never below the last point); below the first, it stays
//! at the first.
//!
//! [`run`] plays a queue out on M such nodes, which all start together and
//! each pay their own start (checkout, images) before their stacks come up.

use shared::planner::Plan;

use crate::sim::{self, Costs, Slicing};

/// Seconds for each stack to come up, by how many stacks share a core.
#[derive(Debug, Clone, PartialEq)]
pub struct Startup {
    /// (stacks per core, seconds), by stacks per core, no two alike.
    points: Vec<(f64, f64)>,
}

impl Startup {
    /// stack-run's start-up per stack by stacks started at once, on
    /// [`Startup::MEASURED_CORES`] cores (`bench/startup/README.md`).
    pub const MEASURED: [(u32, f64); 4] = [(1, 3.9), (2, 4.2), (4, 8.5), (8, 24.9)];
    pub const MEASURED_CORES: u32 = 2;

    /// From seconds per stack with that many stacks started at once, on a
    /// machine of `cores` cores.
    pub fn new(measured: &[(u32, f64)], cores: u32) -> Result<Startup, String> {
        if cores == 0 {
            return Err("a machine has at least one core".into());
        }
        let mut points = Vec::with_capacity(measured.len());
        for &(stacks, seconds) in measured {
            if stacks == 0 || !seconds.is_finite() || seconds < 0.0 {
                return Err(format!(
                    "{stacks}:{seconds}: needs a stack or more and seconds of 0 or more"
                ));
            }
            points.push((f64::from(stacks) / f64::from(cores), seconds));
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        if points.is_empty() {
            return Err("no start-up measured".into());
        }
        if points.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err("a stack count measured twice".into());
        }
        Ok(Startup { points })
    }

    /// Seconds for each of `stacks` stacks, started together on `cores` cores.
    pub fn seconds(&self, stacks: u32, cores: u32) -> f64 {
        let load = f64::from(stacks) / f64::from(cores.max(1));
        let points = &self.points;
        let (first, last) = (points[0], points[points.len() - 1]);
        if points.len() == 1 || load <= first.0 {
            return first.1;
        }
        // The segment holding `load`, or the last one past the end.
        let after = points
            .iter()
            .position(|&(at, _)| at >= load)
            .unwrap_or(points.len() - 1);
        let ((x0, y0), (x1, y1)) = (points[after - 1], points[after]);
        let seconds = y0 + (y1 - y0) * (load - x0) / (x1 - x0);
        if load > last.0 {
            seconds.max(last.1)
        } else {
            seconds
        }
    }
}

/// How many times longer each test and batch start takes when `stacks`
/// stacks share `cores` cores: 1 while every stack has a core of its own.
pub fn slowdown(stacks: u32, cores: u32) -> f64 {
    (f64::from(stacks) / f64::from(cores.max(1))).max(1.0)
}

/// M CI nodes alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fleet {
    pub nodes: u32,
    /// Stacks on each node (`stack-run --stacks`).
    pub stacks: u32,
    /// Cores on each node.
    pub cores: u32,
}

/// What a node pays besides its tests.
#[derive(Debug, Clone)]
pub struct NodeCosts {
    /// The node's own start before its stacks: checkout, images built or
    /// loaded, tests collected.
    pub node: f64,
    pub startup: Startup,
    /// Starting the test runner for one batch, with a core to itself.
    pub batch: f64,
}

/// How a run on a fleet went, in seconds from the nodes' start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// When the last node finishes.
    pub wall: f64,
    /// No run on the fleet ends sooner: the node's start, its stacks'
    /// start-up, then the longest test or an even share of all of them.
    pub bound: f64,
    /// The last node's end over the mean node's end: 1 when the nodes
    /// finish together.
    pub balance: f64,
    /// Every node's end added up: what a CI bills by the node.
    pub node_time: f64,
}

/// The batches of `plan`, sliced over the fleet's nodes.
pub fn run(
    plan: &Plan,
    actual: &[f64],
    fleet: Fleet,
    costs: &NodeCosts,
    slicing: Slicing,
) -> Outcome {
    let slowdown = slowdown(fleet.stacks, fleet.cores);
    let actual: Vec<f64> = actual.iter().map(|&seconds| seconds * slowdown).collect();
    let stack_costs = Costs {
        startup: costs.startup.seconds(fleet.stacks, fleet.cores),
        batch: costs.batch * slowdown,
    };
    let ends: Vec<f64> = sim::node_ends(
        plan,
        &actual,
        fleet.nodes,
        fleet.stacks,
        stack_costs,
        slicing,
    )
    .into_iter()
    .map(|end| costs.node + end)
    .collect();
    let wall = ends.iter().copied().fold(0.0, f64::max);
    let node_time: f64 = ends.iter().sum();
    let stacks = fleet.nodes.max(1) * fleet.stacks.max(1);
    Outcome {
        wall,
        bound: costs.node + sim::bound(&actual, stacks, stack_costs.startup),
        balance: wall / (node_time / ends.len() as f64),
        node_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Candidate;
    use crate::suite::{Model, Suite};
    use shared::planner::{self, Balancer, GroupBy, Load};

    fn measured() -> Startup {
        Startup::new(&Startup::MEASURED, Startup::MEASURED_CORES).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_measured_points_come_back_on_the_measured_machine() {
        let startup = measured();
        for (stacks, seconds) in Startup::MEASURED {
            assert!(close(startup.seconds(stacks, 2), seconds), "{stacks}");
        }
    }

    #[test]
    fn a_core_per_stack_starts_as_two_stacks_on_two_cores_at_any_size() {
        let startup = measured();
        for stacks in [1, 2, 4, 8, 16, 32, 64] {
            assert!(close(startup.seconds(stacks, stacks), 4.2), "{stacks}");
        }
    }

    #[test]
    fn between_points_a_line_past_the_last_its_slope() {
        let startup = measured();
        // 8 stacks on 4 cores: 4 on 2.
        assert!(close(startup.seconds(8, 4), 8.5));
        // 3 stacks on 2 cores: halfway from 4.2 to 8.5.
        assert!(close(startup.seconds(3, 2), 6.35));
        // 16 stacks on 2 cores: 24.9 s plus 4 more stacks per core at 8.2 s each.
        assert!(close(startup.seconds(16, 2), 24.9 + 4.0 * 8.2));
        // Half a stack per core or less: the first point.
        assert!(close(startup.seconds(1, 8), 3.9));
        // A falling last segment stops at its last point.
        let falling = Startup::new(&[(1, 5.0), (2, 4.0)], 1).unwrap();
        assert_eq!(falling.seconds(4, 1), 4.0);
    }

    #[test]
    fn one_point_is_a_constant_and_bad_points_are_refused() {
        let constant = Startup::new(&[(1, 10.0)], 1).unwrap();
        assert_eq!(constant.seconds(64, 1), 10.0);
        assert!(Startup::new(&[], 2).is_err());
        assert!(Startup::new(&[(1, 3.0)], 0).is_err());
        assert!(Startup::new(&[(0, 3.0)], 2).is_err());
        assert!(Startup::new(&[(2, 3.0), (2, 4.0)], 2).is_err());
        assert!(Startup::new(&[(2, f64::NAN)], 2).is_err());
    }

    #[test]
    fn stacks_beyond_the_cores_slow_down_in_proportion() {
        assert_eq!(slowdown(4, 8), 1.0);
        assert_eq!(slowdown(8, 8), 1.0);
        assert_eq!(slowdown(16, 4), 4.0);
    }

    fn costs(node: f64, startup: f64) -> NodeCosts {
        NodeCosts {
            node,
            startup: Startup::new(&[(1, startup)], 1).unwrap(),
            batch: 2.0,
        }
    }

    #[test]
    fn a_node_pays_its_start_then_its_stacks_then_its_batches() {
        // Batches of 8, 4, 3 and 1 s on 2 nodes of 1 stack, round-robin:
        // the first node 60 + 10 + (2 + 8) + (2 + 3) = 85, the second
        // 60 + 10 + (2 + 4) + (2 + 1) = 79.
        let plan = Plan {
            shard_of: vec![1, 2, 3, 4],
            shards: vec![
                Load {
                    nanos: 0,
                    tests: 1,
                    units: 1
                };
                4
            ],
        };
        let actual = [8.0, 4.0, 3.0, 1.0];
        let fleet = Fleet {
            nodes: 2,
            stacks: 1,
            cores: 1,
        };
        let outcome = run(
            &plan,
            &actual,
            fleet,
            &costs(60.0, 10.0),
            Slicing::RoundRobin,
        );
        assert_eq!(outcome.wall, 85.0);
        assert_eq!(outcome.bound, 60.0 + 10.0 + 8.0);
        assert_eq!(outcome.balance, 85.0 / 82.0);
        assert_eq!(outcome.node_time, 85.0 + 79.0);
        // Two stacks on one core: both start as two a core, every second twice as long.
        let crowded = Fleet { stacks: 2, ..fleet };
        let outcome = run(
            &plan,
            &actual,
            crowded,
            &costs(60.0, 10.0),
            Slicing::RoundRobin,
        );
        // The first node: 8 and 3 on stacks of their own, (2 + 8) × 2 = 20.
        assert_eq!(outcome.wall, 60.0 + 10.0 + 20.0);
    }

    /// The generated suite's batches under the default rule for `stacks` in all.
    fn default_batches(balancer: &Balancer, stacks: u32) -> Plan {
        let rule = Candidate::Guided {
            share: planner::GUIDED_SHARE,
            floor: planner::DEFAULT_MIN_BATCH,
        };
        balancer
            .batches(rule.rule(stacks, false, balancer.units()))
            .unwrap()
    }

    #[test]
    fn with_no_start_up_more_stacks_never_take_longer() {
        let suite = Suite::generate(&Model::DJANGO, 1);
        let ids: Vec<&str> = suite.ids.iter().map(String::as_str).collect();
        let units = planner::group(&ids, &suite.seconds, GroupBy::Test);
        let balancer = Balancer::new(&units);
        let costs = costs(0.0, 0.0);
        for nodes in [1, 2, 4, 8, 16] {
            let mut last = f64::INFINITY;
            for stacks in [1, 2, 4, 8, 16, 32, 64] {
                let plan = default_batches(&balancer, nodes * stacks);
                let fleet = Fleet {
                    nodes,
                    stacks,
                    cores: stacks,
                };
                let outcome = run(&plan, &suite.seconds, fleet, &costs, Slicing::RoundRobin);
                assert!(outcome.wall >= outcome.bound, "{nodes} × {stacks}");
                assert!(
                    outcome.wall <= last,
                    "{nodes} × {stacks}: {outcome:?} after {last}"
                );
                last = outcome.wall;
            }
        }
    }
}
