//! The real stacks under the scheduler: [`Stacks`] makes them, each a
//! compose project of its own (see `stack`).

use std::path::Path;

use crate::engine::proc::{Background, Log};
use crate::model::gate::Built;
use crate::model::verdict::Happened;
use crate::schedule::{Host, OnLine, StackSource};
use crate::stack::blueprint::Job;
use crate::stack::limits::Limits;
use crate::stack::{Beside, Place, Stack, Stacks};

impl StackSource for Stacks {
    type Stack<'s> = Stack<'s>;

    fn create(&self, place: Place, log: Log) -> Result<Stack<'_>, String> {
        Stacks::create(self, place, log)
    }

    fn note_seeds(&self, log: &Log) {
        Stacks::note_seeds(self, log);
    }

    fn build(&self) -> Option<&Built> {
        Some(&self.built)
    }
}

impl Host for Stack<'_> {
    fn project(&self) -> &str {
        Stack::project(self)
    }

    fn up(
        &mut self,
        limits: &Limits,
        beside: Option<Beside>,
    ) -> Result<Option<Background>, String> {
        Stack::up_with(self, limits, beside)
    }

    fn exec(&self, job: &Job, log: &Log, limits: &Limits, on_line: OnLine) -> (Happened, f64) {
        Stack::exec(self, job, log, limits, on_line)
    }

    fn healthy(&self) -> bool {
        Stack::healthy(self)
    }

    fn save_logs(&self, folder: &Path) {
        Stack::save_logs(self, folder);
    }

    fn serve(&self, beside: Beside) -> Result<Background, String> {
        Stack::serve(self, beside)
    }

    fn kill_resident(&self) {
        Stack::kill_resident(self);
    }

    fn keep(self) -> String {
        Stack::keep(self)
    }

    fn down(self) -> (Result<(), String>, f64) {
        Stack::down(self)
    }
}
