//! One shard's life: every attempt at its tests. The first runs its planned
//! tests; with `--rerun-failed`, a failed first attempt is followed by a
//! second at the tests that failed, in a fresh stack. The shard's result
//! holds both.

use shared::results::{Attempt, ShardResult, Status};

use crate::app::context::Context;
use crate::model::layout::attempt_folder;
use crate::model::rerun::failed_tests;
use crate::schedule::attempt::{self, Spec};

/// Run shard `shard` (its folder and id file already made) and say how it went.
pub fn run_shard(ctx: &Context, shard: u32, planned: &[String]) -> ShardResult {
    let started_seconds = ctx.runtime.started.elapsed().as_secs_f64();
    let first = attempt::run(ctx, &Spec::first(ctx, shard, planned.len()));
    let rerun = if first.status == Status::Failed && ctx.config.rerun_failed {
        second_attempt(ctx, shard, planned, shard)
    } else {
        None
    };
    ShardResult {
        shard,
        shards: ctx.config.shard_count,
        first,
        started_seconds: Some(started_seconds),
        rerun,
        stack: None,
    }
}

/// The result of a shard that never started, with `status`, because of `why`
/// (an interruption, or seeding that failed).
pub fn never_started(
    ctx: &Context,
    shard: u32,
    planned: &[String],
    status: Status,
    why: &str,
) -> ShardResult {
    let spec = Spec::first(ctx, shard, planned.len());
    let progress = &ctx.runtime.progress;
    match ctx.config.stacks {
        // Progress lines are the stacks'.
        Some(_) => progress.note(&format!(
            "batch {shard}/{}: {status} (never started)",
            ctx.config.shard_count
        )),
        None => progress.state(shard, status.as_str(), "never started", true),
    }
    ShardResult {
        shard,
        shards: ctx.config.shard_count,
        first: spec.unstarted(status, Some(format!("never started: {why}"))),
        started_seconds: None,
        rerun: None,
        stack: None,
    }
}

/// Run the failed tests of a failed first attempt once more, showing on
/// stack `stack`'s progress line; `None` when there is nothing to rerun or no way to.
pub fn second_attempt(
    ctx: &Context,
    shard: u32,
    planned: &[String],
    stack: u32,
) -> Option<Attempt> {
    if ctx.runtime.stop.requested() {
        return None;
    }
    let progress = &ctx.runtime.progress;
    let failed = match failed_tests(&ctx.layout.shard_folder(shard), planned) {
        Ok(failed) if failed.is_empty() => {
            progress.note(&format!(
                "shard {shard}: no failed test of its plan in its JUnit reports; nothing to rerun"
            ));
            return None;
        }
        Ok(failed) => failed,
        Err(err) => {
            progress.note(&format!("shard {shard}: cannot rerun: {err:#}"));
            return None;
        }
    };
    let spec = Spec::rerun(ctx, shard, failed.len(), stack);
    if let Err(err) = attempt_folder(&spec.folder, &failed) {
        progress.note(&format!("shard {shard}: cannot rerun: {err:#}"));
        return None;
    }
    progress.note(&format!(
        "shard {shard}: rerunning {} failed test(s) in a fresh stack",
        failed.len()
    ));
    Some(attempt::run(ctx, &spec))
}
