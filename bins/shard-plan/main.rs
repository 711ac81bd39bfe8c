//! shard-plan: test ids and recorded durations in, a balanced plan of N shards out.

mod cli;
mod collected;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use clap::Parser;
use cli::{Cli, Shards};
use shared::durations::{Durations, Overlap, Resolved};
use shared::exit::{self, ExitContext};
use shared::planner::{self, Balancer, BatchRule, Plan};
use shared::setup;

fn main() -> std::process::ExitCode {
    shared::cli::run("shard-plan", || run(Cli::parse()).exit_code(exit::USAGE))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    if cli.shards != Some(Shards::Auto) && cli.target_seconds.is_some() {
        bail!("--target-seconds goes with --shards auto");
    }
    let target = match cli.target_seconds {
        Some(t) if !(t.is_finite() && t > 0.0) => bail!("--target-seconds must be above 0"),
        t => t.map(planner::nanos),
    };

    let stdin = std::path::Path::new("-");
    if cli.tests == stdin && cli.durations.iter().any(|d| d == stdin) {
        bail!("stdin cannot hold both the test ids and --durations: give the ids as a file");
    }
    let text = shared::io::read_to_string(&cli.tests)?;
    let name = if cli.tests.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        cli.tests.display().to_string()
    };
    let collected = collected::parse(&name, &text)?;
    if let Some(first) = collected.duplicates.first() {
        eprintln!(
            "shard-plan: {name}: {} repeated test ids planned once (the first: {first})",
            collected.duplicates.len()
        );
    }
    let ids = &collected.ids;

    let mut durations = Durations::new();
    for path in &cli.durations {
        durations.read(path)?;
        if let Some(overlap) = durations.overlap_of_last(ids) {
            warn_when_poor(&overlap, ids);
        }
    }
    // The collected tests first, then the rest of what the durations know:
    // session setup shows in the whole file, and a save keeps it all.
    let others = durations.others(ids);
    let known: Vec<&str> = ids.iter().chain(&others).copied().collect();
    let mut resolved = durations.resolve(known.iter().copied());
    let setups = take_out_setup(&known, ids.len(), &mut resolved, &durations);
    if let Some(layout) = layout(&cli)? {
        let recorded = Recorded {
            seconds: &resolved.seconds[..ids.len()],
            unused: others.len() + resolved.unused,
            setups: &setups,
            durations: &durations,
        };
        plan(&cli, layout, target, ids, &recorded)?;
    }
    if let Some(path) = &cli.save_durations {
        let keep = if cli.prune_durations {
            ids.len()
        } else {
            known.len()
        };
        save_durations(path, &known[..keep], &resolved.seconds, &setups)?;
        let collected = resolved.seconds[..ids.len()].iter().flatten().count();
        report_saved(
            path,
            collected,
            others.len(),
            cli.prune_durations,
            resolved.unused,
        );
    }
    Ok(shared::exit::SUCCESS)
}

/// What the durations say about the collected tests, for the plan.
struct Recorded<'a> {
    /// Each collected test's recorded seconds, session setup taken out.
    seconds: &'a [Option<f64>],
    /// Recorded values for tests not among the collected ones.
    unused: usize,
    /// Each shard's session setup.
    setups: &'a BTreeMap<u32, f64>,
    durations: &'a Durations,
}

/// Take session setup out of the tests' durations (`known`: the collected
/// tests, the first `collected` of them, then the others recorded): the
/// first test of each session in a JUnit report gives its setup back, and
/// someone else's durations lose the once-per-worker outliers (with a
/// warning naming them). Each shard's session setup: this run's reports',
/// else the last saved `.test_durations`'.
fn take_out_setup(
    known: &[&str],
    collected: usize,
    resolved: &mut Resolved,
    durations: &Durations,
) -> BTreeMap<u32, f64> {
    let firsts = std::mem::take(&mut resolved.firsts);
    let split = setup::split_first_tests(known, &mut resolved.seconds, &firsts);
    let opened: std::collections::HashSet<usize> = firsts.iter().map(|f| f.test).collect();
    let setup_known = &resolved.setup_known;
    let capped = setup::cap_setup_outliers(known, &mut resolved.seconds, |test| {
        !setup_known[test] && !opened.contains(&test)
    });
    if !capped.is_empty() {
        let named: Vec<String> = capped
            .iter()
            .map(|c| {
                format!(
                    "{} ({:.2} s -> {:.3} s)",
                    known[c.test], c.recorded, c.capped
                )
            })
            .collect();
        eprintln!(
            "shard-plan: warning: {} tests look like they carry session setup (far above their siblings, about as long as each other, standing apart from every other test, in {} different files: once per worker), capped at their siblings' median ({} of them collected): {}",
            capped.len(),
            capped
                .iter()
                .map(|c| known[c.test].split("::").next().unwrap_or_default())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            capped.iter().filter(|c| c.test < collected).count(),
            named.join(", ")
        );
    }
    if split.is_empty() {
        durations.setups().clone()
    } else {
        let mut setups = BTreeMap::new();
        for (session, seconds) in split {
            // A report holding several sessions of one shard: they add up.
            *setups.entry(session).or_insert(0.0) += seconds;
        }
        setups
    }
}

/// Say what --save-durations wrote: how many collected tests' durations,
/// and how many of the others' were kept or pruned.
fn report_saved(path: &Path, collected: usize, others: usize, pruned: bool, nameless: usize) {
    let others = match (others, pruned) {
        (0, _) => String::new(),
        (n, false) => format!(
            "; kept those of {} not among the collected ones (--prune-durations drops them)",
            count(n, "test")
        ),
        (n, true) => format!(
            "; pruned those of {} not among the collected ones",
            count(n, "test")
        ),
    };
    let nameless = match nameless {
        0 => String::new(),
        n => format!(
            "; {} without a file attribute matched no collected test, with no node id to keep",
            count(n, "JUnit case")
        ),
    };
    eprintln!(
        "shard-plan: {}: saved the durations of {}{others}{nameless}",
        path.display(),
        count(collected, "collected test")
    );
}

/// "1 test", "2 tests".
fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// Warn when a durations file matches almost none of the collected tests:
/// with another rootdir or path prefix every test would be planned blind.
fn warn_when_poor(overlap: &Overlap, ids: &[&str]) {
    if !overlap.is_poor(ids.len()) {
        return;
    }
    eprintln!(
        "shard-plan: warning: {} matches almost none of the collected tests: it has durations for {} of the {} collected tests ({:.1}%) among its {} values; its first test is `{}`, the first collected is `{}`: does a path prefix or the rootdir differ?",
        overlap.name,
        overlap.matched,
        ids.len(),
        100.0 * overlap.matched as f64 / ids.len() as f64,
        overlap.values,
        overlap.example.unwrap_or_default(),
        ids[0],
    );
}

/// What the plan cuts the suite into.
enum Layout {
    Shards(Shards),
    Batches(BatchRule),
    /// `--batches auto`: the rule depends on whether any duration is known.
    AutoBatches {
        stacks: u32,
        floor: u64,
    },
}

fn layout(cli: &Cli) -> anyhow::Result<Option<Layout>> {
    if !(cli.min_batch.is_finite() && cli.min_batch >= 0.0) {
        bail!("--min-batch must be 0 or more seconds");
    }
    Ok(match (cli.shards, cli.batches) {
        (Some(shards), _) => Some(Layout::Shards(shards)),
        (None, Some(Shards::Count(count))) => Some(Layout::Batches(BatchRule::Count(count))),
        (None, Some(Shards::Auto)) => {
            let Some(stacks) = cli.stacks else {
                bail!("--batches auto needs --stacks: how many stacks take batches at once");
            };
            Some(Layout::AutoBatches {
                stacks,
                floor: planner::nanos(cli.min_batch),
            })
        }
        (None, None) => None,
    })
}

/// Plan the shards or batches and write the plan (and its summary).
fn plan(
    cli: &Cli,
    layout: Layout,
    target: Option<u64>,
    ids: &[&str],
    recorded: &Recorded,
) -> anyhow::Result<()> {
    let estimates = planner::estimate(ids, recorded.seconds);
    if let Err(too_long) = planner::check_total(&estimates.seconds) {
        bail!("{too_long}{}", blame(ids, recorded, &estimates));
    }
    let units = planner::group(ids, &estimates.seconds, cli.group_by);
    let balancer = Balancer::new(&units);

    let unit_name = format!("{:?}", cli.group_by).to_lowercase();
    let plan = match (layout, target) {
        (Layout::Batches(rule), _) => balancer.batches(rule),
        (Layout::AutoBatches { stacks, floor }, _) => {
            let blind = estimates.estimated == ids.len();
            balancer.batches(BatchRule::auto(stacks, floor, blind, balancer.units()))
        }
        (Layout::Shards(Shards::Count(n)), _) => balancer.plan(n),
        (Layout::Shards(Shards::Auto), Some(target)) => {
            balancer.auto(target, cli.max_shards.unwrap_or(u32::MAX))
        }
        (Layout::Shards(Shards::Auto), None) => bail!("--shards auto needs --target-seconds"),
    }
    .with_context(|| format!("--group-by {unit_name}"))?;
    if let Some(target) = target.filter(|&t| plan.longest() > t) {
        eprintln!(
            "shard-plan: no plan meets --target-seconds {}: the longest of {} shards is predicted at {:.1} s",
            planner::seconds(target),
            plan.shards.len(),
            planner::seconds(plan.longest())
        );
    }
    let shards = plan.shards.len() as u32;
    if let Some(k) = cli.shard.filter(|&k| k == 0 || k > shards) {
        bail!("--shard {k} is not one of the {shards} shards");
    }

    let mut out = shared::io::Output::create(cli.output.as_deref())?;
    write_plan(&mut out, ids, &plan, cli.shard)?;
    out.commit()?;

    if cli.summary {
        let text = match cli.batches {
            Some(_) => batch_summary(&plan, cli.stacks.unwrap_or(1)),
            None => summary(&plan, &balancer, recorded.setups),
        };
        eprint!("{text}{}", durations_summary(&estimates, recorded.unused));
    }
    Ok(())
}

/// Where a total past what shard-plan plans came from. The values read add
/// up to no more than that (each file is checked as read), so it is the
/// estimates: each unknown test gets a recorded neighbour's duration.
fn blame(ids: &[&str], recorded: &Recorded, estimates: &planner::Estimates) -> String {
    let largest = (0..ids.len())
        .filter_map(|test| Some((test, recorded.seconds[test]?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let Some((test, seconds)) = largest else {
        return String::new();
    };
    let estimated: f64 = (0..ids.len())
        .filter(|&test| recorded.seconds[test].is_none())
        .map(|test| estimates.seconds[test])
        .sum();
    format!(
        ": {estimated:e} s of it estimated for the {} tests never recorded, from their neighbours; the largest value read: {seconds:e} s for {} in {}",
        estimates.estimated,
        ids[test],
        recorded
            .durations
            .file_of(ids[test])
            .unwrap_or("the durations"),
    )
}

/// Write the recorded durations of `ids` as pytest-split's
/// `.test_durations`, with each shard's session setup under its own key,
/// replacing `path` only once complete.
fn save_durations(
    path: &Path,
    ids: &[&str],
    seconds: &[Option<f64>],
    setups: &BTreeMap<u32, f64>,
) -> anyhow::Result<()> {
    let setup_keys: Vec<(String, f64)> = setups
        .iter()
        .map(|(&shard, &seconds)| (setup::key(shard), seconds))
        .collect();
    let recorded: BTreeMap<&str, f64> = ids
        .iter()
        .zip(seconds)
        .filter_map(|(&id, &seconds)| Some((id, seconds?)))
        .chain(
            setup_keys
                .iter()
                .map(|(key, seconds)| (key.as_str(), *seconds)),
        )
        .collect();
    let mut out = shared::io::Output::create(Some(path))?;
    shared::durations::write_json(&mut out, &recorded)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out.commit()
}

/// The plan lines, grouped by shard, collection order inside a shard; only
/// shard `only`'s bare ids when given.
fn write_plan(
    out: &mut impl Write,
    ids: &[&str],
    plan: &Plan,
    only: Option<u32>,
) -> std::io::Result<()> {
    // Counting sort by shard keeps collection order within each shard.
    let mut start = vec![0usize; plan.shards.len() + 1];
    for &shard in &plan.shard_of {
        start[shard as usize] += 1;
    }
    for shard in 1..start.len() {
        start[shard] += start[shard - 1];
    }
    let mut order = vec![0u32; ids.len()];
    for (test, &shard) in plan.shard_of.iter().enumerate() {
        let slot = &mut start[shard as usize - 1];
        order[*slot] = test as u32;
        *slot += 1;
    }
    for test in order {
        let (shard, id) = (plan.shard_of[test as usize], ids[test as usize]);
        match only {
            None => shared::plan::write_line(out, shard, id)?,
            Some(k) if k == shard => writeln!(out, "{id}")?,
            Some(_) => {}
        }
    }
    Ok(())
}

/// What `--summary` prints for shards: per shard, then the balance. With
/// recorded session setup, a column says what each shard paid for it last
/// time: not part of its tests' seconds, nor of the balance.
fn summary(plan: &Plan, balancer: &Balancer, setups: &BTreeMap<u32, f64>) -> String {
    let mut text = String::from("shard    seconds   tests   units");
    text += if setups.is_empty() {
        "\n"
    } else {
        "   session setup\n"
    };
    for (number, load) in plan.shards.iter().enumerate() {
        text += &load_row(number, load);
        text += &match setups.get(&(number as u32 + 1)) {
            _ if setups.is_empty() => "\n".to_string(),
            Some(seconds) => format!(" {seconds:>15.3}\n"),
            None => format!(" {:>15}\n", "-"),
        };
    }
    let shards = plan.shards.len() as u32;
    let total = planner::seconds(balancer.total());
    let mean = total / f64::from(shards);
    let longest = planner::seconds(plan.longest());
    text += &format!(
        "longest {longest:.3} s, mean {mean:.3} s, max/mean {:.3}; lower bound {:.3} s = max(longest unit {:.3} s, total {total:.3} s / {shards})\n",
        longest / mean,
        planner::seconds(balancer.lower_bound(shards)),
        planner::seconds(balancer.longest_unit()),
    );
    text
}

/// A shard's or batch's row of `--summary`: number, seconds, tests, units.
fn load_row(index: usize, load: &planner::Load) -> String {
    format!(
        "{:>5} {:>9.3} {:>7} {:>7}",
        index + 1,
        planner::seconds(load.nanos),
        load.tests,
        load.units
    )
}

/// What `--summary` prints for batches: per batch, then when `stacks` stacks
/// taking them in order, each as it comes free, are predicted to finish.
fn batch_summary(plan: &Plan, stacks: u32) -> String {
    let mut text = String::from("batch    seconds   tests   units\n");
    let mut free_at = vec![0u64; stacks as usize];
    for (number, load) in plan.shards.iter().enumerate() {
        text += &load_row(number, load);
        text.push('\n');
        let first_free = (0..free_at.len())
            .min_by_key(|&stack| free_at[stack])
            .expect("at least one stack");
        free_at[first_free] += load.nanos;
    }
    let (first, last) = (
        free_at.iter().min().copied().unwrap_or(0),
        free_at.iter().max().copied().unwrap_or(0),
    );
    text += &format!(
        "{} batches on {stacks} stacks: the first free at {:.3} s, the last at {:.3} s (before start-up costs)\n",
        plan.shards.len(),
        planner::seconds(first),
        planner::seconds(last),
    );
    text
}

/// The summary's last line: how many durations were recorded or estimated.
fn durations_summary(estimates: &planner::Estimates, unused: usize) -> String {
    let tests = estimates.seconds.len();
    format!(
        "durations: {} of {tests} tests recorded, {} estimated; {unused} recorded durations unused (not among the collected tests)\n",
        tests - estimates.estimated,
        estimates.estimated,
    )
}
