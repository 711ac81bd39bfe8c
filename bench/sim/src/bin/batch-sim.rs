//! Static shards against a queue of batches, on simulated stacks, to choose
//! how `shard-plan --batches auto` sizes batches (see `bench/sim/README.md`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bench::random::Random;
use bench::sim::{self, Candidate, Costs, Knowledge};
use bench::suite::{Model, Suite};
use clap::Parser;
use shared::planner::{self, Balancer, GroupBy};

/// Plan a suite as static shards and as batches under several rules, play
/// every plan out on 2 to 64 simulated stacks with exact, stale and missing
/// durations, and print Markdown tables of wall time against the bound.
#[derive(Parser)]
#[command(name = "batch-sim")]
struct Cli {
    /// A real `.test_durations` to simulate instead of generated suites.
    #[arg(long, value_name = "FILE")]
    durations: Option<PathBuf>,
    /// The first seed: run R uses seed + R for its suite and stale factors.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many suites (or, with --durations, sets of stale factors) to average over.
    #[arg(long, default_value_t = 20)]
    runs: u64,
    /// Stack counts.
    #[arg(long, value_delimiter = ',', default_value = "2,4,8,16,32,64")]
    stacks: Vec<u32>,
    /// Seconds to start the runner for each shard or batch.
    #[arg(long, value_delimiter = ',', default_value = "2,5")]
    batch_cost: Vec<f64>,
    /// CI nodes the stacks are spread over (`stack-run --node I/M`): each
    /// count in --stacks is the total, that many divided by M on each node,
    /// and a node takes every Mth batch.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    nodes: u32,
    /// Seconds to bring one stack up.
    #[arg(long, default_value_t = 10.0)]
    startup: f64,
}

/// How much lower another rule's mean must be to replace the default.
const TOLERANCE: f64 = 0.01;

/// Every rule compared.
fn candidates() -> Vec<Candidate> {
    let mut all = Vec::new();
    for share in [1, 2, 3] {
        for floor in [0.0, 2.0, 5.0, 10.0, 20.0, 40.0] {
            all.push(Candidate::Guided { share, floor });
        }
    }
    for per_stack in [2, 3, 4, 8] {
        all.push(Candidate::Count { per_stack });
    }
    all.push(Candidate::Auto);
    all
}

/// Sums over the runs, to average.
#[derive(Default, Clone)]
struct Cell {
    bound: f64,
    static_wall: f64,
    static_ratio: f64,
    queue_wall: Vec<f64>,
    queue_ratio: Vec<f64>,
}

/// By batch cost (its index), durations and stack count.
type Cells = BTreeMap<(usize, usize, u32), Cell>;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(stacks) = cli.stacks.iter().find(|&&n| n == 0 || n % cli.nodes != 0) {
        anyhow::bail!(
            "--stacks {stacks} cannot be shared evenly by {} nodes",
            cli.nodes
        );
    }
    let rules = candidates();
    let recorded = match &cli.durations {
        Some(path) => Some(read(path)?),
        None => None,
    };
    let mut cells = Cells::new();
    let mut described = String::new();
    for run in 0..cli.runs {
        let suite = match &recorded {
            Some(suite) => suite.clone(),
            None => Suite::generate(&Model::DJANGO, cli.seed + run),
        };
        if run == 0 {
            described = describe(&suite, &cli);
        }
        let ids: Vec<&str> = suite.ids.iter().map(String::as_str).collect();
        let mut random = Random::new(!(cli.seed + run));
        for (k, knowledge) in Knowledge::ALL.into_iter().enumerate() {
            let case = knowledge.case(&suite.seconds, &mut random);
            let estimates = planner::estimate(&ids, &case.known);
            let units = planner::group(&ids, &estimates.seconds, GroupBy::Test);
            let balancer = Balancer::new(&units);
            for &stacks in &cli.stacks {
                let bound = sim::bound(&case.actual, stacks, cli.startup);
                let shards = balancer.plan(stacks).context("planning shards")?;
                let queues = rules
                    .iter()
                    .map(|rule| {
                        // As shard-plan decides: no test's duration known.
                        let blind = estimates.estimated == ids.len();
                        balancer.batches(rule.rule(stacks, blind, balancer.units()))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .context("planning batches")?;
                for (c, &batch) in cli.batch_cost.iter().enumerate() {
                    let costs = Costs {
                        startup: cli.startup,
                        batch,
                    };
                    let cell = cells.entry((c, k, stacks)).or_insert_with(|| Cell {
                        queue_wall: vec![0.0; rules.len()],
                        queue_ratio: vec![0.0; rules.len()],
                        ..Cell::default()
                    });
                    let wall = sim::static_wall(&shards, &case.actual, costs);
                    cell.bound += bound;
                    cell.static_wall += wall;
                    cell.static_ratio += wall / bound;
                    for (r, queue) in queues.iter().enumerate() {
                        let wall = sim::queue_wall_on_nodes(
                            queue,
                            &case.actual,
                            cli.nodes,
                            stacks / cli.nodes,
                            costs,
                        );
                        cell.queue_wall[r] += wall;
                        cell.queue_ratio[r] += wall / bound;
                    }
                }
            }
        }
    }
    let runs = cli.runs as f64;
    for cell in cells.values_mut() {
        cell.bound /= runs;
        cell.static_wall /= runs;
        cell.static_ratio /= runs;
        cell.queue_wall.iter_mut().for_each(|w| *w /= runs);
        cell.queue_ratio.iter_mut().for_each(|r| *r /= runs);
    }
    print!("{described}{}", report(&cli, &rules, &cells));
    Ok(())
}

/// A `.test_durations` file as a suite, sorted by id.
fn read(path: &Path) -> anyhow::Result<Suite> {
    let text = shared::io::read_to_string(path)?;
    let durations: BTreeMap<String, f64> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a .test_durations", path.display()))?;
    let (ids, seconds) = durations.into_iter().unzip();
    Ok(Suite { ids, seconds })
}

fn describe(suite: &Suite, cli: &Cli) -> String {
    let total: f64 = suite.seconds.iter().sum();
    let longest = suite.seconds.iter().copied().fold(0.0, f64::max);
    let source = match &cli.durations {
        Some(path) => format!("{}", path.display()),
        None => format!(
            "generated suites, seeds {}..={}",
            cli.seed,
            cli.seed + cli.runs - 1
        ),
    };
    format!(
        "Suite: {source}; first run {} tests, {total:.0} s in all, longest {longest:.1} s. \
         Averaged over {} runs; stack start-up {} s{}.\n\n",
        suite.ids.len(),
        cli.runs,
        cli.startup,
        match cli.nodes {
            1 => String::new(),
            nodes => format!("; the stacks spread over {nodes} CI nodes"),
        },
    )
}

/// The ranking of every rule, then per batch cost the details by stack count.
fn report(cli: &Cli, rules: &[Candidate], cells: &Cells) -> String {
    let current = Candidate::Auto;
    let scores: Vec<Score> = (0..rules.len())
        .map(|r| Score::of(cells, |cell| cell.queue_ratio[r]))
        .collect();
    let best = (0..rules.len())
        .min_by(|&a, &b| scores[a].order(&scores[b]))
        .expect("at least one rule");
    let default = rules
        .iter()
        .position(|&rule| rule == current)
        .expect("the default is a candidate");
    // Seed to seed, the leading rules trade places by some tenths of a
    // percent: a default changes only for a clear gain.
    let chosen = if scores[default].mean <= scores[best].mean * (1.0 + TOLERANCE) {
        default
    } else {
        best
    };
    let mut text = String::from(
        "## Rules, ranked\n\nWall time over the bound, averaged over every stack count and batch \
         cost; `worst` is the largest single value.\n\n\
         | rule | exact | stale ±30 % | no durations | mean | worst |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let row = |text: &mut String, name: String, score: &Score| {
        let _ = writeln!(
            text,
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            score.by_knowledge[0],
            score.by_knowledge[1],
            score.by_knowledge[2],
            score.mean,
            score.worst
        );
    };
    row(
        &mut text,
        "static shards (reference)".into(),
        &Score::of(cells, |cell| cell.static_ratio),
    );
    let mut ranked: Vec<usize> = (0..rules.len()).collect();
    ranked.sort_by(|&a, &b| scores[a].order(&scores[b]));
    for r in ranked {
        let mut name = rules[r].label();
        if r == default {
            name += " (current default)";
        }
        if r == chosen {
            name = format!("**{name}**");
        }
        row(&mut text, name, &scores[r]);
    }
    let _ = writeln!(
        text,
        "\nLowest mean: {} ({:.3}); the current default, {}, {:.3}: {}.",
        rules[best].label(),
        scores[best].mean,
        rules[default].label(),
        scores[default].mean,
        if chosen == default {
            format!("within {} % of it, so it stays", TOLERANCE * 100.0)
        } else {
            format!(
                "more than {} % behind, so the lowest mean is chosen",
                TOLERANCE * 100.0
            )
        }
    );
    for (c, batch) in cli.batch_cost.iter().enumerate() {
        let _ = write!(
            text,
            "\n## Batch start {batch} s\n\nSeconds, and in brackets over the bound.\n\n\
             | durations | N | bound | static | current default: {} | lowest mean: {} | best rule at this row |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
            rules[default].label(),
            rules[best].label()
        );
        for (k, knowledge) in Knowledge::ALL.into_iter().enumerate() {
            for &stacks in &cli.stacks {
                let cell = &cells[&(c, k, stacks)];
                let here = (0..rules.len())
                    .min_by(|&a, &b| cell.queue_ratio[a].total_cmp(&cell.queue_ratio[b]))
                    .expect("at least one rule");
                let queue =
                    |r: usize| format!("{:.0} ({:.3})", cell.queue_wall[r], cell.queue_ratio[r]);
                let _ = writeln!(
                    text,
                    "| {} | {stacks} | {:.0} | {:.0} ({:.3}) | {} | {} | {}: {:.3} |",
                    knowledge.name(),
                    cell.bound,
                    cell.static_wall,
                    cell.static_ratio,
                    queue(default),
                    queue(best),
                    rules[here].label(),
                    cell.queue_ratio[here],
                );
            }
        }
    }
    text += &compact(cli, cells, chosen);
    text
}

/// Static against the chosen rule, one line per stack count: the README's table.
fn compact(cli: &Cli, cells: &Cells, chosen: usize) -> String {
    let mut text = String::from("\n## Static shards / the chosen rule, over the bound\n\n| N |");
    let mut rule = String::from("| ---: |");
    for batch in &cli.batch_cost {
        for knowledge in Knowledge::ALL {
            let _ = write!(text, " {}, {batch} s |", knowledge.name());
            rule += " :---: |";
        }
    }
    text += &format!("\n{rule}\n");
    for &stacks in &cli.stacks {
        let _ = write!(text, "| {stacks} |");
        for c in 0..cli.batch_cost.len() {
            for k in 0..Knowledge::ALL.len() {
                let cell = &cells[&(c, k, stacks)];
                let _ = write!(
                    text,
                    " {:.2} / {:.2} |",
                    cell.static_ratio, cell.queue_ratio[chosen]
                );
            }
        }
        text += "\n";
    }
    text
}

/// One rule's ratios to the bound, summed up.
struct Score {
    by_knowledge: [f64; 3],
    mean: f64,
    worst: f64,
}

impl Score {
    fn of(cells: &Cells, ratio: impl Fn(&Cell) -> f64) -> Score {
        let mut sums = [0.0; 3];
        let mut counts = [0.0; 3];
        let mut worst: f64 = 0.0;
        for (&(_, k, _), cell) in cells {
            let value = ratio(cell);
            sums[k] += value;
            counts[k] += 1.0;
            worst = worst.max(value);
        }
        let by_knowledge = [0, 1, 2].map(|k| sums[k] / counts[k]);
        Score {
            by_knowledge,
            mean: by_knowledge.iter().sum::<f64>() / 3.0,
            worst,
        }
    }

    /// Lower mean first, then lower worst.
    fn order(&self, other: &Score) -> std::cmp::Ordering {
        self.mean
            .total_cmp(&other.mean)
            .then(self.worst.total_cmp(&other.worst))
    }
}
