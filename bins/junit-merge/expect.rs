//! `--expect PLAN`: every planned test with no result in any input becomes
//! an error test case naming its shard, so nothing is silently lost.

use std::io::Write;
use std::path::Path;

use shared::junit::model::{Case, Counts};
use shared::junit::write::{Problem, Writer};
use shared::nodeid::KeyIndex;
use shared::plan::{self, Entry};

/// The planned tests, and whether an input had a result for each.
pub struct Expected {
    entries: Vec<Entry>,
    keys: KeyIndex,
    found: Vec<bool>,
}

impl Expected {
    pub fn read(path: &Path) -> anyhow::Result<Expected> {
        let input = shared::io::open(path)?;
        let entries = plan::read(&input.name, input.reader)?;
        let keys = KeyIndex::new(entries.iter().map(|entry| entry.id.as_str()));
        Ok(Expected {
            found: vec![false; entries.len()],
            entries,
            keys,
        })
    }

    /// An input has a result for `case`.
    pub fn found(&mut self, case: &Case) {
        if let Some(index) = self.keys.find(&case.classname, &case.name) {
            self.found[index] = true;
        }
    }

    /// The planned tests no input had a result for, in plan order, each once.
    pub fn not_run(&self) -> Vec<Entry> {
        self.entries
            .iter()
            .enumerate()
            .filter(|&(index, entry)| !self.found[index] && self.keys.is_first(index, &entry.id))
            .map(|(_, entry)| entry.clone())
            .collect()
    }
}

/// What the not-run suite adds to the report: one test and one error each.
pub fn counts(not_run: &[Entry]) -> Counts {
    let n = not_run.len() as u64;
    Counts {
        tests: n,
        errors: n,
        ..Counts::default()
    }
}

/// The suite of tests that did not run, if there are any.
pub fn write(not_run: &[Entry], writer: &mut Writer<impl Write>) -> std::io::Result<()> {
    if not_run.is_empty() {
        return Ok(());
    }
    writer.start_suite("junit-merge: not run", &counts(not_run))?;
    for entry in not_run {
        let (message, detail) = match entry.shard {
            Some(shard) => (
                format!("did not run: shard {shard} reported no result for it"),
                format!("{} was planned for shard {shard}", entry.id),
            ),
            None => (
                "did not run: no report has a result for it".to_string(),
                format!("{} was planned", entry.id),
            ),
        };
        let details = format!(
            "{detail}, but no JUnit report has a result for it: \
             the shard crashed, timed out or was stopped before the test ran"
        );
        let problem = Problem {
            tag: "error",
            kind: Some("NotRun"),
            message,
            details,
        };
        // No time: a test that never ran has no duration.
        writer.made_up_case(&entry.id, None, Some(problem))?;
    }
    writer.end_suite()
}
