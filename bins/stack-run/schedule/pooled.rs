//! Pooled stacks (`--stacks N`): each worker keeps a stack up from one
//! batch to the next, and takes it out of service when a batch left it in
//! doubt, or before a failed batch's rerun in a fresh stack.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Instant;

use shared::contract::LOG_FILE;
use shared::results::{Attempt, ShardResult, Status};

use crate::engine::proc::Log;
use crate::model::selection::Plan;
use crate::model::verdict::{self, Happened, Verdict};
use crate::schedule::unit::Unit;
use crate::schedule::worker::{Live, Slot};
use crate::schedule::{Host, NextUnit, Scheduler, StackSource, not_prepared, settle};
use crate::stack::Place;
use crate::stack::resident::Mount;

impl<S: StackSource> Scheduler<'_, S> {
    /// Worker `worker` with a stack of its own kept from batch to batch.
    pub(super) fn work_pooled(
        &self,
        plan: &Plan,
        worker: u32,
        next: NextUnit,
        results: &mpsc::Sender<ShardResult>,
    ) {
        let mut slot = Slot::empty();
        while let Some(batch) = next() {
            if let Some(result) = slot.held.take() {
                let _ = results.send(result);
            }
            let result = self.batch(&mut slot, worker, batch, &plan[&batch]);
            match slot.stack {
                Some(_) => slot.held = Some(result),
                None => _ = results.send(result),
            }
        }
        self.end_session(slot.live.take());
        if let Some(stack) = slot.stack.take() {
            match slot.held.as_mut() {
                Some(last) => self.tear_down_into(stack, &mut last.first),
                None => _ = stack.down(),
            }
        }
        if let Some(result) = slot.held {
            let _ = results.send(result);
        }
        self.report.state(worker, "done", "", true);
    }

    /// Batch `batch` on worker `worker`'s stack, brought up first if it has
    /// none; then its failed tests once more in a fresh stack, if they get
    /// a second attempt.
    fn batch<'s>(
        &'s self,
        slot: &mut Slot<S::Stack<'s>>,
        worker: u32,
        batch: u32,
        planned: &[String],
    ) -> ShardResult {
        let started_seconds = self.started.elapsed().as_secs_f64();
        let unit = Unit::batch(self.layout, batch, planned.len(), worker);
        if let Some(refusal) = self.refused.get() {
            let attempt = unit.unstarted("", Status::Error, None);
            let message = format!("not run: no session can serve this run: {refusal}");
            let first = self.batch_ended(&unit, attempt, Happened::NotPrepared(message));
            return self.result(batch, first, started_seconds, None, Some(worker));
        }
        let mut up_seconds = 0.0;
        if slot.stack.is_none() {
            match self.pooled_stack(slot, &unit) {
                Ok((stack, seconds)) => (slot.stack, up_seconds) = (Some(stack), seconds),
                Err(first) => {
                    return self.result(batch, first, started_seconds, None, Some(worker));
                }
            }
        }
        let (mut first, replace) = match self.config.session {
            Some(_) => self.session_batch(slot, &unit, planned),
            None => {
                let stack = slot.stack.as_ref().expect("a stack is up");
                self.run_batch(stack, &unit, stack.project())
            }
        };
        first.up_seconds = up_seconds;
        // A rerun's fresh stack counts as one of the N: this one goes first.
        let rerun_next = self.wants_rerun(&first);
        if let Some(stack) = slot.stack.take_if(|_| replace || rerun_next) {
            self.end_session(slot.live.take());
            self.retire(stack, &unit, &mut first, replace);
        }
        let rerun = self
            .rerun_unit(batch, planned, &first, worker)
            .map(|unit| self.rerun(&unit));
        self.result(batch, first, started_seconds, rerun, Some(worker))
    }

    /// A new stack for worker `worker`'s batches, up, and how long that
    /// took; else the failed attempt of `unit`, the batch it was for.
    pub(super) fn pooled_stack<'s>(
        &'s self,
        slot: &mut Slot<S::Stack<'s>>,
        unit: &Unit,
    ) -> Result<(S::Stack<'s>, f64), Attempt> {
        let start = Instant::now();
        slot.generation += 1;
        let (worker, generation) = (unit.stack, slot.generation);
        let project = self.names.stack_project(worker, generation);
        let mut attempt = unit.unstarted(&project, Status::Error, None);
        let suffix = match generation {
            1 => worker.to_string(),
            _ => format!("{worker}-{generation}"),
        };
        let (file, log_path) = self.layout.stack_files(&suffix);
        let not_prepared = |attempt: &Attempt, message: String| {
            let mut attempt =
                self.batch_ended(unit, attempt.clone(), Happened::NotPrepared(message));
            attempt.up_seconds = start.elapsed().as_secs_f64();
            attempt
        };
        let log =
            Log::create(&log_path).map_err(|err| not_prepared(&attempt, format!("{err:#}")))?;
        self.source.note_seeds(&log);
        let place = self.stack_place(worker, &project, file);
        // With --session, its session starts beside the sidecars.
        let (number, append) = (slot.sessions + 1, slot.coverage);
        let starting = match self.config.session {
            Some(_) => Some(
                self.prepare_session(worker, number, append)
                    .map_err(|message| not_prepared(&attempt, message))?,
            ),
            None => None,
        };
        let (files, beside) = starting.map(|s| (s.files, s.beside)).unzip();
        let mut stack = self
            .source
            .create(place, log)
            .map_err(|message| not_prepared(&attempt, message))?;
        let limits = self.limits();
        match self.bring_up(&mut stack, worker, &limits, &mut attempt, beside) {
            Ok(process) => {
                if let (Some(files), Some(process)) = (files, process) {
                    slot.sessions = number;
                    slot.live = Some(Live::starting(files, process, &stack, worker));
                }
                Ok((stack, start.elapsed().as_secs_f64()))
            }
            Err(happened) => Err(self.failed_to_start(stack, unit, happened, attempt, start)),
        }
    }

    /// Where worker `worker`'s stack `project` is made, from `file`: its
    /// resident container has all of `--out`, and the session plugin.
    fn stack_place(&self, worker: u32, project: &str, file: PathBuf) -> Place {
        let session = self.config.session.as_ref();
        Place {
            project: project.to_string(),
            file,
            labels: self.names.stack_labels(worker),
            out: None,
            resident: Some(Mount::Folder {
                out: self.layout.absolute_root().to_path_buf(),
                plugin: session.map(|_| self.layout.plugin_folder()),
            }),
        }
    }

    /// A worker's new stack that did not come up: its logs kept with the
    /// batch, the stack kept or torn down; the batch's attempt.
    fn failed_to_start<H: Host>(
        &self,
        stack: H,
        unit: &Unit,
        happened: Happened,
        attempt: Attempt,
        start: Instant,
    ) -> Attempt {
        let verdict = verdict::decide(&happened);
        self.finish_line(unit, &verdict);
        if verdict.is_trouble() {
            stack.save_logs(&unit.folder);
        }
        match verdict.is_trouble() && self.config.keep_on_failure {
            true => self.keep(stack, unit.shard),
            false => _ = stack.down(),
        }
        let mut attempt = settle(attempt, verdict);
        attempt.up_seconds = start.elapsed().as_secs_f64();
        attempt
    }

    /// Run one batch in the stack that is up; its attempt, and whether the
    /// stack must be replaced before the next.
    fn run_batch<H: Host>(&self, stack: &H, unit: &Unit, project: &str) -> (Attempt, bool) {
        let mut attempt = unit.unstarted(project, Status::Error, None);
        let log = match Log::create(&unit.folder.join(LOG_FILE)) {
            Ok(log) => log,
            Err(err) => return (not_prepared(attempt, format!("{err:#}")), false),
        };
        let shard_count = self.config.task.shard_count;
        let batch = format!("batch {}/{shard_count}", unit.shard);
        self.report.state(unit.stack, "running", &batch, false);
        log.line(&format!("stack-run: batch {} in {project}", unit.shard));
        self.source.note_seeds(&log);
        let limits = self.limits();
        let happened = self.exec(stack, unit, &log, &limits, &mut attempt);
        let verdict = verdict::decide(&happened);
        log.line(&format!(
            "stack-run: batch {} {}",
            unit.shard, verdict.status
        ));
        let replace = match verdict.status {
            Status::Interrupted => false,
            // Stopped half-way or crashed: the stack may hold anything now.
            Status::Error | Status::Timeout => true,
            // Kept as it is for debugging: later batches need another.
            Status::Failed if self.config.keep_on_failure => true,
            // A sidecar or resident container that died would fail every
            // later batch: look before the next.
            Status::Passed | Status::Failed => !stack.healthy(),
        };
        if replace || verdict.is_trouble() {
            stack.save_logs(&unit.folder);
        }
        self.finish_line(unit, &verdict);
        (settle(attempt, verdict), replace)
    }

    /// Take a worker's stack out of service after `unit`: keep it for
    /// debugging when it is `in_doubt` and `--keep-on-failure` says so,
    /// else tear it down as part of the unit's attempt.
    fn retire<H: Host>(&self, stack: H, unit: &Unit, attempt: &mut Attempt, in_doubt: bool) {
        if in_doubt && self.config.keep_on_failure {
            self.keep(stack, unit.shard);
            return;
        }
        let project = stack.project().to_string();
        self.report.state(unit.stack, "replacing", &project, false);
        self.tear_down_into(stack, attempt);
    }

    /// Tear a stack down as part of an attempt: its seconds, and a failure,
    /// which makes the attempt an error.
    fn tear_down_into<H: Host>(&self, stack: H, attempt: &mut Attempt) {
        let (torn_down, seconds) = stack.down();
        attempt.down_seconds = seconds;
        if let Err(err) = torn_down {
            attempt.status = Status::Error;
            attempt.message = Some(format!("teardown failed: {err}"));
        }
    }

    /// A batch's attempt that ended before it ran, as `happened` says.
    fn batch_ended(&self, unit: &Unit, attempt: Attempt, happened: Happened) -> Attempt {
        let verdict = verdict::decide(&happened);
        self.finish_line(unit, &verdict);
        settle(attempt, verdict)
    }

    /// Say on the stack's line how a batch ended.
    pub(super) fn finish_line(&self, unit: &Unit, verdict: &Verdict) {
        let detail = format!("batch {}: {}", unit.shard, verdict.detail());
        self.report
            .state(unit.stack, verdict.status.as_str(), &detail, false);
    }
}
