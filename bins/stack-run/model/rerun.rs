//! `--rerun-failed`: a failed shard's failed tests get a second attempt in a
//! fresh stack, so a test that only failed because of state another test
//! left behind can be told from one that is really broken.
//!
//! This module is the file work: the failed tests come from the JUnit
//! reports the command left in the shard's folder, mapped back to the
//! shard's planned ids. The scheduler runs the second attempt with them; it
//! writes its own reports under `OUT/shard-K/rerun`, where junit-merge finds them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use shared::junit::read::{Event, Reader, has_junit_root};
use shared::nodeid::KeyIndex;

/// The planned ids of the tests that failed or broke, in plan order, from
/// every JUnit report directly in `dir`. Other XML there (a coverage.xml)
/// is skipped.
pub fn failed_tests(dir: &Path, planned: &[String]) -> anyhow::Result<Vec<String>> {
    let keys = KeyIndex::new(planned.iter().map(String::as_str));
    let mut failed = BTreeSet::new();
    for path in reports(dir)? {
        let name = path.display().to_string();
        let mut reader = Reader::open(&path, &name)?;
        while let Some(event) = reader.next_event()? {
            let Event::Case(case) = event else { continue };
            if case.outcome().is_failure() {
                if let Some(index) = keys.find(&case.classname, &case.name) {
                    failed.insert(index);
                }
            }
        }
    }
    Ok(failed.into_iter().map(|i| planned[i].clone()).collect())
}

/// The JUnit reports directly in `dir`, sorted by name.
fn reports(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut reports = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        let is_xml = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("xml"));
        if is_xml && path.is_file() && has_junit_root(&path, &path.display().to_string())? {
            reports.push(path);
        }
    }
    reports.sort();
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_and_broken_cases_map_back_to_planned_ids() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("junit.xml"),
            r#"<testsuites><testsuite name="pytest">
                 <testcase classname="tests.test_a" name="test_ok"/>
                 <testcase classname="tests.test_a" name="test_bad[1]"><failure message="x"/></testcase>
                 <testcase classname="tests.test_b.TestC" name="test_teardown"><error/></testcase>
                 <testcase classname="tests.test_b" name="test_not_planned"><failure/></testcase>
               </testsuite></testsuites>"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("coverage.xml"), "<coverage/>").unwrap();
        let planned: Vec<String> = [
            "tests/test_b.py::TestC::test_teardown",
            "tests/test_a.py::test_ok",
            "tests/test_a.py::test_bad[1]",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            failed_tests(dir.path(), &planned).unwrap(),
            [
                "tests/test_b.py::TestC::test_teardown",
                "tests/test_a.py::test_bad[1]"
            ]
        );
    }
}
