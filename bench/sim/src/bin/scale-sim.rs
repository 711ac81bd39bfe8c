//! Many CI nodes × stacks per node, on generated suites of any size: when do
//! more nodes stop paying (see `bench/sim/README.md`, "Many nodes")?

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt::Write as _;

use anyhow::Context;
use bench::node::{self, Fleet, NodeCosts, Outcome, Startup};
use bench::random::Random;
use bench::sim::{Candidate, Knowledge, Slicing};
use bench::suite::{Model, Suite};
use clap::Parser;
use shared::planner::{self, Balancer, GroupBy};

/// Plan generated suites as `shard-plan --batches auto --stacks M×S` does,
/// with stale durations (each test ×0.7–1.3), play the batches out on M CI
/// nodes of S stacks each (`stack-run --node I/M --stacks S`), and print
/// Markdown tables of the wall time and balance.
#[derive(Parser)]
#[command(name = "scale-sim")]
struct Cli {
    /// Suite sizes, in tests.
    #[arg(long, value_delimiter = ',', default_value = "5000,50000")]
    tests: Vec<usize>,
    /// The first seed: run R uses seed + R for its suite and stale factors.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many suites of each size to average over.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// CI node counts (M).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16")]
    nodes: Vec<u32>,
    /// Stacks on each node (S).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64")]
    stacks: Vec<u32>,
    /// Seconds for a node's own start before its stacks: checkout, images
    /// built or loaded, tests collected.
    #[arg(long, default_value_t = 60.0)]
    node_cost: f64,
    /// Seconds to start the runner for each batch.
    #[arg(long, default_value_t = 2.0)]
    batch_cost: f64,
    /// Start-up per stack as measured, STACKS:SECONDS with that many
    /// stacks started at once on a machine of --startup-cores cores; by
    /// default stack-run's, by bench/startup on 2 cores: 1:3.9,2:4.2,4:8.5,8:24.9
    #[arg(long, value_delimiter = ',', value_parser = parse_point)]
    startup: Option<Vec<(u32, f64)>>,
    /// The cores of the machine --startup was measured on.
    #[arg(long, default_value_t = Startup::MEASURED_CORES, value_parser = clap::value_parser!(u32).range(1..))]
    startup_cores: u32,
    /// Cores on each node; by default a core per stack, whatever S. Fewer
    /// cores than stacks slow the start-up as --startup says and every test
    /// and batch start by stacks / cores.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    cores: Option<u32>,
}

/// STACKS:SECONDS.
fn parse_point(text: &str) -> Result<(u32, f64), String> {
    let (stacks, seconds) = text
        .split_once(':')
        .ok_or_else(|| format!("{text}: not STACKS:SECONDS"))?;
    let stacks = stacks
        .parse()
        .map_err(|_| format!("{text}: {stacks} is not a stack count"))?;
    let seconds = seconds
        .parse()
        .map_err(|_| format!("{text}: {seconds} is not a number of seconds"))?;
    Ok((stacks, seconds))
}

/// Outcomes summed over the runs, to average: round-robin, then snake.
#[derive(Default, Clone, Copy)]
struct Cell {
    startup: f64,
    bound: f64,
    wall: [f64; 2],
    over_bound: [f64; 2],
    balance: [f64; 2],
    node_time: f64,
    core_time: f64,
}

const SLICINGS: [Slicing; 2] = [Slicing::RoundRobin, Slicing::Snake];

impl Cell {
    fn add(&mut self, fleet: Fleet, startup: f64, outcomes: [Outcome; 2]) {
        self.startup += startup;
        self.bound += outcomes[0].bound;
        self.node_time += outcomes[0].node_time;
        self.core_time += outcomes[0].node_time * f64::from(fleet.cores);
        for (s, outcome) in outcomes.iter().enumerate() {
            self.wall[s] += outcome.wall;
            self.over_bound[s] += outcome.wall / outcome.bound;
            self.balance[s] += outcome.balance;
        }
    }

    fn mean(mut self, runs: f64) -> Cell {
        self.startup /= runs;
        self.bound /= runs;
        self.node_time /= runs;
        self.core_time /= runs;
        for s in 0..SLICINGS.len() {
            self.wall[s] /= runs;
            self.over_bound[s] /= runs;
            self.balance[s] /= runs;
        }
        self
    }
}

/// By node count and stacks per node.
type Cells = BTreeMap<(u32, u32), Cell>;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.nodes.contains(&0) || cli.stacks.contains(&0) {
        anyhow::bail!("--nodes and --stacks count from 1");
    }
    let measured = cli.startup.as_deref().unwrap_or(&Startup::MEASURED);
    let startup = Startup::new(measured, cli.startup_cores)
        .map_err(anyhow::Error::msg)
        .context("--startup")?;
    let costs = NodeCosts {
        node: cli.node_cost,
        startup,
        batch: cli.batch_cost,
    };
    let mut text = String::new();
    for &tests in &cli.tests {
        text += &simulate(&cli, &costs, measured, tests)?;
    }
    print!("{text}");
    Ok(())
}

/// The tables for suites of `tests` tests.
fn simulate(
    cli: &Cli,
    costs: &NodeCosts,
    measured: &[(u32, f64)],
    tests: usize,
) -> anyhow::Result<String> {
    let rule = Candidate::Guided {
        share: planner::GUIDED_SHARE,
        floor: planner::DEFAULT_MIN_BATCH,
    };
    let model = Model::django(tests);
    let mut cells = Cells::new();
    let mut described = String::new();
    for run in 0..cli.runs {
        let suite = Suite::generate(&model, cli.seed + run);
        if run == 0 {
            described = describe(&suite, cli, measured);
        }
        let ids: Vec<&str> = suite.ids.iter().map(String::as_str).collect();
        let case = Knowledge::Stale.case(&suite.seconds, &mut Random::new(!(cli.seed + run)));
        let estimates = planner::estimate(&ids, &case.known);
        let units = planner::group(&ids, &estimates.seconds, GroupBy::Test);
        let balancer = Balancer::new(&units);
        // M × S stacks in all share one plan, whatever M and S.
        let mut plans = BTreeMap::new();
        for &nodes in &cli.nodes {
            for &stacks in &cli.stacks {
                let all = nodes * stacks;
                if let Entry::Vacant(entry) = plans.entry(all) {
                    entry.insert(
                        balancer
                            .batches(rule.rule(all, false, balancer.units()))
                            .context("planning batches")?,
                    );
                }
                let fleet = Fleet {
                    nodes,
                    stacks,
                    cores: cli.cores.unwrap_or(stacks),
                };
                let outcomes = SLICINGS
                    .map(|slicing| node::run(&plans[&all], &case.actual, fleet, costs, slicing));
                cells.entry((nodes, stacks)).or_default().add(
                    fleet,
                    costs.startup.seconds(stacks, fleet.cores),
                    outcomes,
                );
            }
        }
    }
    let runs = cli.runs as f64;
    let cells: Cells = cells
        .into_iter()
        .map(|(key, cell)| (key, cell.mean(runs)))
        .collect();
    Ok(format!(
        "{described}{}{}",
        wall_table(cli, &cells),
        full_table(cli, &cells)
    ))
}

fn describe(suite: &Suite, cli: &Cli, measured: &[(u32, f64)]) -> String {
    let total: f64 = suite.seconds.iter().sum();
    let longest = suite.seconds.iter().copied().fold(0.0, f64::max);
    let startup: Vec<String> = measured
        .iter()
        .map(|(stacks, seconds)| format!("{stacks}:{seconds}"))
        .collect();
    format!(
        "### {} tests\n\nGenerated suites, seeds {}..={}; the first {total:.0} s of tests in all, \
         the longest {longest:.1} s. Averaged over {} runs; stale durations (each test ×0.7–1.3); \
         batches by the default rule (guided 1/2N, floor {} s) for M × S stacks; node start {} s, \
         batch start {} s, stack start-up from {} on {} cores, {}.\n\n",
        suite.ids.len(),
        cli.seed,
        cli.seed + cli.runs - 1,
        cli.runs,
        planner::DEFAULT_MIN_BATCH,
        cli.node_cost,
        cli.batch_cost,
        startup.join(","),
        cli.startup_cores,
        match cli.cores {
            None => "a core per stack".to_string(),
            Some(cores) => format!("{cores} cores a node"),
        },
    )
}

/// Wall time by nodes and stacks per node, round-robin slices: the README's table.
fn wall_table(cli: &Cli, cells: &Cells) -> String {
    let mut text = String::from("#### Wall time, seconds\n\nM nodes of S stacks each.\n\n| M |");
    let mut rule = String::from("| ---: |");
    for stacks in &cli.stacks {
        let _ = write!(text, " S = {stacks} |");
        rule += " ---: |";
    }
    let _ = writeln!(text, "\n{rule}");
    for &nodes in &cli.nodes {
        let _ = write!(text, "| {nodes} |");
        for &stacks in &cli.stacks {
            let _ = write!(text, " {:.0} |", cells[&(nodes, stacks)].wall[0]);
        }
        text += "\n";
    }
    text
}

/// Every cell, round-robin slices against the snake.
fn full_table(cli: &Cli, cells: &Cells) -> String {
    let mut text = String::from(
        "\n#### In full\n\nSeconds; `over` is wall time over the bound, `balance` the last node's \
         end over the mean node's end, `node min` every node's time added up, in minutes, `core min` the same times \
         each node's cores; \
         round-robin slices (`stack-run --node`), then the snake.\n\n\
         | nodes | stacks a node | stacks in all | stack start-up | bound | wall | over | balance \
         | node min | core min | snake: wall | over | balance |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for &nodes in &cli.nodes {
        for &stacks in &cli.stacks {
            let cell = &cells[&(nodes, stacks)];
            let _ = write!(
                text,
                "| {nodes} | {stacks} | {} | {:.1} | {:.0} |",
                nodes * stacks,
                cell.startup,
                cell.bound
            );
            for (s, slicing) in SLICINGS.into_iter().enumerate() {
                let _ = write!(
                    text,
                    " {:.0} | {:.3} | {:.3} |",
                    cell.wall[s], cell.over_bound[s], cell.balance[s]
                );
                if slicing == Slicing::RoundRobin {
                    let _ = write!(
                        text,
                        " {:.0} | {:.0} |",
                        cell.node_time / 60.0,
                        cell.core_time / 60.0
                    );
                }
            }
            text += "\n";
        }
    }
    text + "\n"
}
