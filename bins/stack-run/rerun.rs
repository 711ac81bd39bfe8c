//! `--rerun-failed`: a failed shard's failed tests get a second attempt in a
//! fresh stack, so a test that only failed because of state another test
//! left behind can be told from one that is really broken.
//!
//! The failed tests come from the JUnit reports the command left in the
//! shard's folder, mapped back to the shard's planned ids; the rerun writes
//! its own reports under `OUT/shard-K/rerun`, where junit-merge finds them.

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use shared::junit::read::{Event, Reader, has_junit_root};
use shared::nodeid::junit_key;
use shared::results::{Rerun, ShardResult, Status};

use crate::derive::OUT_MOUNT;
use crate::run::Run;
use crate::shard::{Attempt, run_attempt};

/// The rerun's folder, inside the shard's.
pub const RERUN_DIR: &str = "rerun";

/// If `result` is a failed shard, rerun its failed tests and record how it went.
pub fn rerun_failures(run: &Run, planned: &[String], result: &mut ShardResult) {
    if result.status != Status::Failed || run.stop.requested() {
        return;
    }
    let shard = result.shard;
    let shard_dir = run.shard_dir(shard);
    let failed = match failed_tests(&shard_dir, planned) {
        Ok(failed) if failed.is_empty() => {
            run.progress.note(&format!(
                "shard {shard}: no failed test of its plan in its JUnit reports; nothing to rerun"
            ));
            return;
        }
        Ok(failed) => failed,
        Err(err) => {
            run.progress
                .note(&format!("shard {shard}: cannot rerun: {err:#}"));
            return;
        }
    };
    let dir = shard_dir.join(RERUN_DIR);
    if let Err(err) = prepare(&dir, &failed) {
        run.progress
            .note(&format!("shard {shard}: cannot rerun: {err:#}"));
        return;
    }
    run.progress.note(&format!(
        "shard {shard}: rerunning {} failed test(s) in a fresh stack",
        failed.len()
    ));
    let attempt = Attempt {
        project: format!("{}-rerun", run.project(shard)),
        dir,
        tests: format!("{OUT_MOUNT}/{RERUN_DIR}/tests.txt"),
        out: format!("{OUT_MOUNT}/{RERUN_DIR}"),
    };
    let second = run_attempt(run, shard, failed.len(), &attempt);
    result.rerun = Some(Rerun {
        project: second.project,
        status: second.status,
        exit_code: second.exit_code,
        tests: second.tests,
        up_seconds: second.up_seconds,
        run_seconds: second.run_seconds,
        down_seconds: second.down_seconds,
        out: second.out,
        message: second.message,
    });
}

/// The rerun's folder, open to the container's user, with its id file.
fn prepare(dir: &Path, failed: &[String]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
        .with_context(|| format!("cannot open up {}", dir.display()))?;
    let ids = dir.join("tests.txt");
    std::fs::write(&ids, failed.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", ids.display()))
}

/// The planned ids of the tests that failed or broke, in plan order, from
/// every JUnit report directly in `dir`. Other XML there (a coverage.xml)
/// is skipped.
pub fn failed_tests(dir: &Path, planned: &[String]) -> anyhow::Result<Vec<String>> {
    let mut keys: HashMap<(String, String), usize> = HashMap::new();
    for (index, id) in planned.iter().enumerate() {
        keys.entry(junit_key(id)).or_insert(index);
    }
    let mut failed = BTreeSet::new();
    for path in reports(dir)? {
        let name = path.display().to_string();
        let mut reader = Reader::open(&path, &name)?;
        while let Some(event) = reader.next_event()? {
            let Event::Case(case) = event else { continue };
            if case.outcome().is_failure() {
                if let Some(&index) = keys.get(&(case.classname, case.name)) {
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
