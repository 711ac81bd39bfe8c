//! The host's side of a pytest session's file protocol: the files a
//! session (`packaging/pytest/shardstack_session.py`, whose docstring is the
//! protocol) and stack-run exchange in a folder both see. Reading and
//! writing them, no policy.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::model::session::{Ended, TestEvent};

/// The protocol this side speaks.
const PROTOCOL: u64 = 1;

/// What a session said once it had collected: it is ready for batches.
pub struct Collected {
    pub ids: Vec<String>,
    pub pytest: String,
    /// pytest-cov's version, when it is installed.
    pub pytest_cov: Option<String>,
    /// Whether pytest-cov measures the session.
    pub cov_active: bool,
    pub warnings: Vec<String>,
    /// `(id, message)` of every file that failed to collect.
    pub collection_errors: Vec<(String, String)>,
}

/// What a session said at the end of a batch.
pub struct Done {
    /// Tests per outcome: passed, failed, error, skipped, xfailed, xpassed.
    pub counts: BTreeMap<String, u64>,
    /// Ids the session did not collect: never run.
    pub not_found: Vec<String>,
    /// Ids left when the session stopped mid-batch (`-x`, `--maxfail`).
    pub not_run: Vec<String>,
    /// Why its JUnit or coverage could not be written, or its file read.
    pub problems: Vec<String>,
}

/// One session's folder.
pub struct Files {
    dir: PathBuf,
    /// How far `events.jsonl` has been read, and the start of a line not
    /// yet complete.
    events_read: u64,
    partial: String,
}

impl Files {
    /// A fresh folder for a session at `dir`, open to the container's user.
    pub fn create(dir: &Path) -> anyhow::Result<Files> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot empty {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
            .with_context(|| format!("cannot open up {}", dir.display()))?;
        Ok(Files {
            dir: dir.to_path_buf(),
            events_read: 0,
            partial: String::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `collected.json`, once the session has written it.
    pub fn collected(&self) -> anyhow::Result<Option<Collected>> {
        let Some(said) = self.read("collected.json")? else {
            return Ok(None);
        };
        let protocol = said["protocol"].as_u64();
        if protocol != Some(PROTOCOL) {
            bail!(
                "the session speaks protocol {protocol:?}, stack-run {PROTOCOL}: a plugin of another version"
            );
        }
        let errors = said["collection_errors"].as_array().into_iter().flatten();
        Ok(Some(Collected {
            ids: strings(&said["ids"]),
            pytest: said["pytest"].as_str().unwrap_or("?").to_string(),
            pytest_cov: said["pytest_cov"].as_str().map(String::from),
            cov_active: said["cov_active"].as_bool().unwrap_or(false),
            warnings: strings(&said["warnings"]),
            collection_errors: errors
                .map(|e| (text(&e["id"]), text(&e["message"])))
                .collect(),
        }))
    }

    /// Send batch `batch`: run `ids`, in this order, the JUnit report to
    /// `junit` (a path the session sees).
    pub fn send(&self, batch: u32, ids: &[String], junit: &str) -> anyhow::Result<()> {
        self.write(
            &format!("batch-{batch}.json"),
            &json!({"ids": ids, "junit": junit}),
        )
    }

    /// `batch-N.done.json`, once the session has written it.
    pub fn done(&self, batch: u32) -> anyhow::Result<Option<Done>> {
        let Some(said) = self.read(&format!("batch-{batch}.done.json"))? else {
            return Ok(None);
        };
        let counts = said["counts"].as_object().into_iter().flatten();
        let problems = ["error", "junit_error", "coverage_error"];
        Ok(Some(Done {
            counts: counts
                .map(|(outcome, n)| (outcome.clone(), n.as_u64().unwrap_or(0)))
                .collect(),
            not_found: strings(&said["not_found"]),
            not_run: strings(&said["not_run"]),
            problems: problems
                .iter()
                .filter_map(|key| said[key].as_str().map(String::from))
                .collect(),
        }))
    }

    /// The tests' events written since the last call.
    pub fn events(&mut self) -> Vec<TestEvent> {
        let path = self.dir.join("events.jsonl");
        let Ok(mut file) = std::fs::File::open(&path) else {
            return Vec::new();
        };
        let mut fresh = String::new();
        if file.seek(SeekFrom::Start(self.events_read)).is_err()
            || file.read_to_string(&mut fresh).is_err()
        {
            return Vec::new();
        }
        self.events_read += fresh.len() as u64;
        self.partial.push_str(&fresh);
        let complete = match self.partial.rfind('\n') {
            Some(end) => self.partial.drain(..=end).collect::<String>(),
            None => return Vec::new(),
        };
        complete.lines().filter_map(event).collect()
    }

    /// Ask the session to finish once it has no batch waiting.
    pub fn stop(&self) -> anyhow::Result<()> {
        let path = self.dir.join("stop");
        std::fs::write(&path, "").with_context(|| format!("cannot write {}", path.display()))
    }

    fn read(&self, name: &str) -> anyhow::Result<Option<Value>> {
        let path = self.dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{}: not the session's JSON", path.display()))
    }

    /// Write `name` whole: a scratch file renamed, as the session writes its own.
    fn write(&self, name: &str, value: &Value) -> anyhow::Result<()> {
        let (path, scratch) = (self.dir.join(name), self.dir.join(format!(".{name}.tmp")));
        std::fs::write(&scratch, value.to_string() + "\n")
            .and_then(|()| std::fs::rename(&scratch, &path))
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// One line of `events.jsonl`, if it is a test's start or end.
fn event(line: &str) -> Option<TestEvent> {
    let said: Value = serde_json::from_str(line).ok()?;
    let batch = u32::try_from(said["batch"].as_u64()?).ok()?;
    let id = said["id"].as_str()?.to_string();
    match said["event"].as_str()? {
        "test_started" => Some(TestEvent::Started { batch, id }),
        "test_ended" => Some(TestEvent::Ended(Ended {
            batch,
            id,
            outcome: said["outcome"].as_str()?.to_string(),
            seconds: said["duration"].as_f64().unwrap_or(0.0),
            message: said["message"].as_str().map(String::from),
            details: said["details"].as_str().map(String::from),
        })),
        _ => None,
    }
}

fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().into_iter().flatten();
    items.filter_map(|v| v.as_str().map(String::from)).collect()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_a_whole_line_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Files::create(&dir.path().join("s")).unwrap();
        let log = files.dir().join("events.jsonl");
        let started = r#"{"event": "test_started", "t": 1.0, "batch": 2, "id": "t.py::a"}"#;
        std::fs::write(&log, format!("{started}\n{{\"event\": \"test_en")).unwrap();
        assert_eq!(
            files.events(),
            [TestEvent::Started {
                batch: 2,
                id: "t.py::a".into()
            }]
        );
        let rest = r#"ded", "t": 2.0, "batch": 2, "id": "t.py::a", "outcome": "failed", "duration": 0.5, "phase": "call", "reruns": 0, "message": "assert 1 == 2", "details": "def test_a():\n>  assert 1 == 2"}"#;
        let end = r#"{"event": "batch_ended", "t": 2.1, "batch": 2, "counts": {}}"#;
        let mut text = std::fs::read_to_string(&log).unwrap();
        text.push_str(&format!("{rest}\n{end}\n"));
        std::fs::write(&log, text).unwrap();
        assert_eq!(
            files.events(),
            [TestEvent::Ended(Ended {
                batch: 2,
                id: "t.py::a".into(),
                outcome: "failed".into(),
                seconds: 0.5,
                message: Some("assert 1 == 2".into()),
                details: Some("def test_a():\n>  assert 1 == 2".into()),
            })]
        );
        assert_eq!(files.events(), []);
    }

    #[test]
    fn a_batch_is_sent_whole_and_its_end_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::create(&dir.path().join("s")).unwrap();
        files
            .send(3, &["a::b".into()], "/out/shard-3/junit.xml")
            .unwrap();
        let sent: Value = serde_json::from_str(
            &std::fs::read_to_string(files.dir().join("batch-3.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            sent,
            json!({"ids": ["a::b"], "junit": "/out/shard-3/junit.xml"})
        );
        assert!(files.done(3).unwrap().is_none());
        let done = json!({"batch": 3, "counts": {"passed": 1, "failed": 0}, "not_found": ["x"],
            "not_run": [], "junit_error": null, "coverage_error": "disk full", "error": null});
        std::fs::write(files.dir().join("batch-3.done.json"), done.to_string()).unwrap();
        let done = files.done(3).unwrap().unwrap();
        assert_eq!(done.counts["passed"], 1);
        assert_eq!(done.not_found, ["x"]);
        assert_eq!(done.problems, ["disk full"]);
    }

    #[test]
    fn a_session_of_another_protocol_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::create(&dir.path().join("s")).unwrap();
        std::fs::write(
            files.dir().join("collected.json"),
            r#"{"protocol": 2, "ids": []}"#,
        )
        .unwrap();
        let err = files.collected().err().unwrap().to_string();
        assert!(err.contains("protocol Some(2), stack-run 1"), "{err}");
    }
}
