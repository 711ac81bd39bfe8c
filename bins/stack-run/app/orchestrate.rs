//! The whole run: the plan in, the context built, the image built once,
//! the seed made, every unit through the scheduler, results out, nothing
//! left behind.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use shared::contract::labels;
use shared::exit::{self, ExitContext, Failure};
use shared::results::{ShardResult, Status};

use crate::app::capacity;
use crate::app::cli::{Cli, Count, NodeArg};
use crate::app::context::{Context, Runtime};
use crate::engine::docker::{sweep, sweep_settled, untag};
use crate::engine::proc::Children;
use crate::engine::signals;
use crate::model::selection::{Plan, read_plan, select};
use crate::model::session::PLUGIN_SOURCE;
use crate::schedule::session::Session;
use crate::schedule::unit::Unit;
use crate::schedule::{Outcome, Scheduler};
use crate::stack::Stacks;
use crate::stack::build::build_and_open;
use shared::ci::Node;

/// Run stack-run as the command line says; the exit status.
pub fn main(cli: Cli) -> Result<i32, Failure> {
    if cli.clean {
        return clean(&Children::default(), &cli.prefix);
    }
    if cli.collect {
        return crate::app::collect::main(&cli);
    }
    if cli.print_seed_key {
        return print_seed_key(&cli);
    }
    let (plan, plan_lines) = read_plan(&cli.plan).exit_code(exit::USAGE)?;
    let shard_count = plan.keys().max().copied().unwrap_or(0);
    let node = node(cli.node).exit_code(exit::USAGE)?;
    let selected = select(&plan, node, cli.shard).exit_code(exit::USAGE)?;
    if selected.is_empty() {
        eprintln!("stack-run: no shard of the plan's {shard_count} is this node's: nothing to run");
        return Ok(exit::SUCCESS);
    }
    let session = command(&cli, &plan, &selected, node).exit_code(exit::USAGE)?;
    // With --stacks, never more stacks than batches.
    let stacks = cli
        .stacks
        .map(|count| resolve(count, "--stacks").min(selected.len() as u32));
    let jobs = cli.jobs.map(|count| resolve(count, "--jobs"));
    let runtime = Runtime::new(shard_count, &selected, stacks, !cli.dry_run);
    if !cli.dry_run {
        listen_for_signals(&runtime)?;
    }
    let ctx = match Context::new(&cli, &runtime, shard_count, stacks, session) {
        Ok(ctx) => ctx,
        // Stopped while compose read the model: nothing ran, nothing was made.
        Err(failure) => {
            return match runtime.stop.exit_code() {
                Some(code) => {
                    runtime.progress.note(&format!("{:#}", failure.error()));
                    Ok(code)
                }
                None => Err(failure),
            };
        }
    };
    // Before anything is made: an id pytest cannot take back fails its shard.
    crate::app::ids::check(&ctx, &plan, &plan_lines, &selected).exit_code(exit::USAGE)?;
    crate::app::xdist::warn(&ctx);
    if cli.dry_run {
        return dry_run(&ctx, &plan, &selected).exit_code(exit::USAGE);
    }
    ctx.stacks
        .layout
        .create(&plan, &selected, cli.force)
        .exit_code(exit::USAGE)?;
    if let (true, Some(stacks)) = (cli.session, stacks) {
        create_sessions(&ctx, &plan, &selected, stacks, cli.force).exit_code(exit::USAGE)?;
    }
    ctx.runtime.stop.on_force(force_stop(&ctx));
    // From here every path, a stop included, ends in `execute`'s result lines.
    execute(&ctx, &plan, &selected, jobs)
}

/// Check the command before anything starts: `--session`'s as a session runs it.
fn command(
    cli: &Cli,
    plan: &Plan,
    selected: &[u32],
    node: Option<Node>,
) -> anyhow::Result<Option<Session>> {
    if !cli.command.iter().any(|arg| arg.contains("{tests}")) {
        eprintln!("stack-run: warning: COMMAND has no {{tests}}: every shard runs the same tests");
    }
    crate::app::context::session(cli, plan, selected, node.map(|node| node.index))
}

/// `--session`'s files: the plugin, the ids to collect, a folder a stack.
fn create_sessions(
    ctx: &Context,
    plan: &Plan,
    selected: &[u32],
    stacks: u32,
    force: bool,
) -> anyhow::Result<()> {
    let ids: Vec<&String> = selected.iter().flat_map(|s| &plan[s]).collect();
    let node = ctx.config.session.as_ref().and_then(|session| session.node);
    let layout = &ctx.stacks.layout;
    layout.create_sessions(PLUGIN_SOURCE, &ids, (node, stacks), force)
}

/// `--print-seed-key`: the key, from the compose model and the key's files.
fn print_seed_key(cli: &Cli) -> Result<i32, Failure> {
    let runtime = Runtime::new(0, &[], None, false);
    let ctx = Context::new(cli, &runtime, 0, None, None)?;
    let seed = ctx.seed.as_ref().expect("clap requires --seed");
    let key = crate::schedule::seed::key(&ctx.seeding(), seed).exit_code(exit::USAGE)?;
    let mut out = shared::io::Output::create(None).exit_code(exit::INFRA)?;
    writeln!(out, "{key}")
        .map_err(anyhow::Error::from)
        .and_then(|()| out.commit())
        .exit_code(exit::INFRA)?;
    Ok(exit::SUCCESS)
}

/// `--node` as a node: given, or for `auto` as the CI's variables say (which,
/// on stderr).
pub fn node(arg: Option<NodeArg>) -> anyhow::Result<Option<Node>> {
    match arg {
        None => Ok(None),
        Some(NodeArg::Fixed(node)) => Ok(Some(node)),
        Some(NodeArg::Auto) => {
            let detected = shared::ci::detect(|name| std::env::var(name).ok())
                .map_err(|err| anyhow::anyhow!("--node auto: {err}"))?;
            eprintln!("stack-run: --node auto: {detected}");
            Ok(Some(detected.node))
        }
    }
}

/// A `--jobs` or `--stacks` count; `auto` is what this host holds (said on stderr).
fn resolve(count: Count, flag: &str) -> u32 {
    match count {
        Count::Fixed(n) => n,
        Count::Auto => {
            let (stacks, why) = capacity::this_host();
            eprintln!("stack-run: {flag} auto: {why}");
            stacks
        }
    }
}

/// Print, one line per shard, the command each would run.
fn dry_run(ctx: &Context, plan: &Plan, selected: &[u32]) -> anyhow::Result<i32> {
    let mut out = shared::io::Output::create(None)?;
    let stack = &ctx.stacks.blueprint;
    writeln!(
        out,
        "# compose: {}; service: {}; sidecars: {}; built once: {}",
        stack.compose.name(),
        stack.service,
        list_or_none(stack.sidecars.iter()),
        list_or_none(stack.images.keys())
    )?;
    if let Some(seed) = &ctx.seed {
        let kept = match &seed.key_files {
            Some(files) => format!("kept under the key of {} path(s)", files.len()),
            None => "this run's own".into(),
        };
        writeln!(out, "# seed ({kept}): {}", seed.command.join(" "))?;
    }
    let runs_in = match ctx.config.stacks {
        Some(stacks) => format!(
            "batches on {stacks} stacks: each runs by `docker exec` in the resident \
             container of the stack free first"
        ),
        None => "shards: each runs by `docker exec` in its stack's resident container".into(),
    };
    writeln!(
        out,
        "# {runs_in}; below, each as the `compose run` it is without one, with its paths"
    )?;
    let (layout, names) = (&ctx.stacks.layout, &ctx.stacks.names);
    for &shard in selected {
        let tests = plan[&shard].len();
        let unit = match ctx.config.stacks {
            // The stack is known only once the batch is handed out.
            Some(_) => Unit::batch(layout, shard, tests, shard),
            None => Unit::first(layout, shard, tests),
        };
        let job = unit.job(&ctx.config.task);
        let file = layout.compose_file(shard);
        let (_, shown) = stack.compose_run(&names.project(shard), &file, &job);
        writeln!(
            out,
            "shard {shard}/{} ({} tests): {shown}",
            ctx.config.task.shard_count, unit.test_count
        )?;
    }
    out.commit()?;
    Ok(exit::SUCCESS)
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Build once, seed, run every selected unit on its workers (`--jobs`, or
/// one a stack with `--stacks`), print results, clean up; the exit status.
fn execute(
    ctx: &Context,
    plan: &Plan,
    selected: &[u32],
    jobs: Option<u32>,
) -> Result<i32, Failure> {
    let started = Instant::now();
    let workers = ctx
        .config
        .stacks
        .or(jobs)
        .map_or(selected.len(), |n| n as usize)
        .max(1);
    let scheduler = ctx.scheduler();
    let mut printer = Printer { stdout_open: true };
    let mut print = |result: &ShardResult| printer.print(ctx, result);
    // Units start their sidecars while the images build, once seeded.
    let (outcome, seeding) = std::thread::scope(|scope| {
        scope.spawn(|| build_and_open(&ctx.stacks));
        let seeded = seed_sidecars(ctx);
        ctx.runtime.seeding_done.open(());
        match seeded {
            Ok(()) => (scheduler.run(plan, selected, workers, &mut print), Ok(())),
            Err(failure) => {
                let results = not_run(ctx, &scheduler, plan, selected, &failure, &mut print);
                (results, Err(failure))
            }
        }
    });
    clean_up(ctx, outcome.kept);
    if let Some(code) = ctx.runtime.stop.exit_code() {
        return Ok(code);
    }
    let summary = Summary::of(&outcome.results);
    let what = match ctx.config.stacks {
        Some(stacks) => format!("{} batches on {stacks} stacks", outcome.results.len()),
        None => format!("{} shards", outcome.results.len()),
    };
    ctx.runtime.progress.note(&format!(
        "{what} in {:.1}s: {summary}",
        started.elapsed().as_secs_f64(),
    ));
    // A failed build or seed is what every shard's error comes from.
    if let Some(Err(failure)) = ctx.stacks.built.outcome() {
        return Ok(failure.code());
    }
    if let Err(failure) = seeding {
        return Ok(failure.code());
    }
    Ok(summary.exit_code())
}

/// With --seed, make (or find) the sidecars' seed images before any shard starts.
fn seed_sidecars(ctx: &Context) -> Result<(), Failure> {
    let Some(seed) = &ctx.seed else {
        return Ok(());
    };
    crate::app::seed_report::seed_and_report(ctx, seed)
}

/// Every selected unit's result when seeding failed: none started.
fn not_run(
    ctx: &Context,
    scheduler: &Scheduler<Stacks>,
    plan: &Plan,
    selected: &[u32],
    failure: &Failure,
    print: &mut impl FnMut(&ShardResult),
) -> Outcome {
    let (status, why) = match ctx.runtime.stop.requested() {
        true => (Status::Interrupted, "the run was interrupted".to_string()),
        false => (Status::Error, format!("{:#}", failure.error())),
    };
    if status == Status::Error {
        ctx.runtime.progress.note(&why);
    }
    let mut results = Vec::new();
    for &shard in selected {
        let result = scheduler.never_started(shard, &plan[&shard], status, &why);
        print(&result);
        results.push(result);
    }
    Outcome {
        results,
        kept: false,
    }
}

/// Remove what the run created, unless a stack was `kept` for debugging:
/// then everything stays (its image is safe untagged).
fn clean_up(ctx: &Context, kept: bool) {
    let runtime = &ctx.runtime;
    if !kept {
        let (children, run_id) = (&runtime.children, &ctx.stacks.names.run_id);
        // After a stop, killed compose clients may have left requests in flight.
        let swept = if runtime.stop.requested() {
            sweep_settled(children, labels::RUN, run_id)
        } else {
            sweep(children, labels::RUN, run_id, false)
        };
        if let Err(err) = swept {
            runtime.progress.note(&format!("cleanup failed: {err:#}"));
        }
    }
    untag(&runtime.children, &images(ctx));
    runtime.progress.finish();
}

/// The run's own image tags: its builds', and its seeds' unless kept under a key.
fn images(ctx: &Context) -> Vec<String> {
    let stacks = &ctx.stacks;
    let mut images: Vec<String> = stacks.blueprint.images.values().cloned().collect();
    if let Some(seed) = &ctx.seed {
        if seed.key_files.is_none() {
            let sidecars = stacks.blueprint.sidecars.iter();
            images.extend(sidecars.map(|sidecar| stacks.names.seed_image(sidecar, None)));
        }
    }
    images
}

/// How many shards ended how, counting reruns: a shard whose failed tests
/// all passed in a fresh stack passed.
struct Summary {
    passed: usize,
    failed: usize,
    error: usize,
    timeout: usize,
}

impl Summary {
    fn of(results: &[ShardResult]) -> Summary {
        let count = |status: Status| {
            results
                .iter()
                .filter(|r| r.final_status() == status)
                .count()
        };
        Summary {
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            error: count(Status::Error),
            timeout: count(Status::Timeout),
        }
    }

    fn exit_code(&self) -> i32 {
        if self.error + self.timeout > 0 {
            exit::INFRA
        } else if self.failed > 0 {
            exit::FAILURES
        } else {
            exit::SUCCESS
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Summary {
            passed,
            failed,
            error,
            timeout,
        } = self;
        write!(
            f,
            "{passed} passed, {failed} failed, {error} error, {timeout} timeout"
        )
    }
}

/// Listen for SIGINT and SIGTERM from now on: the first is noted (the
/// workers see it and stop in order), the second runs [`force_stop`].
fn listen_for_signals(runtime: &Runtime) -> Result<(), Failure> {
    let progress = Arc::clone(&runtime.progress);
    let readiness = runtime.readiness.clone();
    let on_first = move |signal: i32| {
        progress.note(&format!(
            "signal {signal}: stopping every shard and tearing down (send it again to force)"
        ));
        // Stacks waiting for an event would hear of the signal only at their next look.
        readiness.wake();
    };
    signals::listen(Arc::clone(&runtime.stop), on_first)
        .context("cannot listen for signals")
        .exit_code(exit::INFRA)
}

/// The second signal's action: kill every child, remove everything of the
/// run by label, and say nothing more. The shards' own teardowns die with
/// their `docker` commands, so whatever they would report is about this kill,
/// not about the run; hence no result lines from here on.
fn force_stop(ctx: &Context) -> impl Fn() + Send + Sync + 'static {
    let runtime = ctx.runtime.clone();
    let built = Arc::clone(&ctx.stacks.built);
    let run_id = ctx.stacks.names.run_id.clone();
    let images = images(ctx);
    let seeding = ctx.seed.is_some();
    move || {
        let progress = &runtime.progress;
        progress.note("second signal: removing everything of this run now");
        progress.finish();
        progress.silence();
        runtime.children.kill_all();
        let _ = sweep_settled(&runtime.children, labels::RUN, &run_id);
        // A build in its last step, or a seed being captured, is left to
        // finish (see `build`, `seed`): wait for it, a little, so that its
        // image goes with the run's tag.
        let deadline = Instant::now() + BUILD_FINISH;
        if !images.is_empty() {
            built.wait(|| Instant::now() >= deadline);
        }
        if seeding {
            runtime.seeding_done.wait(|| Instant::now() >= deadline);
        }
        untag(&runtime.children, &images);
    }
}

/// How long a second signal waits for a build's last step or a seed's capture.
const BUILD_FINISH: std::time::Duration = std::time::Duration::from_secs(15);

/// Result lines to stdout. A closed stdout must not stop the teardown: it
/// stops the printing only.
struct Printer {
    stdout_open: bool,
}

impl Printer {
    fn print(&mut self, ctx: &Context, result: &ShardResult) {
        if self.stdout_open {
            self.stdout_open = ctx.runtime.progress.print(&result.to_line()).is_ok();
        }
    }
}

/// Remove everything runs with this prefix left: containers, networks, volumes, images.
fn clean(children: &Children, prefix: &str) -> Result<i32, Failure> {
    let removed = sweep(children, labels::PREFIX, prefix, true).exit_code(exit::INFRA)?;
    eprintln!(
        "stack-run: removed {removed} containers, networks, volumes and images of prefix {prefix}"
    );
    Ok(exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_timeouts_outweigh_failures() {
        let summary = |passed, failed, error, timeout| Summary {
            passed,
            failed,
            error,
            timeout,
        };
        assert_eq!(summary(3, 0, 0, 0).exit_code(), exit::SUCCESS);
        assert_eq!(summary(2, 1, 0, 0).exit_code(), exit::FAILURES);
        assert_eq!(summary(1, 1, 1, 0).exit_code(), exit::INFRA);
        assert_eq!(summary(1, 1, 0, 1).exit_code(), exit::INFRA);
        assert_eq!(
            summary(1, 2, 3, 4).to_string(),
            "1 passed, 2 failed, 3 error, 4 timeout"
        );
    }
}
