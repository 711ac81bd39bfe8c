//! What the fuzz targets share: a scratch file for the readers that take a
//! path, and the views of a coverage report that its round trips compare.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use shared::coverage::Report;
use shared::coverage::model::{FileCov, Line, Numbers, Target};

/// A file holding one input, removed when dropped. The XML readers read
/// their input again by path to place an error at its line and column, and
/// the durations reader opens a path: the file lets the fuzzer reach that
/// code too. It is named after the process, which runs one input at a time,
/// and goes to memory (/dev/shm) where there is one: a write to disk can
/// cost a millisecond, most of an input's time.
pub struct ScratchFile {
    pub path: PathBuf,
}

impl ScratchFile {
    pub fn new(data: &[u8]) -> ScratchFile {
        static PATH: OnceLock<PathBuf> = OnceLock::new();
        let path = PATH.get_or_init(|| {
            let shm = Path::new("/dev/shm");
            let dir = if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            };
            dir.join(format!("shardstack-fuzz-{}", std::process::id()))
        });
        std::fs::write(path, data).expect("the scratch file can be written");
        ScratchFile { path: path.clone() }
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What every reader's target asks of a report it accepted: each file's
/// numbers add up and print, or say they cannot.
pub fn check_numbers(report: &Report) {
    for file in report.files.values() {
        if let Ok(numbers) = file.numbers(report.meta.precision) {
            assert!(numbers.n_missing <= numbers.n_statements, "{numbers:?}");
            assert!(
                numbers.n_missing_branches <= numbers.n_branches,
                "{numbers:?}"
            );
            let _ = (numbers.pc_covered_str(), numbers.pc_branches_str());
        }
    }
}

/// What a coverage format carries besides the statements and their numbers.
#[derive(Debug, Clone, Copy)]
pub struct Carries {
    /// Excluded lines (coverage.py JSON).
    pub excluded: bool,
    /// Which exits of a branch line were taken, not only which were missed.
    pub taken_arcs: bool,
    /// Function and class regions (JSON format 3).
    pub regions: bool,
}

/// The part of a report that a writer must keep, so that reading what it
/// wrote gives the same: every number a summary shows, the statements (run
/// or missed, or how often where hits are counted), the missed exits, and
/// what else the format carries.
#[derive(Debug, PartialEq)]
pub struct View {
    pub branch: bool,
    pub precision: usize,
    pub files: BTreeMap<String, FileView>,
}

#[derive(Debug, PartialEq)]
pub struct FileView {
    pub numbers: Numbers,
    pub lines: BTreeMap<Line, u64>,
    pub missing_arcs: Vec<(Line, Target)>,
    pub taken_arcs: Option<Vec<(Line, Target)>>,
    pub excluded: Option<BTreeSet<Line>>,
    /// Each region's name, start line and numbers, by kind.
    pub regions: Option<BTreeMap<String, Vec<RegionView>>>,
}

/// A region's name, start line and numbers.
pub type RegionView = (String, Option<Line>, Numbers);

impl View {
    /// The view of `report`; `None` where its numbers add up past their
    /// range, which every writer refuses.
    pub fn of(report: &Report, carries: Carries) -> Option<View> {
        let precision = report.meta.precision;
        let mut files = BTreeMap::new();
        for (name, file) in &report.files {
            let numbers = file.numbers(precision).ok()?;
            let lines = file
                .lines
                .iter()
                .map(|(&line, &hits)| {
                    let hits = if report.meta.hit_counts {
                        hits
                    } else {
                        hits.min(1)
                    };
                    (line, hits)
                })
                .collect();
            let regions = match carries.regions {
                false => None,
                true => {
                    let mut kinds = BTreeMap::new();
                    for (kind, regions) in &file.regions {
                        let mut views = Vec::new();
                        for region in regions {
                            let numbers = file.region_numbers(precision, region).ok()?;
                            views.push((region.name.clone(), region.start_line, numbers));
                        }
                        views.sort_by(|a, b| a.0.cmp(&b.0));
                        kinds.insert(kind.clone(), views);
                    }
                    Some(kinds)
                }
            };
            let view = FileView {
                numbers,
                lines,
                missing_arcs: identified(file.missing_arcs(), file),
                taken_arcs: carries
                    .taken_arcs
                    .then(|| identified(file.taken_arcs(), file)),
                excluded: carries.excluded.then(|| file.excluded.clone()),
                regions,
            };
            files.insert(name.clone(), view);
        }
        Some(View {
            branch: report.branch,
            precision,
            files,
        })
    }
}

/// The arcs of the branch lines whose exits are all named: those merged
/// with another tool's counted exits are written as counts alone.
fn identified(arcs: impl Iterator<Item = (Line, Target)>, file: &FileCov) -> Vec<(Line, Target)> {
    arcs.filter(|(line, _)| file.branches[line].missing_at_most.is_none())
        .collect()
}
