//! The whole run: the plan in, the context built, the image built once,
//! shards through a pool of workers, results out, nothing left behind.
//!
//! Dependencies go one way: this module hands each shard to `lifecycle`,
//! which makes its attempts with `attempt`; none of them calls back.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use anyhow::Context as _;
use shared::contract::labels;
use shared::exit::{self, ExitContext, Failure};
use shared::results::{ShardResult, Status};

use crate::attempt::{self, Spec};
use crate::build::build_and_open;
use crate::cli::Cli;
use crate::context::Context;
use crate::lifecycle::{never_started, run_shard};
use crate::proc::Children;
use crate::selection::{self, Plan, read_plan, select};
use crate::signals;
use crate::sweep::{sweep, untag};

/// Run stack-run as the command line says; the exit status.
pub fn main(cli: Cli) -> Result<i32, Failure> {
    let children = Arc::new(Children::default());
    if cli.clean {
        return clean(&children, &cli.prefix);
    }
    let plan = read_plan(&cli.plan).exit_code(exit::USAGE)?;
    let shard_count = plan.keys().max().copied().unwrap_or(0);
    let node = selection::node(cli.node).exit_code(exit::USAGE)?;
    let selected = select(&plan, node, cli.shard).exit_code(exit::USAGE)?;
    if selected.is_empty() {
        eprintln!("stack-run: no shard of the plan's {shard_count} is this node's: nothing to run");
        return Ok(exit::SUCCESS);
    }
    if !cli.command.iter().any(|arg| arg.contains("{tests}")) {
        eprintln!("stack-run: warning: COMMAND has no {{tests}}: every shard runs the same tests");
    }
    let ctx = Context::new(&cli, children, shard_count, &selected)?;
    if cli.dry_run {
        return dry_run(&ctx, &plan, &selected).exit_code(exit::USAGE);
    }
    ctx.layout
        .create(&plan, &selected, cli.force)
        .exit_code(exit::USAGE)?;
    execute(&ctx, &plan, &selected, cli.jobs)
}

/// Print, one line per shard, the command each would run.
fn dry_run(ctx: &Context, plan: &Plan, selected: &[u32]) -> anyhow::Result<i32> {
    let mut out = shared::io::Output::create(None)?;
    let stack = &ctx.stack;
    writeln!(
        out,
        "# compose: {}; service: {}; sidecars: {}; built once: {}",
        stack.compose.name(),
        stack.service,
        list_or_none(stack.sidecars.iter()),
        list_or_none(stack.images.keys())
    )?;
    for &shard in selected {
        let spec = Spec::first(ctx, shard, plan[&shard].len());
        let (_, shown) = attempt::command(ctx, &spec, &ctx.layout.compose_file(shard));
        writeln!(
            out,
            "shard {shard}/{} ({} tests): {shown}",
            ctx.config.shard_count, spec.test_count
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

/// Build once, run every selected shard on `jobs` workers, print results,
/// clean up; the exit status.
fn execute(
    ctx: &Context,
    plan: &Plan,
    selected: &[u32],
    jobs: Option<u32>,
) -> Result<i32, Failure> {
    let started = Instant::now();
    install_signals(ctx)?;
    let jobs = jobs.map_or(selected.len(), |j| j as usize).max(1);
    // Shards start their sidecars while the images build.
    let results = std::thread::scope(|scope| {
        scope.spawn(|| build_and_open(ctx));
        run_all(ctx, plan, selected, jobs)
    });
    clean_up(ctx);
    if let Some(code) = ctx.runtime.stop.exit_code() {
        return Ok(code);
    }
    let summary = Summary::of(&results);
    ctx.runtime.progress.note(&format!(
        "{} shards in {:.1}s: {summary}",
        results.len(),
        started.elapsed().as_secs_f64(),
    ));
    // A failed build is what every shard's error comes from.
    if let Some(Err(failure)) = ctx.runtime.built.outcome() {
        return Ok(failure.code());
    }
    Ok(summary.exit_code())
}

/// Remove what the run created, unless a stack was kept for debugging: then
/// everything stays (its image is safe untagged).
fn clean_up(ctx: &Context) {
    let runtime = &ctx.runtime;
    if !runtime.kept.load(Ordering::SeqCst) {
        if let Err(err) = sweep(&runtime.children, labels::RUN, &ctx.names.run_id, false) {
            runtime.progress.note(&format!("cleanup failed: {err:#}"));
        }
    }
    untag(&runtime.children, &images(ctx));
    runtime.progress.finish();
}

fn images(ctx: &Context) -> Vec<String> {
    ctx.stack.images.values().cloned().collect()
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

fn install_signals(ctx: &Context) -> Result<(), Failure> {
    let progress = Arc::clone(&ctx.runtime.progress);
    let on_first = move |signal: i32| {
        progress.note(&format!(
            "signal {signal}: stopping every shard and tearing down (send it again to force)"
        ));
    };
    let children = Arc::clone(&ctx.runtime.children);
    let progress = Arc::clone(&ctx.runtime.progress);
    let run_id = ctx.names.run_id.clone();
    let images = images(ctx);
    let on_force = move |first: i32| {
        progress.note("second signal: removing everything of this run now");
        children.kill_all();
        let _ = sweep(&children, labels::RUN, &run_id, false);
        untag(&children, &images);
        std::process::exit(128 + first);
    };
    signals::install(Arc::clone(&ctx.runtime.stop), on_first, on_force)
        .context("cannot listen for signals")
        .exit_code(exit::INFRA)
}

/// Run the shards on `jobs` workers and print each result as it comes;
/// shards a stop kept from starting get a result too.
fn run_all(ctx: &Context, plan: &Plan, selected: &[u32], jobs: usize) -> Vec<ShardResult> {
    let queue: Mutex<VecDeque<u32>> = Mutex::new(selected.iter().copied().collect());
    let (sender, receiver) = mpsc::channel();
    let mut printer = Printer { stdout_open: true };
    let mut results = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(selected.len()) {
            let sender = sender.clone();
            let queue = &queue;
            scope.spawn(move || work(ctx, plan, queue, sender));
        }
        drop(sender);
        for result in receiver {
            printer.print(ctx, &result);
            results.push(result);
        }
    });
    let left: Vec<u32> = queue.into_inner().unwrap_or_default().into();
    for shard in left {
        let result = never_started(ctx, shard, &plan[&shard]);
        printer.print(ctx, &result);
        results.push(result);
    }
    results
}

/// A worker: take the next shard until none is left or the run stops.
fn work(
    ctx: &Context,
    plan: &Plan,
    queue: &Mutex<VecDeque<u32>>,
    sender: mpsc::Sender<ShardResult>,
) {
    while !ctx.runtime.stop.requested() {
        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
        let Some(shard) = next else { break };
        if sender.send(run_shard(ctx, shard, &plan[&shard])).is_err() {
            break;
        }
    }
}

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
