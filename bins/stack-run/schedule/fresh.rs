//! Fresh stacks: every shard, and every second attempt, in a stack of its
//! own, torn down (or kept) after it.

use std::path::PathBuf;

use shared::contract::LOG_FILE;
use shared::results::{Attempt, ShardResult, Status};

use crate::engine::proc::Log;
use crate::model::verdict::{self, Verdict};
use crate::schedule::unit::Unit;
use crate::schedule::{Host, Scheduler, StackSource, not_prepared, said, settle};
use crate::stack::Place;
use crate::stack::resident::Mount;

impl<S: StackSource> Scheduler<'_, S> {
    /// Shard `shard` in a stack of its own, and its failed tests once more
    /// in another, if they get a second attempt.
    pub(super) fn shard(&self, shard: u32, planned: &[String]) -> ShardResult {
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
    pub(super) fn rerun(&self, unit: &Unit) -> Attempt {
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
        let limits = self.limits();
        let happened = match self.bring_up(&mut stack, unit.stack, &limits, &mut attempt, None) {
            Err(happened) => happened,
            Ok(_) => {
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
}
