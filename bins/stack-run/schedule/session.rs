//! `--session`: each pooled stack runs one long-lived pytest session that
//! collects once and then runs the batches its worker sends it, so a batch
//! pays no interpreter, plugin, Django or collection start, and
//! session-scoped fixtures (the test database) are set up once per stack.
//!
//! A session that ends under a batch (killed, out of memory, `os._exit`,
//! past `--timeout`) costs the batch its running test, an error naming the
//! stack and the cause. The tests it had not started run once more, in a new
//! session (in a fresh stack when this one is no longer healthy); a second
//! session that ends under them leaves the rest as errors, never retried
//! again. The batch's report is written from both (`model::lost_batch`).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shared::contract::LOG_FILE;
use shared::results::{Attempt, Status};

use crate::engine::proc::Log;
use crate::engine::session::{Collected, Done, Files};
use crate::model::layout::{OUT_MOUNT, session_folder};
use crate::model::lost_batch::{self, Lost};
use crate::model::session::{Ended, SessionCommand};
use crate::model::template::Vars;
use crate::model::verdict::{self, Happened, StopCause};
use crate::schedule::unit::{Unit, job};
use crate::schedule::worker::{Cut, Live, Slot};
use crate::schedule::{Host, Scheduler, StackSource, not_prepared, settle};
use crate::stack::Beside;
use crate::stack::limits::Limits;

/// How often the session's files are looked at.
const POLL: Duration = Duration::from_millis(20);

/// How often a batch's progress (tests ended) is told.
const PROGRESS: Duration = Duration::from_secs(10);

/// How long a session has to finish (its fixtures' teardown, its coverage
/// report) once told to stop.
const FINISH: Duration = Duration::from_secs(300);

/// A session about to start: its folder, and what runs it.
pub struct Starting {
    pub files: Files,
    pub beside: Beside,
}

/// `--session`: what every session runs.
pub struct Session {
    pub command: SessionCommand,
    /// `{tests}` of every session, as the container sees it: the ids of
    /// every selected batch.
    pub tests_file: String,
    /// Those ids.
    pub planned: HashSet<String>,
    /// `--node I/M`'s I: its sessions' folders are `OUT/session-I-S`.
    pub node: Option<u32>,
}

/// How a batch went in a session.
enum Served {
    /// The session finished it.
    Done(Done),
    /// The session ended first.
    Ended(Cut),
}

impl<S: StackSource> Scheduler<'_, S> {
    /// Run batch `unit` in the worker's session (started first if it has
    /// none); its attempt, and whether the stack must be replaced.
    pub(super) fn session_batch<'s>(
        &'s self,
        slot: &mut Slot<S::Stack<'s>>,
        unit: &Unit,
        planned: &[String],
    ) -> (Attempt, bool) {
        let project = slot.stack.as_ref().map_or("", |s| s.project()).to_string();
        let attempt = unit.unstarted(&project, Status::Error, None);
        let log = match Log::create(&unit.folder.join(LOG_FILE)) {
            Ok(log) => log,
            Err(err) => return (not_prepared(attempt, format!("{err:#}")), false),
        };
        let batch = format!("batch {}/{}", unit.shard, self.config.task.shard_count);
        self.report.state(unit.stack, "running", &batch, false);
        log.line(&format!(
            "stack-run: batch {} in {project}, by its session",
            unit.shard
        ));
        let started = Instant::now();
        let limits = self.limits();
        let (happened, replace) = match self.served(slot, unit, planned, &limits, &log) {
            Ok(served) => served,
            Err(message) => (Happened::RunFailed(message), true),
        };
        let verdict = verdict::decide(&happened);
        log.line(&format!(
            "stack-run: batch {} {}",
            unit.shard, verdict.status
        ));
        if let Some(stack) = slot.stack.as_ref().filter(|_| verdict.is_trouble()) {
            stack.save_logs(&unit.folder);
        }
        self.finish_line(unit, &verdict);
        let mut attempt = settle(attempt, verdict);
        attempt.run_seconds = started.elapsed().as_secs_f64();
        (attempt, replace)
    }

    /// Send the batch to the worker's session and wait for it; what
    /// happened, and whether the stack must be replaced.
    fn served<'s>(
        &'s self,
        slot: &mut Slot<S::Stack<'s>>,
        unit: &Unit,
        planned: &[String],
        limits: &Limits,
        log: &Log,
    ) -> Result<(Happened, bool), String> {
        let junit = self.junit_in(&unit.mounted_folder);
        match self.serve_in_slot(slot, unit, planned, &junit, limits)? {
            Served::Done(done) => Ok((self.done_happened(slot, &done, log), false)),
            Served::Ended(lost) => {
                let cause = lost.cause.clone();
                let stop = lost.stop;
                self.resume(slot, unit, planned, lost)?;
                self.restart_for_coverage(slot, unit);
                let replace = !slot.stack.as_ref().is_some_and(|s| s.healthy());
                Ok((ended_happened(&cause, stop), replace))
            }
        }
    }

    /// What a finished batch's done file comes to; a session that stopped
    /// itself (`-x`, `--maxfail`) is ended.
    fn done_happened<'s>(
        &'s self,
        slot: &mut Slot<S::Stack<'s>>,
        done: &Done,
        log: &Log,
    ) -> Happened {
        for problem in &done.problems {
            log.line(&format!("stack-run: the session said: {problem}"));
        }
        if !done.not_run.is_empty() {
            log.line(&format!(
                "stack-run: the session stopped {} test(s) short (-x or --maxfail)",
                done.not_run.len()
            ));
            self.end_session(slot.live.take());
        }
        happened(done)
    }

    /// The tests of a batch whose session ended under it that had not
    /// started, once more in another session; then the batch's report.
    fn resume<'s>(
        &'s self,
        slot: &mut Slot<S::Stack<'s>>,
        unit: &Unit,
        planned: &[String],
        first: Cut,
    ) -> Result<(), String> {
        let report = unit.folder.join(&self.session().command.junit_name);
        let mut rest = first.not_started(planned);
        let mut lost = vec![first];
        let resumed = unit.folder.join(RESUMED_REPORT);
        let mut resumed_report = None;
        if !rest.is_empty() && !self.stop.requested() {
            if !slot.stack.as_ref().is_some_and(|s| s.healthy()) {
                self.replace_stack(slot, unit)?;
            }
            let junit = format!("{}/{RESUMED_REPORT}", unit.mounted_folder);
            // A new deadline: the resumed tests get the batch's --timeout too.
            let limits = self.limits();
            match self.serve_in_slot(slot, unit, &rest, &junit, &limits)? {
                Served::Done(_) => (resumed_report, rest) = (Some(resumed.as_path()), Vec::new()),
                Served::Ended(second) => {
                    rest = second.not_started(&rest);
                    lost.push(second);
                }
            }
        }
        let why = match self.stop.requested() {
            true => "not run: the run was interrupted",
            false => "not run: a second session ended under this batch too; not retried again",
        };
        let ended: Vec<Ended> = lost.iter().flat_map(|l| l.ended.iter().cloned()).collect();
        let killed: Vec<(String, String)> = lost
            .iter()
            .filter_map(|l| Some((l.running.clone()?, l.cause.clone())))
            .collect();
        let written = lost_batch::write(
            &report,
            &Lost {
                ended: &ended,
                killed: &killed,
                unreported: &rest,
                unreported_why: why,
            },
            resumed_report,
        );
        let _ = std::fs::remove_file(&resumed);
        written.map_err(|err| format!("cannot write the batch's report: {err:#}"))
    }

    /// A session that measured coverage and ended under a batch saved its
    /// data after every batch but wrote no report. When no session of the
    /// resumed tests took over, one more starts now (in a fresh stack if
    /// need be): it adds to that data and writes the report when it ends,
    /// even when no batch is left for it.
    fn restart_for_coverage<'s>(&'s self, slot: &mut Slot<S::Stack<'s>>, unit: &Unit) {
        if slot.live.is_some() || !slot.coverage || self.stop.requested() {
            return;
        }
        if let Err(message) = self.restart_session(slot, unit) {
            self.report.note(&format!(
                "stack {}: no session took over the coverage of the one that ended ({message}); \
                 its data stays in {}",
                unit.stack,
                self.layout
                    .session_folder(self.session().node, unit.stack)
                    .display()
            ));
        }
    }

    /// A new session for the worker, adding to its coverage data: in a
    /// fresh stack, beside its sidecars, when its stack is no longer healthy.
    fn restart_session<'s>(
        &'s self,
        slot: &mut Slot<S::Stack<'s>>,
        unit: &Unit,
    ) -> Result<(), String> {
        if !slot.stack.as_ref().is_some_and(|s| s.healthy()) {
            self.replace_stack(slot, unit)?;
        }
        if slot.live.is_some() {
            return Ok(());
        }
        let stack = slot.stack.as_ref().ok_or("no stack to run a session in")?;
        slot.sessions += 1;
        let limits = self.limits();
        let live = self.open_session(stack, unit.stack, slot.sessions, true, &limits)?;
        slot.live = Some(live);
        Ok(())
    }

    /// Run `ids` of `unit` in the worker's session, one started first (and
    /// the stack replaced when it will not start); how it went.
    fn serve_in_slot<'s>(
        &'s self,
        slot: &mut Slot<S::Stack<'s>>,
        unit: &Unit,
        ids: &[String],
        junit: &str,
        limits: &Limits,
    ) -> Result<Served, String> {
        let stack = slot.stack.as_ref().ok_or("no stack to run a session in")?;
        if let Some(live) = slot.live.as_mut().filter(|live| !live.collected) {
            // Started beside the sidecars: if it could not collect then, one
            // more now that they are ready.
            match self.await_session(stack, live, limits, false) {
                Ok(()) => slot.coverage |= live.coverage,
                Err(message) => {
                    self.report.note(&format!(
                    "stack {}: the session started beside its sidecars did not serve ({message}); \
                     starting another now that they are ready",
                        unit.stack
                    ));
                    slot.live = None;
                }
            }
        }
        if slot.live.is_none() {
            slot.sessions += 1;
            let live =
                self.open_session(stack, unit.stack, slot.sessions, slot.coverage, limits)?;
            slot.coverage |= live.coverage;
            slot.live = Some(live);
        }
        let stack = slot.stack.as_ref().ok_or("no stack to run a session in")?;
        let live = slot.live.as_mut().expect("a session is open");
        let served = self.serve_batch(stack, live, unit, ids, junit, limits)?;
        if matches!(served, Served::Ended(_)) {
            slot.live = None;
        }
        Ok(served)
    }

    /// The stack's session is gone and so is the stack's health: a fresh
    /// stack for the worker.
    fn replace_stack<'s>(
        &'s self,
        slot: &mut Slot<S::Stack<'s>>,
        unit: &Unit,
    ) -> Result<(), String> {
        if let Some(stack) = slot.stack.take() {
            self.report
                .state(unit.stack, "replacing", stack.project(), false);
            let _ = stack.down();
        }
        let (stack, _) = self.pooled_stack(slot, unit).map_err(|attempt| {
            attempt
                .message
                .unwrap_or_else(|| "a fresh stack did not start".into())
        })?;
        slot.stack = Some(stack);
        Ok(())
    }

    /// Start session `number` of worker `worker` in `stack`, which is up,
    /// and wait until it has collected.
    fn open_session<H: Host>(
        &self,
        stack: &H,
        worker: u32,
        number: u32,
        append_coverage: bool,
        limits: &Limits,
    ) -> Result<Live, String> {
        let starting = self.prepare_session(worker, number, append_coverage)?;
        let process = stack.serve(starting.beside)?;
        let mut live = Live::starting(starting.files, process, stack, worker);
        self.await_session(stack, &mut live, limits, true)?;
        Ok(live)
    }

    /// What session `number` of worker `worker` runs, and its folder, made
    /// fresh; `append_coverage` when an earlier session of the worker
    /// measured coverage into the same folder.
    pub(super) fn prepare_session(
        &self,
        worker: u32,
        number: u32,
        append_coverage: bool,
    ) -> Result<Starting, String> {
        let session = self.session();
        let folder = self
            .layout
            .session_folder(session.node, worker)
            .join(number.to_string());
        let files = Files::create(&folder).map_err(|err| format!("{err:#}"))?;
        let log = Log::create(&folder.join(LOG_FILE)).map_err(|err| format!("{err:#}"))?;
        let out = format!("{OUT_MOUNT}/{}", session_folder(session.node, worker));
        let protocol = format!("{out}/{number}");
        let vars = Vars {
            tests_file: &session.tests_file,
            out_folder: &out,
            shard: worker,
            shard_count: self.config.task.shard_count,
            stack: worker,
        };
        let command = session.command.serving(&protocol, append_coverage);
        let job = job(&self.config.task, &command, &vars, None);
        Ok(Starting {
            files,
            beside: Beside { job, log },
        })
    }

    /// Wait until `live` has collected, and check what it collected; a
    /// session started with its sidecars `ready` that refuses the run
    /// refuses it for every batch left.
    fn await_session<H: Host>(
        &self,
        stack: &H,
        live: &mut Live,
        limits: &Limits,
        ready: bool,
    ) -> Result<(), String> {
        self.report
            .state(live.worker, "collecting", stack.project(), false);
        let collected = self.collected(stack, live, limits)?;
        if let Some(refusal) = refusal(&collected) {
            if ready {
                let _ = self.refused.set(refusal.clone());
            }
            return Err(refusal);
        }
        self.check_collected(live.worker, &collected);
        live.coverage = collected.cov_active;
        live.collected = true;
        Ok(())
    }

    /// Wait for the session's `collected.json`.
    fn collected<H: Host>(
        &self,
        stack: &H,
        live: &mut Live,
        limits: &Limits,
    ) -> Result<Collected, String> {
        loop {
            // Looked at first: a session that wrote its file and then ended
            // (collection errors) is read as having collected.
            let ended = live.process.ended();
            if let Some(collected) = live.files.collected().map_err(|err| format!("{err:#}"))? {
                return Ok(collected);
            }
            if ended {
                let status = live.process.wait();
                return Err(format!(
                    "the pytest session ended before it collected ({}): see {}",
                    status.map_or("killed".into(), |s| s.to_string()),
                    live.files.dir().join(LOG_FILE).display()
                ));
            }
            if limits.reached() {
                stack.kill_resident();
                live.process.kill();
                let why = match limits.cause() {
                    StopCause::Signal => "interrupted".to_string(),
                    StopCause::Timeout(limit) => {
                        format!("past --timeout ({}s)", limit.as_secs_f64())
                    }
                };
                return Err(format!("the session was stopped while collecting: {why}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Warn about what a session that collected will do with this plan.
    fn check_collected(&self, worker: u32, collected: &Collected) {
        if !self.warned.swap(true, Ordering::SeqCst) {
            let cov = collected
                .pytest_cov
                .as_deref()
                .filter(|_| collected.cov_active);
            if let Some(version) = cov.filter(|v| !v.starts_with("7.")) {
                self.report.warn(&format!(
                    "session: pytest-cov {version} is not the 7.x --session is tested with; \
                     if a batch's coverage cannot be saved, its done file says so in the batch's log"
                ));
            }
            for warning in &collected.warnings {
                self.report.warn(&format!("session: {warning}"));
            }
        }
        let session = self.session();
        let ids: HashSet<&String> = collected.ids.iter().collect();
        let mut missing: Vec<&String> = session
            .planned
            .iter()
            .filter(|id| !ids.contains(id))
            .collect();
        if !missing.is_empty() {
            missing.sort();
            let first: Vec<&str> = missing.iter().take(3).map(|id| id.as_str()).collect();
            self.report.warn(&format!(
                "stack {worker}'s session did not collect {} planned test(s) ({}); their batches fail",
                missing.len(),
                first.join(", ")
            ));
        }
    }

    /// Send `ids` as the session's next batch and follow it to its end.
    fn serve_batch<H: Host>(
        &self,
        stack: &H,
        live: &mut Live,
        unit: &Unit,
        ids: &[String],
        junit: &str,
        limits: &Limits,
    ) -> Result<Served, String> {
        live.sent += 1;
        let batch = live.sent;
        live.files
            .send(batch, ids, junit)
            .map_err(|err| format!("{err:#}"))?;
        let mut lost = Cut::default();
        let shown = format!("batch {}/{}", unit.shard, self.config.task.shard_count);
        // Told now and then: a line per test would flood a CI log.
        let mut told = (0, Instant::now());
        loop {
            // Looked at first: a session that wrote the batch's done file and
            // then ended (-x) finished the batch.
            let ended = live.process.ended();
            let done = live.files.done(batch).map_err(|err| format!("{err:#}"))?;
            let dead = done.is_none() && ended;
            let stop = done.is_none() && !dead && limits.reached();
            if stop {
                // The session runs inside the container: it goes with it.
                stack.kill_resident();
                live.process.kill();
            }
            lost.follow(live.files.events(), batch);
            if let Some(done) = done {
                return Ok(Served::Done(done));
            }
            if dead || stop {
                lost.stop = stop.then(|| limits.cause());
                lost.cause = self.cause(stack, live, lost.stop);
                return Ok(Served::Ended(lost));
            }
            let count = lost.ended.len();
            if count != told.0 && told.1.elapsed() >= PROGRESS {
                told = (count, Instant::now());
                let detail = format!("{shown}: {}/{} tests", lost.ended.len(), ids.len());
                self.report.state(unit.stack, "running", &detail, false);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Why the session ended under a test: stopped, or died.
    fn cause<H: Host>(&self, stack: &H, live: &mut Live, stop: Option<StopCause>) -> String {
        let project = &live.project;
        match stop {
            Some(StopCause::Timeout(limit)) => format!(
                "the batch passed --timeout ({}s) in stack {project}: its session was killed",
                limit.as_secs_f64()
            ),
            Some(StopCause::Signal) => format!("interrupted in stack {project}"),
            None => {
                let status = live.process.wait();
                let how = match (stack.healthy(), status) {
                    (false, _) => "its container or a sidecar stopped".to_string(),
                    (true, Some(status)) => format!("the pytest process ended ({status})"),
                    (true, None) => "the pytest process ended".to_string(),
                };
                format!("the session died under it in stack {project}: {how}")
            }
        }
    }

    /// Tell a session to finish, and wait for it (its fixtures' teardown,
    /// its coverage report); killed if it takes longer than [`FINISH`].
    pub(super) fn end_session(&self, live: Option<Live>) {
        let Some(mut live) = live else { return };
        if live.files.stop().is_err() {
            return live.process.kill();
        }
        let by = Instant::now() + FINISH;
        while !live.process.ended() && Instant::now() < by && !self.stop.requested() {
            std::thread::sleep(POLL);
        }
        match live.process.ended() {
            true => _ = live.process.wait(),
            false => live.process.kill(),
        }
    }

    fn session(&self) -> &Session {
        self.config.session.as_ref().expect("--session is on")
    }

    /// Where a batch's JUnit report goes, as the container sees it.
    fn junit_in(&self, mounted_folder: &str) -> String {
        format!("{mounted_folder}/{}", self.session().command.junit_name)
    }
}

/// What a batch whose session finished it comes to: as pytest's exit
/// status would say, or an error when tests were not collected or the
/// report could not be written.
fn happened(done: &Done) -> Happened {
    if !done.not_found.is_empty() {
        let first: Vec<&str> = done.not_found.iter().take(3).map(String::as_str).collect();
        return Happened::RunFailed(format!(
            "the session did not collect {} of the batch's test(s): {}",
            done.not_found.len(),
            first.join(", ")
        ));
    }
    if let Some(problem) = done.problems.first() {
        return Happened::RunFailed(format!("the session could not report the batch: {problem}"));
    }
    let count = |outcome: &str| done.counts.get(outcome).copied().unwrap_or(0);
    let failed = count("failed") + count("error") > 0 || !done.not_run.is_empty();
    Happened::Exited(Some(i32::from(failed)))
}

/// Why a session that collected cannot serve any batch, if it cannot:
/// collection errors (pytest would run nothing), or a pytest too old.
fn refusal(collected: &Collected) -> Option<String> {
    if let Some((id, message)) = collected.collection_errors.first() {
        return Some(format!(
            "{} error(s) during collection, the first in {id}: {message}",
            collected.collection_errors.len()
        ));
    }
    let pytest = &collected.pytest;
    (!supported_pytest(pytest)).then(|| {
        format!("pytest {pytest} cannot serve a session: --session needs pytest 8.4 or later")
    })
}

/// Whether a session may run on pytest `version`: 8.4 or later (the
/// plugin's tests run on 8.4.2 and 9.2.0).
fn supported_pytest(version: &str) -> bool {
    let mut parts = version.split('.').map(|part| {
        let digits = part
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(part.len());
        part[..digits].parse::<u32>().unwrap_or(0)
    });
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (8, 4)
}

/// What a batch whose session ended under it comes to.
fn ended_happened(cause: &str, stop: Option<StopCause>) -> Happened {
    match stop {
        Some(stop) => Happened::Stopped(stop),
        None => Happened::RunFailed(cause.to_string()),
    }
}

/// The second run's report of a batch whose session ended, in its folder
/// until the batch's report is written from it.
const RESUMED_REPORT: &str = ".resumed.xml";

#[cfg(test)]
mod tests {
    use super::*;

    fn done(counts: &[(&str, u64)]) -> Done {
        Done {
            counts: counts.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            not_found: Vec::new(),
            not_run: Vec::new(),
            problems: Vec::new(),
        }
    }

    #[test]
    fn a_finished_batch_reads_as_pytests_exit_status_would() {
        let passed = done(&[("passed", 3), ("skipped", 1), ("xfailed", 1)]);
        assert_eq!(happened(&passed), Happened::Exited(Some(0)));
        assert_eq!(
            happened(&done(&[("passed", 3), ("error", 1)])),
            Happened::Exited(Some(1))
        );
        let stopped_short = Done {
            not_run: vec!["t.py::b".into()],
            ..done(&[("passed", 1)])
        };
        assert_eq!(happened(&stopped_short), Happened::Exited(Some(1)));
    }

    #[test]
    fn pytest_before_8_4_cannot_serve_a_session() {
        for version in ["8.4.2", "9.2.0", "10.0.0rc1", "8.10"] {
            assert!(supported_pytest(version), "{version}");
        }
        for version in ["8.3.5", "7.4.4", "6.2", "?"] {
            assert!(!supported_pytest(version), "{version}");
        }
    }

    #[test]
    fn collection_errors_or_an_old_pytest_refuse_the_run() {
        let collected = |pytest: &str, errors: &[(&str, &str)]| Collected {
            ids: vec!["t.py::a".into()],
            pytest: pytest.into(),
            pytest_cov: None,
            cov_active: false,
            warnings: Vec::new(),
            collection_errors: errors
                .iter()
                .map(|(id, why)| (id.to_string(), why.to_string()))
                .collect(),
        };
        assert_eq!(refusal(&collected("9.2.0", &[])), None);
        let broken = [("t.py", "ImportError: no"), ("u.py", "SyntaxError")];
        assert_eq!(
            refusal(&collected("9.2.0", &broken)).as_deref(),
            Some("2 error(s) during collection, the first in t.py: ImportError: no")
        );
        let old = refusal(&collected("8.3.5", &[])).unwrap();
        assert!(
            old.starts_with("pytest 8.3.5 cannot serve a session"),
            "{old}"
        );
    }

    #[test]
    fn ids_not_collected_or_a_report_not_written_make_the_batch_an_error() {
        let not_found = Done {
            not_found: vec!["t.py::gone".into()],
            ..done(&[("passed", 1)])
        };
        assert_eq!(
            happened(&not_found),
            Happened::RunFailed(
                "the session did not collect 1 of the batch's test(s): t.py::gone".into()
            )
        );
        let unwritten = Done {
            problems: vec!["/out/shard-1/junit.xml: disk full".into()],
            ..done(&[("passed", 1)])
        };
        let Happened::RunFailed(message) = happened(&unwritten) else {
            panic!("not an error")
        };
        assert!(message.ends_with("disk full"), "{message}");
    }
}
