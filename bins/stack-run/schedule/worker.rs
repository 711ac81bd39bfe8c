//! What a pooled worker holds between batches: its stack and, with
//! `--session`, the session serving in it; and what a batch's session said
//! of its tests as they ran.

use std::collections::HashSet;

use shared::results::ShardResult;

use crate::engine::proc::Background;
use crate::engine::session::Files;
use crate::model::session::{Ended, TestEvent};
use crate::model::verdict::StopCause;
use crate::schedule::Host;

/// A worker's stack, when it keeps one from unit to unit.
pub struct Slot<H> {
    pub stack: Option<H>,
    /// With `--session`: the session serving in the stack.
    pub live: Option<Live>,
    /// How many sessions the worker has started: the next one's folder.
    pub sessions: u32,
    /// Whether a session of the worker measured coverage, which the next
    /// one must add to, not erase.
    pub coverage: bool,
    /// How many stacks the worker has brought up: the next one's name.
    pub generation: u32,
    /// The last unit's result, held while its stack is up: if the stack
    /// goes down after it, the teardown is part of it.
    pub held: Option<ShardResult>,
}

impl<H> Slot<H> {
    pub fn empty() -> Slot<H> {
        Slot {
            stack: None,
            live: None,
            sessions: 0,
            coverage: false,
            generation: 0,
            held: None,
        }
    }
}

/// A stack's session, serving.
pub struct Live {
    pub files: Files,
    pub process: Background,
    /// The stack it runs in, for messages, and its worker.
    pub project: String,
    pub worker: u32,
    /// Batches sent to it so far.
    pub sent: u32,
    /// Whether pytest-cov measures it.
    pub coverage: bool,
    /// Whether it has collected, and what it collected was checked: until
    /// then it may be starting beside its stack's sidecars.
    pub collected: bool,
}

impl Live {
    /// A session started beside `stack`'s sidecars, not yet collected.
    pub fn starting(files: Files, process: Background, stack: &impl Host, worker: u32) -> Live {
        Live {
            files,
            process,
            project: stack.project().to_string(),
            worker,
            sent: 0,
            coverage: false,
            collected: false,
        }
    }
}

/// A batch's tests in a session, as its events tell them; what is left
/// when the session ends under the batch.
#[derive(Default)]
pub struct Cut {
    pub ended: Vec<Ended>,
    /// The test that started and has not ended.
    pub running: Option<String>,
    /// Why the session ended, as the running test's error says it.
    pub cause: String,
    /// What stopped it, when stack-run did.
    pub stop: Option<StopCause>,
}

impl Cut {
    /// Take the session's events of its batch `batch` in.
    pub fn follow(&mut self, events: Vec<TestEvent>, batch: u32) {
        for event in events {
            match event {
                TestEvent::Started { batch: b, id } if b == batch => self.running = Some(id),
                TestEvent::Ended(ended) if ended.batch == batch => {
                    self.running = None;
                    self.ended.push(ended);
                }
                _ => {}
            }
        }
    }

    /// `ids` but those that ended or were running, in order.
    pub fn not_started(&self, ids: &[String]) -> Vec<String> {
        let ended = self.ended.iter().map(|e| e.id.as_str());
        let seen: HashSet<&str> = ended.chain(self.running.as_deref()).collect();
        let fresh = |id: &&String| !seen.contains(id.as_str());
        ids.iter().filter(fresh).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(batch: u32, id: &str) -> TestEvent {
        TestEvent::Ended(Ended {
            batch,
            id: id.into(),
            outcome: "passed".into(),
            seconds: 0.1,
            message: None,
            details: None,
        })
    }

    fn started(batch: u32, id: &str) -> TestEvent {
        TestEvent::Started {
            batch,
            id: id.into(),
        }
    }

    #[test]
    fn the_tests_not_started_are_those_neither_ended_nor_running() {
        let ids: Vec<String> = ["a", "b", "c", "d"].map(String::from).into();
        let mut cut = Cut::default();
        // An earlier batch's events in the same file are not this batch's.
        cut.follow(vec![started(1, "d"), ended(1, "d")], 2);
        cut.follow(vec![started(2, "a"), ended(2, "a"), started(2, "c")], 2);
        assert_eq!(cut.running.as_deref(), Some("c"));
        assert_eq!(cut.ended.len(), 1);
        assert_eq!(cut.not_started(&ids), ["b", "d"]);
    }
}
