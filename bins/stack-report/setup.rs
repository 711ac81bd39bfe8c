//! Each shard's session setup, from the JUnit reports in its folder.
//!
//! pytest charges a session fixture (pytest-django's test database) to the
//! first test of the session, so the merged report alone would list that
//! test among the slowest and hide the shard's largest fixed cost. Each
//! shard's own reports say which test ran first; `shared::setup` says how
//! much of its time was setup.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use shared::junit::read::{Event, Reader};
use shared::nodeid::from_junit;
use shared::results::ShardResult;
use shared::setup::{First, split_first_tests};

/// Session setup by shard, and by the test that was charged with it.
#[derive(Default)]
pub struct Setups {
    pub by_shard: BTreeMap<u32, f64>,
    /// The first tests' ids (as the summary names them) and their setup share.
    pub by_test: HashMap<String, f64>,
}

/// Read the first attempts' reports (`*.xml` directly in each shard's
/// folder, found from the current folder or beside the results file).
/// Shards whose reports cannot be read have no setup.
pub fn read(results: &[ShardResult], results_file: Option<&Path>) -> Setups {
    let mut ids = Vec::new();
    let mut seconds = Vec::new();
    let mut firsts = Vec::new();
    for result in results {
        let Some(folder) = find(&result.first.folder, results_file) else {
            continue;
        };
        for report in reports_in(&folder) {
            let _ = read_report(&report, result.shard, &mut ids, &mut seconds, &mut firsts);
        }
    }
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let recorded = seconds.clone();
    let split = split_first_tests(&id_refs, &mut seconds, &firsts);
    let mut setups = Setups::default();
    for (shard, setup) in split {
        *setups.by_shard.entry(shard).or_insert(0.0) += setup;
    }
    for first in &firsts {
        if let (Some(recorded), Some(own)) = (recorded[first.test], seconds[first.test]) {
            if recorded > own {
                setups
                    .by_test
                    .insert(ids[first.test].clone(), recorded - own);
            }
        }
    }
    setups
}

/// Cases in order; the first of each suite opened a session of `shard`.
fn read_report(
    path: &Path,
    shard: u32,
    ids: &mut Vec<String>,
    seconds: &mut Vec<Option<f64>>,
    firsts: &mut Vec<First>,
) -> anyhow::Result<()> {
    let mut reader = Reader::open(path, &path.display().to_string())?;
    let mut suite_begins = true;
    while let Some(event) = reader.next_event()? {
        match event {
            Event::Case(case) => {
                if suite_begins {
                    firsts.push(First {
                        test: ids.len(),
                        session: shard,
                    });
                    suite_begins = false;
                }
                ids.push(match &case.file {
                    Some(file) => from_junit(file, &case.classname, &case.name),
                    None if case.classname.is_empty() => case.name.clone(),
                    None => format!("{}::{}", case.classname, case.name),
                });
                seconds.push(case.time.map(|t| t.as_secs_f64()));
            }
            Event::Suite { .. } => suite_begins = true,
            Event::Xml { .. } => {}
        }
    }
    Ok(())
}

/// A shard's folder as the results line names it: from here, else from
/// the results file's folder.
fn find(folder: &str, results_file: Option<&Path>) -> Option<PathBuf> {
    let here = PathBuf::from(folder);
    if here.is_dir() {
        return Some(here);
    }
    let beside = results_file?.parent()?.join(folder);
    beside.is_dir().then_some(beside)
}

/// The `*.xml` files directly in `folder`, in name order.
fn reports_in(folder: &Path) -> Vec<PathBuf> {
    let mut reports: Vec<PathBuf> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "xml"))
        .collect();
    reports.sort();
    reports
}
