//! The pytest plugin that turns one pytest process into a session serving
//! batches (packaging/pytest/shardstack_session.py): its own tests are
//! Python (tests/python/test_session_plugin.py), each driving a real pytest
//! through the plugin's files. This runs them with the host's Python and
//! pytest (`make setup` installs the pinned pytest, pytest-cov and
//! pytest-xdist; SHARDSTACK_PYTHON picks another interpreter, such as a
//! venv's), strictly: a missing pytest-cov or xdist fails rather than skips.
//! Then junit-merge reads the per-batch JUnit files the plugin wrote, as
//! they are, and finds every test of the generated project exactly once.

use std::process::Command;

use crate::util::{Dir, root, tool};

#[test]
fn the_session_plugins_python_tests_pass_and_its_junit_merges() {
    let dir = Dir::new();
    let python = std::env::var("SHARDSTACK_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "tests/python",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
        ])
        .arg(format!("--basetemp={}", dir.join("tmp").display()))
        .current_dir(root())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SHARDSTACK_SESSION_TESTS_STRICT", "1")
        .env("SHARDSTACK_SESSION_KEEP_JUNIT", dir.join("junit"))
        .env_remove("SHARDSTACK_SESSION_DIR")
        .env_remove("PYTEST_ADDOPTS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} -m pytest (make setup): {e}"));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{python} -m pytest tests/python failed:\n{printed}"
    );

    // Every test of the generated project ran in one of the two batches.
    let plan = dir.write(
        "plan",
        [
            "test_module.py::TestGroup::test_a",
            "test_module.py::TestGroup::test_b",
            "test_outcomes.py::test_pass",
            "test_outcomes.py::test_fail",
            "test_outcomes.py::test_setup_error",
            "test_outcomes.py::test_teardown_error",
            "test_outcomes.py::test_skip",
            "test_outcomes.py::test_xfail",
            "test_outcomes.py::test_xpass",
        ]
        .join("\n")
            + "\n",
    );
    let merged = tool("junit-merge")
        .arg("--expect")
        .arg(&plan)
        .arg(dir.join("junit"))
        .succeeds();
    assert!(
        !merged.stderr.contains("no result") && !merged.stderr.contains("disagree"),
        "junit-merge: {}",
        merged.stderr
    );
    let start = merged
        .stdout
        .find("<testsuites")
        .expect("a <testsuites> root");
    let root_tag = &merged.stdout[start..start + merged.stdout[start..].find('>').unwrap()];
    for needle in [
        r#"tests="9""#,
        r#"failures="1""#,
        r#"errors="2""#,
        r#"skipped="2""#,
    ] {
        assert!(
            root_tag.contains(needle),
            "no {needle} in the merged report's root:\n{}",
            merged.stdout
        );
    }
}
