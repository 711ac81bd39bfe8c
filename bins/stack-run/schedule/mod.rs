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

mod fresh;
mod pooled;
pub mod seed;
pub mod session;
mod source;
pub mod unit;
mod worker;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use shared::results::{Attempt, ShardResult, Status};

use crate::engine::proc::{Background, Log};
use crate::engine::signals::Stop;
use crate::model::gate::Built;
use crate::model::layout::{Layout, attempt_folder};
use crate::model::names::Names;
use crate::model::report::Report;
use crate::model::rerun::failed_tests;
use crate::model::selection::Plan;
use crate::model::verdict::{self, Happened, Verdict};
use crate::stack::blueprint::Job;
use crate::stack::limits::Limits;
use crate::stack::{Beside, Place};
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

    /// The run's build, which no `--timeout` counts; `None` for none.
    fn build(&self) -> Option<&Built>;
}

/// A stack the scheduler holds.
pub trait Host {
    fn project(&self) -> &str;
    /// Get it ready for commands, and `beside` started in its container of
    /// the service as soon as that runs (`None` for it without one).
    fn up(&mut self, limits: &Limits, beside: Option<Beside>)
    -> Result<Option<Background>, String>;
    /// Run `job`; what happened, and how long it ran.
    fn exec(&self, job: &Job, log: &Log, limits: &Limits, on_line: OnLine) -> (Happened, f64);
    fn healthy(&self) -> bool;
    fn save_logs(&self, folder: &Path);
    /// Start `beside` in the stack's container of the service, to run
    /// alongside (a pytest session).
    fn serve(&self, beside: Beside) -> Result<Background, String>;
    /// Kill the stack's container of the service, and what runs in it.
    fn kill_resident(&self);
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
    /// `--session`: each of the `--stacks` runs one pytest session that
    /// serves batch after batch.
    pub session: Option<session::Session>,
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
    /// Set once the sessions' warnings have been shown.
    warned: AtomicBool,
    /// Set when a session, started with its sidecars ready, could not serve
    /// this run at all (collection errors, an old pytest): the batches left
    /// fail with it at once, with no stack started for them.
    refused: OnceLock<String>,
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
            warned: AtomicBool::new(false),
            refused: OnceLock::new(),
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
        match self.config.stacks {
            None => {
                while let Some(shard) = next() {
                    let _ = results.send(self.shard(shard, &plan[&shard]));
                }
            }
            Some(_) => self.work_pooled(plan, worker, next, results),
        }
    }

    /// The limits of an attempt that starts now: `--timeout`, its clock
    /// held while the run's images build, and any signal.
    fn limits(&self) -> Limits<'a> {
        Limits::from_now(self.stop, self.config.timeout).after(self.source.build())
    }

    /// Bring `stack` up, shown on `line`, its time in `attempt`, `beside`
    /// started in it as soon as it can be; what happened if it did not come up.
    fn bring_up<H: Host>(
        &self,
        stack: &mut H,
        line: u32,
        limits: &Limits,
        attempt: &mut Attempt,
        beside: Option<Beside>,
    ) -> Result<Option<Background>, Happened> {
        self.report.state(line, "starting", &self.starting, false);
        let start = Instant::now();
        let up = stack.up(limits, beside);
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
