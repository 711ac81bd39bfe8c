//! The JUnit report of a batch whose session ended under it (killed, out of
//! memory, past `--timeout`, interrupted): the session never wrote one, so
//! stack-run writes it from the tests' events. The tests that ended keep
//! their outcomes, times, messages and tracebacks; the one running is an
//! error naming the cause; the tests that had not started, run again by
//! another session, are copied in from its report.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use shared::junit::model::Counts;
use shared::junit::read::{Event as Read, Reader};
use shared::junit::write::{Problem, Writer};
use shared::xml::{Event, is_xml_char};

use crate::model::session::Ended;

/// What became of a batch's tests in the session that ended under it.
pub struct Lost<'a> {
    pub ended: &'a [Ended],
    /// The tests running when a session ended, each with why it ended.
    pub killed: &'a [(String, String)],
    /// Tests that got no other result: errors with this reason.
    pub unreported: &'a [String],
    pub unreported_why: &'a str,
}

/// Write the batch's report to `path`: `lost`'s tests, then the suites of
/// `resumed` (the report of its other tests' second run), if any.
pub fn write(path: &Path, lost: &Lost, resumed: Option<&Path>) -> anyhow::Result<()> {
    let mut totals = lost.counts();
    if let Some(resumed) = resumed {
        let mut reader = Reader::open(resumed, &resumed.display().to_string())?;
        while reader.next_event()?.is_some() {}
        totals.add(&reader.totals())?;
    }
    let scratch = path.with_extension("xml.tmp");
    let file = std::fs::File::create(&scratch)
        .with_context(|| format!("cannot write {}", scratch.display()))?;
    let mut writer = Writer::start(std::io::BufWriter::new(file), &totals)?;
    lost.suite(&mut writer)?;
    if let Some(resumed) = resumed {
        let mut reader = Reader::open(resumed, &resumed.display().to_string())?;
        while let Some(event) = reader.next_event()? {
            match event {
                Read::Xml { event, depth } if depth >= 1 => {
                    if depth == 1 && matches!(event, Event::Start(_) | Event::Empty(_)) {
                        writer.new_child();
                    }
                    writer.event(&event)?;
                }
                _ => {}
            }
        }
    }
    writer.finish()?.flush()?;
    std::fs::rename(&scratch, path).with_context(|| format!("cannot write {}", path.display()))
}

impl Lost<'_> {
    fn counts(&self) -> Counts {
        let mut counts = Counts {
            tests: (self.ended.len() + self.unreported.len()) as u64,
            errors: self.unreported.len() as u64,
            ..Counts::default()
        };
        for test in self.ended {
            match test.outcome.as_str() {
                "failed" => counts.failures += 1,
                "error" => counts.errors += 1,
                "skipped" | "xfailed" => counts.skipped += 1,
                _ => {}
            }
            counts.time += Duration::from_secs_f64(test.seconds.max(0.0));
        }
        counts.tests += self.killed.len() as u64;
        counts.errors += self.killed.len() as u64;
        counts
    }

    fn suite(&self, writer: &mut Writer<impl Write>) -> std::io::Result<()> {
        writer.start_suite("shardstack: session ended", &self.counts())?;
        for test in self.ended {
            let tag = match test.outcome.as_str() {
                "failed" => Some("failure"),
                "error" => Some("error"),
                "skipped" | "xfailed" => Some("skipped"),
                _ => None,
            };
            let said = tag.map(|tag| Problem {
                tag,
                kind: None,
                message: carried(test.message.as_deref().unwrap_or(&test.outcome)),
                details: carried(test.details.as_deref().unwrap_or_default()),
            });
            writer.made_up_case(&test.id, Some(test.seconds), said)?;
        }
        // No time for a test that did not finish.
        for (id, cause) in self.killed {
            writer.made_up_case(id, None, Some(session_ended(cause)))?;
        }
        for id in self.unreported {
            writer.made_up_case(id, None, Some(session_ended(self.unreported_why)))?;
        }
        writer.end_suite()
    }
}

/// An error of stack-run's: the session ended under the test, or before it.
fn session_ended(why: &str) -> Problem {
    Problem {
        tag: "error",
        kind: Some("SessionEnded"),
        message: why.into(),
        details: String::new(),
    }
}

/// `text` with what XML cannot carry (a test's message may hold any
/// character) written as pytest's JUnit report writes it: `#x1B`.
fn carried(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match is_xml_char(c) {
            true => out.push(c),
            false => out.push_str(&format!("#x{:02X}", u32::from(c))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(id: &str, outcome: &str) -> Ended {
        Ended {
            batch: 1,
            id: id.into(),
            outcome: outcome.into(),
            seconds: 0.25,
            message: (outcome != "passed").then(|| format!("{id} {outcome}")),
            details: (outcome == "failed").then(|| "> assert 1 == 2 & 3 < 4 \u{1b}[0m".into()),
        }
    }

    #[test]
    fn every_test_of_the_batch_is_in_the_report_once() {
        let dir = tempfile::tempdir().unwrap();
        let resumed = dir.path().join("resumed.xml");
        std::fs::write(
            &resumed,
            r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="1" time="0.5"><testcase classname="t" name="test_d" time="0.5" /></testsuite></testsuites>"#,
        )
        .unwrap();
        let report = dir.path().join("junit.xml");
        let lost = Lost {
            ended: &[
                ended("t.py::test_a", "passed"),
                ended("t.py::test_b", "failed"),
            ],
            killed: &[(
                "t.py::test_c".into(),
                "the session died under it in stack p-1: exit status 137".into(),
            )],
            unreported: &[],
            unreported_why: "",
        };
        write(&report, &lost, Some(&resumed)).unwrap();
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(
            text.contains(r#"<testsuites tests="4" failures="1" errors="1" skipped="0""#),
            "{text}"
        );
        for name in ["test_a", "test_b", "test_c", "test_d"] {
            assert_eq!(
                text.matches(&format!("name=\"{name}\"")).count(),
                1,
                "{text}"
            );
        }
        assert!(text.contains(r#"<error type="SessionEnded" message="the session died under it in stack p-1: exit status 137"/>"#), "{text}");
        // A failure that ended before the session keeps its own words.
        assert!(
            text.contains(
                r#"<failure message="t.py::test_b failed">&gt; assert 1 == 2 &amp; 3 &lt; 4 #x1B[0m</failure>"#
            ),
            "{text}"
        );
        assert!(!dir.path().join("junit.xml.tmp").exists());
    }

    #[test]
    fn tests_left_unreported_are_errors_saying_why() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("junit.xml");
        let lost = Lost {
            ended: &[],
            killed: &[],
            unreported: &["t.py::T::test_e".into()],
            unreported_why: "not run: a second session ended under this batch too",
        };
        write(&report, &lost, None).unwrap();
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(
            text.contains(r#"classname="t.T" name="test_e" file="t.py">"#),
            "{text}"
        );
        assert!(
            text.contains("a second session ended under this batch too"),
            "{text}"
        );
    }
}
