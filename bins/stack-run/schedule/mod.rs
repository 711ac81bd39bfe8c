//! What runs when: one loop that owns every attempt at every unit of the
//! plan, on workers that each hold at most one stack at a time.
//!
//! Stacks come from a [`StackSource`], used two ways: fresh (a stack of its
//! own for every shard) or, with `--stacks N`, pooled (each worker keeps
//! its stack up from one batch to the next, and replaces it when a batch
//! left it in doubt). The rules live here, once: when a stack is replaced, kept
//! (`--keep-on-failure`) or torn down; when a failed unit's failed tests
//! get a second attempt (`--rerun-failed`, always in a fresh stack, the
//! worker's pooled stack down first, so never more than N stacks are up);
//! and that every unit gets its result, the ones a stop kept from starting
//! too. What happens is told to a [`Report`]; nothing here prints.

pub mod seed;
mod source;
pub mod unit;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use shared::contract::LOG_FILE;
use shared::results::{Attempt, ShardResult, Status};

use crate::engine::proc::Log;
use crate::engine::signals::Stop;
use crate::model::layout::{Layout, attempt_folder};
use crate::model::names::Names;
use crate::model::report::Report;
use crate::model::rerun::failed_tests;
use crate::model::selection::Plan;
use crate::model::verdict::{self, Happened, Verdict};
use crate::stack::Place;
use crate::stack::blueprint::Job;
use crate::stack::limits::Limits;
use crate::stack::resident::Mount;
use unit::{Task, Unit};

/// Where the scheduler gets its stacks.
pub trait StackSource: Sync {
    type Stack<'s>: Host
    where
        Self: 's;

    /// A stack as `place` says, its life written to `log`; not up yet.
    fn create(&self, place: Place, log: Log) -> Result<Self::Stack<'_>, String>;

    /// Lines every log of a unit or stack begins with.
    fn note_seeds(&self, log: &Log);
}

/// A stack the scheduler holds.
pub trait Host {
    fn project(&self) -> &str;
    fn up(&mut self, limits: &Limits) -> Result<(), String>;
    /// Run `job`; what happened, and how long it ran.
    fn exec(&self, job: &Job, log: &Log, limits: &Limits, on_line: OnLine) -> (Happened, f64);
    fn healthy(&self) -> bool;
    fn save_logs(&self, folder: &Path);
    /// Leave it running; how to reach it.
    fn keep(self) -> String;
    /// Remove it; how it went, and how long it took.
    fn down(self) -> (Result<(), String>, f64);
}

/// Where a command's output lines go as they come.
pub type OnLine = Arc<dyn Fn(&str) + Send + Sync>;

/// How units are run.
pub struct Config {
    pub task: Task,
    pub timeout: Option<Duration>,
    pub keep_on_failure: bool,
    /// Run a failed unit's failed tests once more, in a fresh stack.
    pub rerun_failed: bool,
    /// `--stacks`: the plan's shards are batches, run on this many stacks
    /// kept up from one batch to the next; `None`: a fresh stack per shard.
    pub stacks: Option<u32>,
}

/// What the scheduler needs of the run around it.
pub struct Run<'a> {
    pub names: &'a Names,
    pub layout: &'a Layout,
    pub report: Arc<dyn Report>,
    pub stop: &'a Stop,
    /// When the run began: units' start times count from it.
    pub started: Instant,
    /// What a stack that is starting shows: its sidecars.
    pub starting: String,
}

/// The one scheduler of a run.
pub struct Scheduler<'a, S> {
    source: &'a S,
    config: &'a Config,
    names: &'a Names,
    layout: &'a Layout,
    report: Arc<dyn Report>,
    stop: &'a Stop,
    started: Instant,
    starting: String,
    /// Set when a stack was left running for debugging.
    kept: AtomicBool,
}

/// What a run of the scheduler came to.
pub struct Outcome {
    /// Every selected unit's result, in the order they ended.
    pub results: Vec<ShardResult>,
    /// Whether a stack was left running (`--keep-on-failure`).
    pub kept: bool,
}

/// The next unit of the queue, if the run goes on.
type NextUnit<'q> = &'q (dyn Fn() -> Option<u32> + Sync);

/// A worker's stack, when it keeps one from unit to unit.
struct Slot<H> {
    stack: Option<H>,
    /// How many stacks the worker has brought up: the next one's name.
    generation: u32,
    /// The last unit's result, held while its stack is up: if the stack
    /// goes down after it, the teardown is part of it.
    held: Option<ShardResult>,
}

impl<'a, S: StackSource> Scheduler<'a, S> {
    pub fn new(source: &'a S, config: &'a Config, run: Run<'a>) -> Scheduler<'a, S> {
        Scheduler {
            source,
            config,
            names: run.names,
            layout: run.layout,
            report: run.report,
            stop: run.stop,
            started: run.started,
            starting: run.starting,
            kept: AtomicBool::new(false),
        }
    }

    /// Run the selected units of `plan` on `workers` workers, each result
    /// handed to `on_result` (on this thread) as soon as it is final. Every
    /// unit gets one: those a stop kept from starting too.
    pub fn run(
        &self,
        plan: &Plan,
        selected: &[u32],
        workers: usize,
        mut on_result: impl FnMut(&ShardResult),
    ) -> Outcome {
        let queue: Mutex<VecDeque<u32>> = Mutex::new(selected.iter().copied().collect());
        let next = || match self.stop.requested() {
            true => None,
            false => queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front(),
        };
        let (sender, receiver) = mpsc::channel();
        let mut results = Vec::new();
        std::thread::scope(|scope| {
            for worker in 1..=workers.clamp(1, selected.len().max(1)) as u32 {
                let sender = sender.clone();
                let next = &next;
                scope.spawn(move || self.work(plan, worker, next, &sender));
            }
            drop(sender);
            for result in receiver {
                on_result(&result);
                results.push(result);
            }
        });
        let left: Vec<u32> = queue.into_inner().unwrap_or_default().into();
        for unit in left {
            let why = "the run was interrupted";
            let result = self.never_started(unit, &plan[&unit], Status::Interrupted, why);
            on_result(&result);
            results.push(result);
        }
        Outcome {
            results,
            kept: self.kept.load(Ordering::SeqCst),
        }
    }

    /// Worker `worker`: run units from `next` until none is left, sending
    /// each result as soon as it is final.
    fn work(&self, plan: &Plan, worker: u32, next: NextUnit, results: &mpsc::Sender<ShardResult>) {
        let Some(_) = self.config.stacks else {
            while let Some(shard) = next() {
                let _ = results.send(self.shard(shard, &plan[&shard]));
            }
            return;
        };
        let mut slot = Slot {
            stack: None,
            generation: 0,
            held: None,
        };
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

    /// Shard `shard` in a stack of its own, and its failed tests once more
    /// in another, if they get a second attempt.
    fn shard(&self, shard: u32, planned: &[String]) -> ShardResult {
        let started_seconds = self.started.elapsed().as_secs_f64();
        let unit = Unit::first(self.layout, shard, planned.len());
        let file = self.layout.compose_file(shard);
        let first = self.fresh_attempt(&unit, &self.names.project(shard), file);
        let rerun = self
            .rerun_unit(shard, planned, &first, shard)
            .map(|unit| self.rerun(&unit));
        self.result(shard, first, started_seconds, rerun, None)
    }

    /// The second attempt at `unit`'s shard, in a fresh stack.
    fn rerun(&self, unit: &Unit) -> Attempt {
        let file = self.layout.rerun_compose_file(unit.shard);
        self.fresh_attempt(unit, &self.names.rerun_project(unit.shard), file)
    }

    /// One attempt at `unit` in a fresh stack, `project` derived into
    /// `file`, torn down (or kept) after it.
    fn fresh_attempt(&self, unit: &Unit, project: &str, file: PathBuf) -> Attempt {
        let mut attempt = unit.unstarted(project, Status::Error, None);
        let log = match Log::create(&unit.folder.join(LOG_FILE)) {
            Ok(log) => log,
            Err(err) => return not_prepared(attempt, format!("{err:#}")),
        };
        self.source.note_seeds(&log);
        let place = Place {
            project: project.to_string(),
            file,
            labels: self.names.shard_labels(unit.shard),
            out: Some(self.layout.absolute_shard_folder(unit.shard)),
            resident: Some(Mount::FromFile),
        };
        let mut stack = match self.source.create(place, log.clone()) {
            Ok(stack) => stack,
            Err(message) => return not_prepared(attempt, message),
        };
        let limits = Limits::from_now(self.stop, self.config.timeout);
        let happened = match self.bring_up(&mut stack, unit.stack, &limits, &mut attempt) {
            Err(happened) => happened,
            Ok(()) => {
                self.report.state(unit.stack, "running", "", false);
                self.exec(&stack, unit, &log, &limits, &mut attempt)
            }
        };
        let verdict = verdict::decide(&happened);
        log.line(&format!(
            "stack-run: shard {} {}",
            unit.shard,
            said(&verdict)
        ));
        let verdict = self.finish(stack, unit, verdict, &mut attempt);
        self.report
            .state(unit.stack, verdict.status.as_str(), &verdict.detail(), true);
        settle(attempt, verdict)
    }

    /// Bring `stack` up, shown on `line`, its time in `attempt`; what
    /// happened if it did not come up.
    fn bring_up<H: Host>(
        &self,
        stack: &mut H,
        line: u32,
        limits: &Limits,
        attempt: &mut Attempt,
    ) -> Result<(), Happened> {
        self.report.state(line, "starting", &self.starting, false);
        let start = Instant::now();
        let up = stack.up(limits);
        attempt.up_seconds = start.elapsed().as_secs_f64();
        up.map_err(|message| Happened::StartFailed {
            message,
            stop: limits.reached().then(|| limits.cause()),
        })
    }

    /// Run `unit`'s command in `stack`, its time in `attempt`.
    fn exec<H: Host>(
        &self,
        stack: &H,
        unit: &Unit,
        log: &Log,
        limits: &Limits,
        attempt: &mut Attempt,
    ) -> Happened {
        let (report, line) = (Arc::clone(&self.report), unit.stack);
        let on_line: OnLine = Arc::new(move |text: &str| report.output(line, text));
        let (happened, seconds) = stack.exec(&unit.job(&self.config.task), log, limits, on_line);
        attempt.run_seconds = seconds;
        happened
    }

    /// After a unit in its own stack: its services' logs saved if it ran
    /// into trouble, then the stack kept (`--keep-on-failure`) or torn
    /// down; the verdict after that.
    fn finish<H: Host>(
        &self,
        stack: H,
        unit: &Unit,
        verdict: Verdict,
        attempt: &mut Attempt,
    ) -> Verdict {
        if verdict.is_trouble() {
            stack.save_logs(&unit.folder);
            if self.config.keep_on_failure {
                self.keep(stack, unit.shard);
                return verdict;
            }
        }
        self.report.state(unit.stack, "stopping", "", false);
        let (torn_down, seconds) = stack.down();
        attempt.down_seconds = seconds;
        match torn_down {
            Ok(()) => verdict,
            Err(err) => verdict.teardown_failed(&err),
        }
    }

    /// Leave `stack` running for debugging, and say how to reach and remove it.
    fn keep<H: Host>(&self, stack: H, shard: u32) {
        let project = stack.project().to_string();
        let reach = stack.keep();
        self.report.note(&format!(
            "shard {shard}: stack {project} left running; reach it with `{reach} ps` \
             (or exec, logs), remove it with `{reach} down -v` or `stack-run --clean --prefix {}`",
            self.names.prefix
        ));
        self.kept.store(true, Ordering::SeqCst);
    }

    /// Whether `first`'s failed tests get a second attempt: it failed,
    /// `--rerun-failed` asks for it, and the run goes on.
    fn wants_rerun(&self, first: &Attempt) -> bool {
        first.status == Status::Failed && self.config.rerun_failed && !self.stop.requested()
    }

    /// The second attempt at a failed first attempt's failed tests, shown
    /// on line `line`, its folder made; `None` when there is nothing to
    /// rerun or no way to.
    fn rerun_unit(
        &self,
        shard: u32,
        planned: &[String],
        first: &Attempt,
        line: u32,
    ) -> Option<Unit> {
        if !self.wants_rerun(first) {
            return None;
        }
        let report = &self.report;
        let failed = match failed_tests(&self.layout.shard_folder(shard), planned) {
            Ok(failed) if failed.is_empty() => {
                report.note(&format!(
                    "shard {shard}: no failed test of its plan in its JUnit reports; nothing to rerun"
                ));
                return None;
            }
            Ok(failed) => failed,
            Err(err) => {
                report.note(&format!("shard {shard}: cannot rerun: {err:#}"));
                return None;
            }
        };
        let unit = Unit::rerun(self.layout, shard, failed.len(), line);
        if let Err(err) = attempt_folder(&unit.folder, &failed) {
            report.note(&format!("shard {shard}: cannot rerun: {err:#}"));
            return None;
        }
        report.note(&format!(
            "shard {shard}: rerunning {} failed test(s) in a fresh stack",
            failed.len()
        ));
        Some(unit)
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
        let mut up_seconds = 0.0;
        if slot.stack.is_none() {
            match self.pooled_stack(slot, &unit) {
                Ok((stack, seconds)) => (slot.stack, up_seconds) = (Some(stack), seconds),
                Err(first) => {
                    return self.result(batch, first, started_seconds, None, Some(worker));
                }
            }
        }
        let stack = slot.stack.as_ref().expect("a stack is up");
        let project = stack.project().to_string();
        let (mut first, replace) = self.run_batch(stack, &unit, &project);
        first.up_seconds = up_seconds;
        // A rerun's fresh stack counts as one of the N: this one goes first.
        let rerun_next = self.wants_rerun(&first);
        if replace || rerun_next {
            let stack = slot.stack.take().expect("a stack is up");
            self.retire(stack, &unit, &mut first, replace);
        }
        let rerun = self
            .rerun_unit(batch, planned, &first, worker)
            .map(|unit| self.rerun(&unit));
        self.result(batch, first, started_seconds, rerun, Some(worker))
    }

    /// A new stack for worker `worker`'s batches, up, and how long that
    /// took; else the failed attempt of `unit`, the batch it was for.
    fn pooled_stack<'s>(
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
        let place = Place {
            project: project.clone(),
            file,
            labels: self.names.stack_labels(worker),
            out: None,
            resident: Some(Mount::Folder(self.layout.absolute_root().to_path_buf())),
        };
        let mut stack = self
            .source
            .create(place, log)
            .map_err(|message| not_prepared(&attempt, message))?;
        let limits = Limits::from_now(self.stop, self.config.timeout);
        let Err(happened) = self.bring_up(&mut stack, worker, &limits, &mut attempt) else {
            return Ok((stack, start.elapsed().as_secs_f64()));
        };
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
        Err(attempt)
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
        let limits = Limits::from_now(self.stop, self.config.timeout);
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
    fn finish_line(&self, unit: &Unit, verdict: &Verdict) {
        let detail = format!("batch {}: {}", unit.shard, verdict.detail());
        self.report
            .state(unit.stack, verdict.status.as_str(), &detail, false);
    }

    /// The result of a unit that never started, with `status`, because of
    /// `why` (an interruption, or seeding that failed).
    pub fn never_started(
        &self,
        unit: u32,
        planned: &[String],
        status: Status,
        why: &str,
    ) -> ShardResult {
        let shard_count = self.config.task.shard_count;
        let first = Unit::first(self.layout, unit, planned.len()).unstarted(
            &self.names.project(unit),
            status,
            Some(format!("never started: {why}")),
        );
        match self.config.stacks {
            // Progress lines are the stacks'.
            Some(_) => self.report.note(&format!(
                "batch {unit}/{shard_count}: {status} (never started)"
            )),
            None => self
                .report
                .state(unit, status.as_str(), "never started", true),
        }
        ShardResult {
            shard: unit,
            shards: shard_count,
            first,
            started_seconds: None,
            rerun: None,
            stack: None,
        }
    }

    fn result(
        &self,
        shard: u32,
        first: Attempt,
        started_seconds: f64,
        rerun: Option<Attempt>,
        stack: Option<u32>,
    ) -> ShardResult {
        ShardResult {
            shard,
            shards: self.config.task.shard_count,
            first,
            started_seconds: Some(started_seconds),
            rerun,
            stack,
        }
    }
}

/// `attempt` with `verdict`'s status, exit code and message.
fn settle(mut attempt: Attempt, verdict: Verdict) -> Attempt {
    attempt.status = verdict.status;
    attempt.exit_code = verdict.exit_code;
    attempt.message = verdict.message;
    attempt
}

/// An attempt that could not be prepared: nothing was started.
fn not_prepared(attempt: Attempt, message: String) -> Attempt {
    settle(attempt, verdict::decide(&Happened::NotPrepared(message)))
}

/// `STATUS` or `STATUS: MESSAGE`, as a unit's log ends.
fn said(verdict: &Verdict) -> String {
    match &verdict.message {
        Some(message) => format!("{}: {message}", verdict.status),
        None => verdict.status.to_string(),
    }
}

#[cfg(test)]
mod tests;
