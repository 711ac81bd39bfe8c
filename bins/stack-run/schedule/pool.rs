//! `--stacks N`: the plan's shards are batches of a queue, run on N stacks
//! that stay up from one batch to the next.
//!
//! Each worker owns one stack: it brings it up when it first needs it, runs
//! the next batch of the queue in it whenever it is free (in the stack's
//! resident container, see `resident`), and tears it down
//! when the queue is empty. A batch that ended in an error or a timeout may
//! have left its stack in any state, and a stack whose sidecars died (looked
//! at after every batch) would fail every later batch: such a stack is torn
//! down (or kept, with `--keep-on-failure`) and the next batch gets a fresh one. Every batch
//! gets its result line as a shard does; the last batch a stack ran carries
//! the stack's teardown, so a failed teardown is reported like a shard's.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use shared::contract::LOG_FILE;
use shared::results::{Attempt, ShardResult, Status};

use crate::app::context::Context;
use crate::engine::proc::Log;
use crate::model::selection::Plan;
use crate::model::verdict::{self, Happened};
use crate::schedule::attempt::{self, Limits, Spec};
use crate::schedule::lifecycle::second_attempt;
use crate::stack::ready;
use crate::stack::resident::{Mount, Resident};

/// The next batch of the queue, if the run goes on.
pub type Next<'a> = &'a (dyn Fn() -> Option<u32> + Sync);

/// A stack that is up: the project batches run in, and how to reach it.
struct Live {
    project: String,
    file: PathBuf,
    log: Log,
    /// Where batches run: `None` when each gets a `compose run`.
    resident: Option<Resident>,
}

/// Worker `stack`: run batches from `next` until none is left, sending each
/// result as soon as it is final.
pub fn work(ctx: &Context, plan: &Plan, next: Next, stack: u32, results: &Sender<ShardResult>) {
    let mut live: Option<Live> = None;
    let mut generation = 0;
    // The last batch's result waits until it is known whether the stack goes
    // down after it: if so, the teardown is part of it.
    let mut held: Option<ShardResult> = None;
    while let Some(batch) = next() {
        if let Some(result) = held.take() {
            let _ = results.send(result);
        }
        let started_seconds = ctx.runtime.started.elapsed().as_secs_f64();
        let spec_of = |project: &str| Spec::batch(ctx, batch, plan[&batch].len(), stack, project);
        let mut up_seconds = 0.0;
        if live.is_none() {
            generation += 1;
            let project = ctx.names.stack_project(stack, generation);
            let start = Instant::now();
            match start_stack(ctx, stack, generation, &project) {
                Ok(started) => live = Some(started),
                Err(happened) => {
                    let mut first = spec_of(&project).unstarted(Status::Error, None);
                    first.up_seconds = start.elapsed().as_secs_f64();
                    let verdict = verdict::decide(&happened);
                    finish_line(ctx, stack, batch, &verdict);
                    attempt::settle(&mut first, verdict);
                    let _ = results.send(result(ctx, batch, stack, first, started_seconds));
                    continue;
                }
            }
            up_seconds = start.elapsed().as_secs_f64();
        }
        let stack_up = live.as_ref().expect("a stack is up");
        let spec = spec_of(&stack_up.project);
        let (mut first, replace) = run_batch(ctx, &spec, stack_up);
        first.up_seconds = up_seconds;
        if replace {
            let retired = live.take().expect("a stack is up");
            retire(ctx, &spec, retired, &mut first);
        }
        let mut done = result(ctx, batch, stack, first, started_seconds);
        if done.first.status == Status::Failed && ctx.config.rerun_failed {
            done.rerun = second_attempt(ctx, batch, &plan[&batch], stack);
        }
        match live {
            Some(_) => held = Some(done),
            None => {
                let _ = results.send(done);
            }
        }
    }
    if let Some(stack_up) = live.take() {
        match held.as_mut() {
            Some(last) => tear_down_into(ctx, &stack_up, &mut last.first),
            None => _ = attempt::tear_down(ctx, &stack_up.project),
        }
    }
    if let Some(result) = held {
        let _ = results.send(result);
    }
    ctx.runtime.progress.state(stack, "done", "", true);
}

/// Bring stack `stack` up as `project`: its derived file, the sidecars up
/// and ready, the image built. What did not start is removed.
fn start_stack(
    ctx: &Context,
    stack: u32,
    generation: u32,
    project: &str,
) -> Result<Live, Happened> {
    let suffix = match generation {
        1 => stack.to_string(),
        _ => format!("{stack}-{generation}"),
    };
    let (file, log_path) = ctx.layout.stack_files(&suffix);
    let log = Log::create(&log_path).map_err(|err| Happened::NotPrepared(format!("{err:#}")))?;
    crate::app::seed_report::note_seed_sources(ctx, &log);
    let labels = ctx.names.stack_labels(stack);
    if let Err(message) = log.timed("networks created", || {
        attempt::derive_file(ctx, project, &labels, None, &file)
    }) {
        let _ = attempt::tear_down(ctx, project);
        return Err(Happened::NotPrepared(message));
    }
    ctx.runtime
        .progress
        .state(stack, "starting", &ctx.stack.sidecars.join(", "), false);
    let limits = Limits::from_now(ctx);
    let mount = Mount::Folder(ctx.layout.absolute_root());
    let resident = match attempt::bring_up(ctx, project, &file, &log, &limits, Some(mount)) {
        Ok(resident) => resident,
        Err(message) => {
            let stop = limits.reached().then(|| limits.cause());
            let (_, _) = attempt::tear_down(ctx, project);
            return Err(Happened::StartFailed { message, stop });
        }
    };
    Ok(Live {
        project: project.to_string(),
        file,
        log,
        resident,
    })
}

/// Run one batch in the stack that is up; its attempt, and whether the
/// stack must be replaced before the next.
fn run_batch(ctx: &Context, spec: &Spec, live: &Live) -> (Attempt, bool) {
    let mut attempt = spec.unstarted(Status::Error, None);
    let log = match Log::create(&spec.folder.join(LOG_FILE)) {
        Ok(log) => log,
        Err(err) => {
            let verdict = verdict::decide(&Happened::NotPrepared(format!("{err:#}")));
            attempt::settle(&mut attempt, verdict);
            return (attempt, false);
        }
    };
    let progress = &ctx.runtime.progress;
    let batch = format!("batch {}/{}", spec.shard, ctx.config.shard_count);
    progress.state(spec.stack, "running", &batch, false);
    log.line(&format!(
        "stack-run: batch {} in {}",
        spec.shard, live.project
    ));
    crate::app::seed_report::note_seed_sources(ctx, &log);
    let limits = Limits::from_now(ctx);
    let happened = attempt::run_in_stack(
        ctx,
        spec,
        live.resident.as_ref(),
        &live.file,
        &log,
        &limits,
        &mut attempt,
    );
    let verdict = verdict::decide(&happened);
    log.line(&format!(
        "stack-run: batch {} {}",
        spec.shard, verdict.status
    ));
    let replace = match verdict.status {
        Status::Interrupted => false,
        // Stopped half-way or crashed: the stack may hold anything now.
        Status::Error | Status::Timeout => true,
        // Kept as it is for debugging: later batches need another.
        Status::Failed if ctx.config.keep_on_failure => true,
        // A sidecar or resident container that died would fail every later
        // batch: look before the next.
        Status::Passed | Status::Failed => !healthy(ctx, live),
    };
    if (replace || verdict.is_trouble()) && !ctx.stack.sidecars.is_empty() {
        attempt::save_service_logs(ctx, &live.project, &live.file, &spec.folder);
    }
    finish_line(ctx, spec.stack, spec.shard, &verdict);
    attempt::settle(&mut attempt, verdict);
    (attempt, replace)
}

/// Whether a stack's resident container still runs and its sidecars are
/// all still up and ready (readiness looks at sidecars only).
fn healthy(ctx: &Context, live: &Live) -> bool {
    let by = Instant::now() + HEALTH_CHECK;
    let resident_runs = live
        .resident
        .as_ref()
        .is_none_or(|resident| resident.stopped(ctx).is_none());
    resident_runs && ready::wait(ctx, &live.project, by, || ctx.runtime.stop.requested()).is_ok()
}

/// How long a stack has to show it is still ready after a batch.
const HEALTH_CHECK: Duration = Duration::from_secs(5);

/// Take a stack out of service after `spec`'s batch: keep it for debugging
/// with `--keep-on-failure`, else tear it down as part of the batch.
fn retire(ctx: &Context, spec: &Spec, live: Live, attempt: &mut Attempt) {
    if ctx.config.keep_on_failure {
        attempt::keep(ctx, spec, &live.file);
        return;
    }
    ctx.runtime
        .progress
        .state(spec.stack, "replacing", &live.project, false);
    tear_down_into(ctx, &live, attempt);
}

/// Tear a stack down as part of a batch's attempt: its seconds, and a
/// failure, which makes the attempt an error.
fn tear_down_into(ctx: &Context, live: &Live, attempt: &mut Attempt) {
    let (torn_down, seconds) = attempt::tear_down(ctx, &live.project);
    attempt.down_seconds = seconds;
    match torn_down {
        Ok(()) => live.log.took("torn down", seconds),
        Err(err) => {
            live.log.line(&format!("stack-run: teardown failed: {err}"));
            attempt.status = Status::Error;
            attempt.message = Some(format!("teardown failed: {err}"));
        }
    }
}

/// Say on the stack's line how a batch ended.
fn finish_line(ctx: &Context, stack: u32, batch: u32, verdict: &verdict::Verdict) {
    let detail = format!("batch {batch}: {}", verdict.detail());
    ctx.runtime
        .progress
        .state(stack, verdict.status.as_str(), &detail, false);
}

fn result(
    ctx: &Context,
    batch: u32,
    stack: u32,
    first: Attempt,
    started_seconds: f64,
) -> ShardResult {
    ShardResult {
        shard: batch,
        shards: ctx.config.shard_count,
        first,
        started_seconds: Some(started_seconds),
        rerun: None,
        stack: Some(stack),
    }
}
