//! The test ids to plan, as `pytest --collect-only -q` prints them.
//!
//! pytest follows the ids with a footer: a blank line, sections under `====`
//! rules (warnings summary, errors) and a count such as `7 tests collected in
//! 0.01s`. Users pipe that output straight in, so the footer is skipped here.
//! A collection error is not: planning part of a suite would lose tests.

use anyhow::bail;

/// The ids of the collected tests, each once, in collection order.
pub struct Collected<'a> {
    pub ids: Vec<&'a str>,
    /// Ids seen again after their first line, and dropped.
    pub duplicates: Vec<&'a str>,
}

/// Read the ids from the text of input `name`.
pub fn parse<'a>(name: &str, text: &'a str) -> anyhow::Result<Collected<'a>> {
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let mut seen = rustc_hash::FxHashSet::with_capacity_and_hasher(lines, Default::default());
    let mut collected = Collected {
        ids: Vec::with_capacity(lines),
        duplicates: Vec::new(),
    };
    let mut footer = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.starts_with('=') {
            if line.trim_matches(['=', ' ']) == "ERRORS" {
                bail!(
                    "{name}:{}: pytest reported errors while collecting; fix them first, or some tests would never run",
                    index + 1
                );
            }
            footer = true;
        }
        if footer || line.trim().is_empty() || is_count(line) {
            continue;
        }
        if seen.insert(line) {
            collected.ids.push(line);
        } else {
            collected.duplicates.push(line);
        }
    }
    if collected.ids.is_empty() {
        bail!(
            "no test ids in {name} (expected one a line, as `pytest --collect-only -q` prints them)"
        );
    }
    Ok(collected)
}

/// pytest's last line: `7 tests collected in 0.01s`, `4/7 tests collected (3
/// deselected) in 0.01s`, `no tests collected in …`, `no tests ran in …`.
fn is_count(line: &str) -> bool {
    let rest = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == '/');
    let counted = rest.len() < line.len() || line.starts_with("no");
    counted
        && [
            " tests collected",
            " test collected",
            "no tests collected",
            "no tests ran",
        ]
        .iter()
        .any(|phrase| rest.starts_with(phrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_footer_is_skipped() {
        let text = "t.py::a\nt.py::b[x y]\n\n\
            ===== warnings summary =====\nt.py:2\n  UserWarning: boo\n\n\
            -- Docs: https://docs.pytest.org/\n2 tests collected in 0.01s\n";
        let collected = parse("in", text).unwrap();
        assert_eq!(collected.ids, ["t.py::a", "t.py::b[x y]"]);
    }

    #[test]
    fn counts_are_recognised() {
        for line in [
            "7 tests collected in 0.01s",
            "1 test collected in 0.01s",
            "4/7 tests collected (3 deselected) in 0.01s",
            "no tests collected (7 deselected) in 0.01s",
            "no tests ran in 0.01s",
        ] {
            assert!(is_count(line), "{line}");
        }
        assert!(!is_count("tests/test_collected.py::test_a"));
        assert!(!is_count("no_tests_ran.py::test"));
    }

    #[test]
    fn duplicates_are_planned_once() {
        let collected = parse("in", "a\nb\na\r\n").unwrap();
        assert_eq!(collected.ids, ["a", "b"]);
        assert_eq!(collected.duplicates, ["a"]);
    }

    #[test]
    fn collection_errors_stop_the_plan() {
        let err = parse("in", "a\n\n===== ERRORS =====\nE  ImportError\n")
            .err()
            .unwrap();
        assert!(format!("{err}").starts_with("in:3: pytest reported errors while collecting"));
    }
}
