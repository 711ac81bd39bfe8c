//! `--expect PLAN`: every planned test with no result in any input becomes
//! an error test case naming its shard, so nothing is silently lost.

use std::io::Write;
use std::path::Path;

use shared::junit::model::{Case, Counts};
use shared::junit::write::{Writer, count_attributes};
use shared::nodeid::{KeyIndex, junit_key};
use shared::plan::{self, Entry};
use shared::xml::{Element, Event};

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
    let mut attributes = vec![("name".to_string(), "junit-merge: not run".to_string())];
    attributes.extend(count_attributes(&counts(not_run)));
    writer.new_child();
    writer.event(&Event::Start(element("testsuite", attributes)))?;
    for entry in not_run {
        let (classname, name) = junit_key(&entry.id);
        let mut attributes = vec![("classname".into(), classname), ("name".into(), name)];
        // No `time`: a test that never ran has no duration, and a durations
        // reader must not learn 0 s for it.
        if let Some((file, _)) = entry.id.split_once("::") {
            attributes.push(("file".into(), file.into()));
        }
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
        let detail = format!(
            "{detail}, but no JUnit report has a result for it: \
             the shard crashed, timed out or was stopped before the test ran"
        );
        writer.event(&Event::Text("\n    ".into()))?;
        writer.event(&Event::Start(element("testcase", attributes)))?;
        writer.event(&Event::Start(element(
            "error",
            vec![
                ("type".into(), "NotRun".into()),
                ("message".into(), message),
            ],
        )))?;
        writer.event(&Event::Text(detail))?;
        writer.event(&Event::End("error".into()))?;
        writer.event(&Event::End("testcase".into()))?;
    }
    writer.event(&Event::Text("\n  ".into()))?;
    writer.event(&Event::End("testsuite".into()))
}

fn element(name: &str, attributes: Vec<(String, String)>) -> Element {
    Element {
        name: name.into(),
        attributes,
    }
}
