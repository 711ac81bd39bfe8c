//! The coverage of a set of source files, as coverage.py understands it.
//!
//! Per file: the statements (each with its hit count), the excluded lines,
//! and for every line with more than one way out, its exits and which of them
//! were missed. The summary numbers, percentages and rates of every report
//! format are derived from this and nothing else, the way coverage.py's
//! `Analysis` and `Numbers` derive them, so every writer agrees with every
//! other and with coverage.py.

use std::collections::{BTreeMap, BTreeSet};

use crate::count::{self, Overflow, Total};

/// A line number, 1-based.
pub type Line = u32;

/// Where a branch goes: a line, or (negative) the exit of the code object that
/// starts on that line, as coverage.py numbers arcs. [`EXIT`] is an exit whose
/// code object is unknown (Cobertura only says "exit").
pub type Target = i64;

/// An exit named only as "exit".
pub const EXIT: Target = 0;

/// The most decimal places a percentage is shown with. coverage.py shows
/// what its `precision` setting says, a handful at most; a report that
/// claims more is refused rather than printed with thousands of zeros.
pub const MAX_PRECISION: usize = 100;

/// The most exits one branch line may have. A real line has a handful (a
/// `match` some hundreds); a Cobertura `condition-coverage` that claims
/// billions is refused, since LCOV output would need a record for each.
pub const MAX_EXITS: u32 = 1 << 16;

/// A whole report: every measured file, by its path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub files: BTreeMap<String, FileCov>,
    /// Branch (arc) data was measured, not only statements.
    pub branch: bool,
    /// Folders the file names are relative to (Cobertura's `<sources>`).
    pub sources: BTreeSet<String>,
    pub meta: Meta,
}

/// What the inputs said about how they were made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// Decimal places of the displayed percentages (coverage.py's `precision`).
    pub precision: usize,
    /// The coverage.py version that wrote the input, when it said.
    pub version: Option<String>,
    /// The JSON report format, when the input was coverage.py JSON.
    pub json_format: Option<u32>,
    /// When the newest input was written, in microseconds since the epoch.
    pub timestamp_us: Option<u64>,
    /// Hits are execution counts to add up (LCOV, most Cobertura writers),
    /// rather than coverage.py's 0 or 1.
    pub hit_counts: bool,
    /// Some branch data carried no identity of the branches: merged branch
    /// coverage is a lower bound.
    pub unidentified_branches: bool,
}

impl Meta {
    /// When the newest input was written, or now when no input said.
    pub fn timestamp_us(&self) -> u64 {
        self.timestamp_us.unwrap_or_else(crate::time::now_us)
    }
}

/// The coverage of one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileCov {
    /// Every statement and how often it ran (0: missed).
    pub lines: BTreeMap<Line, u64>,
    /// How many statements there are, when `lines` holds more: coverage.py
    /// before 7.13.1 listed a docstring as an executed line without counting
    /// it as a statement.
    pub statements: Option<u32>,
    /// Lines reported as executed that are not statements: an excluded line
    /// that ran (coverage.py before 7.13.1 listed those in its JSON).
    pub executed_only: BTreeSet<Line>,
    /// How many branch exits there are, when the exits listed per line are
    /// more or fewer: a `# pragma: no branch` line hides its missed exits,
    /// and coverage.py before 7 listed some impossible arcs as taken.
    pub exits: Option<u32>,
    pub excluded: BTreeSet<Line>,
    /// Lines with more than one exit.
    pub branches: BTreeMap<Line, Branch>,
    /// Branch totals of a report that did not say which line they belong to
    /// (coverage.py JSON before 6.5).
    pub unplaced: Option<Unplaced>,
    /// coverage.py's regions (JSON format 3): "functions", "classes".
    pub regions: BTreeMap<String, Vec<Region>>,
}

/// The exits of one branch line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Branch {
    /// How many exits the line has.
    pub exits: u32,
    /// Exits known to have been taken (may be incomplete).
    pub taken: BTreeSet<Target>,
    /// Exits known to have been missed, when the input named them.
    pub missing: Option<BTreeSet<Target>>,
    /// An upper bound of the missed exits, when the input only counted them.
    pub missing_at_most: Option<u32>,
}

/// File-level branch totals without lines.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Unplaced {
    pub branches: u32,
    pub missing: u32,
    pub partial: u32,
}

/// A function or class of a file: the statements and excluded lines in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Region {
    pub name: String,
    pub start_line: Option<Line>,
    pub lines: BTreeSet<Line>,
    /// How many statements the region has, when `lines` holds more (see
    /// [`FileCov::statements`]).
    pub statements: Option<u32>,
    /// How many branch exits the region has (see [`FileCov::exits`]).
    pub exits: Option<u32>,
}

impl Branch {
    /// How many exits were missed.
    pub fn missing_count(&self) -> u32 {
        let named = self.missing.as_ref().map(|m| m.len() as u32);
        match (named, self.missing_at_most) {
            (Some(named), Some(bound)) => named.min(bound),
            (Some(named), None) => named,
            (None, Some(bound)) => bound,
            (None, None) => 0,
        }
        .min(self.exits)
    }

    pub fn taken_count(&self) -> u32 {
        self.exits - self.missing_count()
    }
}

impl FileCov {
    pub fn executed(&self, line: Line) -> bool {
        self.lines.get(&line).is_some_and(|&hits| hits > 0)
    }

    /// The numbers of the whole file. The counts a report declared
    /// replace those of its lines, but never below what was missed (the
    /// readers refuse a report that says otherwise).
    pub fn numbers(&self, precision: usize) -> Result<Numbers, Overflow> {
        let mut numbers = self.numbers_where(precision, |_| true)?;
        if let Some(statements) = self.statements {
            numbers.n_statements = statements.max(numbers.n_missing);
        }
        if let Some(exits) = self.exits {
            numbers.n_branches = exits.max(numbers.n_missing_branches);
        }
        // Placed branches from another shard describe the file better.
        if let Some(unplaced) = self.unplaced.filter(|_| self.branches.is_empty()) {
            count::add(&mut numbers.n_branches, unplaced.branches)?;
            count::add(&mut numbers.n_missing_branches, unplaced.missing)?;
            count::add(&mut numbers.n_partial_branches, unplaced.partial)?;
        }
        Ok(numbers)
    }

    /// The numbers of one region of the file.
    pub fn region_numbers(&self, precision: usize, region: &Region) -> Result<Numbers, Overflow> {
        let mut numbers = self.numbers_where(precision, |line| region.lines.contains(&line))?;
        if let Some(statements) = region.statements {
            numbers.n_statements = statements.max(numbers.n_missing);
        }
        if let Some(exits) = region.exits {
            numbers.n_branches = exits.max(numbers.n_missing_branches);
        }
        Ok(numbers)
    }

    /// The numbers of the lines for which `keep` holds, as coverage.py
    /// narrows an analysis to a region.
    pub fn numbers_where(
        &self,
        precision: usize,
        keep: impl Fn(Line) -> bool,
    ) -> Result<Numbers, Overflow> {
        let mut numbers = Numbers {
            precision,
            n_files: 1,
            ..Numbers::default()
        };
        for (&line, &hits) in &self.lines {
            if keep(line) {
                count::add(&mut numbers.n_statements, 1)?;
                count::add(&mut numbers.n_missing, u32::from(hits == 0))?;
            }
        }
        let excluded = self.excluded.iter().filter(|&&l| keep(l)).count();
        numbers.n_excluded = u32::try_from(excluded).map_err(|_| Overflow {
            limit: u32::MAX.to_string(),
        })?;
        for (&line, branch) in &self.branches {
            if keep(line) && branch.exits > 1 {
                let missing = branch.missing_count();
                count::add(&mut numbers.n_branches, branch.exits)?;
                count::add(&mut numbers.n_missing_branches, missing)?;
                if self.executed(line) {
                    count::add(&mut numbers.n_partial_branches, missing)?;
                }
            }
        }
        Ok(numbers)
    }

    /// Missed exits by line, as coverage.py's `missing_branch_arcs`.
    pub fn missing_arcs(&self) -> impl Iterator<Item = (Line, Target)> + '_ {
        self.branch_lines()
            .flat_map(|(line, branch)| branch.missing.iter().flatten().map(move |&to| (line, to)))
    }

    /// Taken exits by line, as coverage.py's `executed_branch_arcs`.
    pub fn taken_arcs(&self) -> impl Iterator<Item = (Line, Target)> + '_ {
        self.branch_lines()
            .flat_map(|(line, branch)| branch.taken.iter().map(move |&to| (line, to)))
    }

    /// Lines with more than one exit.
    pub fn branch_lines(&self) -> impl Iterator<Item = (Line, &Branch)> {
        self.branches
            .iter()
            .filter(|(_, branch)| branch.exits > 1)
            .map(|(&line, branch)| (line, branch))
    }
}

/// coverage.py's `Numbers`: the counts every summary is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Numbers {
    pub precision: usize,
    pub n_files: u32,
    pub n_statements: u32,
    pub n_excluded: u32,
    pub n_missing: u32,
    pub n_branches: u32,
    pub n_partial_branches: u32,
    pub n_missing_branches: u32,
}

impl Numbers {
    /// Add another file's numbers: the one place totals are made.
    pub fn add(&mut self, other: &Numbers) -> Result<(), Overflow> {
        *self = Numbers {
            precision: self.precision,
            n_files: self.n_files.plus(other.n_files)?,
            n_statements: self.n_statements.plus(other.n_statements)?,
            n_excluded: self.n_excluded.plus(other.n_excluded)?,
            n_missing: self.n_missing.plus(other.n_missing)?,
            n_branches: self.n_branches.plus(other.n_branches)?,
            n_partial_branches: self.n_partial_branches.plus(other.n_partial_branches)?,
            n_missing_branches: self.n_missing_branches.plus(other.n_missing_branches)?,
        };
        Ok(())
    }

    /// Statements that ran. What was missed is never more than what there
    /// is: [`FileCov::numbers`] keeps it so, and sums keep it too.
    pub fn n_executed(&self) -> u32 {
        self.n_statements.saturating_sub(self.n_missing)
    }

    pub fn n_executed_branches(&self) -> u32 {
        self.n_branches.saturating_sub(self.n_missing_branches)
    }

    /// Statements and branches covered, in percent.
    pub fn pc_covered(&self) -> f64 {
        percent(
            self.n_executed() + self.n_executed_branches(),
            self.n_statements + self.n_branches,
        )
    }

    pub fn pc_statements(&self) -> f64 {
        percent(self.n_executed(), self.n_statements)
    }

    pub fn pc_branches(&self) -> f64 {
        percent(self.n_executed_branches(), self.n_branches)
    }

    pub fn pc_covered_str(&self) -> String {
        display_covered(self.pc_covered(), self.precision)
    }

    pub fn pc_statements_str(&self) -> String {
        display_covered(self.pc_statements(), self.precision)
    }

    pub fn pc_branches_str(&self) -> String {
        display_covered(self.pc_branches(), self.precision)
    }
}

/// A percentage computed in the same floating-point steps as coverage.py.
fn percent(numerator: u32, denominator: u32) -> f64 {
    if denominator > 0 {
        (100.0 * f64::from(numerator)) / f64::from(denominator)
    } else {
        100.0
    }
}

/// coverage.py's `display_covered`: rounded to `precision` places, but never
/// shown as 0 or 100 unless it is exactly that.
pub fn display_covered(pc: f64, precision: usize) -> String {
    let near0 = 1.0 / 10f64.powi(precision as i32);
    let pc = if 0.0 < pc && pc < near0 {
        near0
    } else if (100.0 - near0) < pc && pc < 100.0 {
        100.0 - near0
    } else {
        pc
    };
    // Rust, like Python, rounds the exact binary value half to even.
    format!("{pc:.precision$}")
}

/// Cobertura's rates as coverage.py writes them: four significant digits,
/// never 0 or 1 unless exact.
pub fn rate(hit: u32, num: u32) -> String {
    if num == 0 || hit == num {
        return "1".into();
    }
    if hit == 0 {
        return "0".into();
    }
    let frac = (f64::from(hit) / f64::from(num)).clamp(0.0001, 0.9999);
    format_g4(frac)
}

/// Python's `f"{x:.4g}"` for 0.0001 <= x < 1: four significant digits, fixed
/// notation, trailing zeros dropped.
fn format_g4(x: f64) -> String {
    let scientific = format!("{x:.3e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is a number");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let text = if exponent >= 0 {
        let point = exponent as usize + 1;
        format!("{}.{}", &digits[..point], &digits[point..])
    } else {
        format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
    };
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// coverage.py's `should_fail_under`: the total, rounded to enough places to
/// represent the threshold, is below it (100 means exactly 100).
pub fn fails_under(total: f64, fail_under: f64, threshold_text: &str, precision: usize) -> bool {
    if fail_under == 100.0 && total != 100.0 {
        return true;
    }
    let places = fail_under_precision(threshold_text, precision);
    let rounded: f64 = format!("{total:.places$}")
        .parse()
        .expect("a formatted float");
    rounded < fail_under
}

/// The places the threshold is compared at: the report's precision, or more
/// when the threshold has more decimals.
pub fn fail_under_precision(threshold_text: &str, precision: usize) -> usize {
    let decimals = threshold_text
        .split_once('.')
        .map_or(0, |(_, frac)| frac.trim_end_matches('0').len());
    precision.max(decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_match_python_g_format() {
        assert_eq!(rate(102, 106), "0.9623");
        assert_eq!(rate(1, 64), "0.01562");
        assert_eq!(rate(1, 2), "0.5");
        assert_eq!(rate(5, 8), "0.625");
        assert_eq!(rate(1, 100_000), "0.0001");
        assert_eq!(rate(99_999, 100_000), "0.9999");
        assert_eq!(rate(0, 3), "0");
        assert_eq!(rate(0, 0), "1");
        assert_eq!(rate(2, 3), "0.6667");
    }

    #[test]
    fn display_is_never_rounded_to_0_or_100() {
        assert_eq!(display_covered(99.9, 0), "99");
        assert_eq!(display_covered(0.2, 0), "1");
        assert_eq!(display_covered(100.0, 0), "100");
        assert_eq!(display_covered(92.7536231884058, 0), "93");
        assert_eq!(display_covered(62.5, 0), "62");
        assert_eq!(display_covered(62.5, 2), "62.50");
    }

    #[test]
    fn fail_under_uses_the_thresholds_decimals() {
        assert!(!fails_under(92.75, 93.0, "93", 0));
        assert!(!fails_under(92.75, 92.8, "92.8", 0));
        assert!(fails_under(92.74, 92.8, "92.8", 0));
        assert!(fails_under(99.99, 100.0, "100", 0));
        assert!(!fails_under(100.0, 100.0, "100", 0));
    }

    #[test]
    fn partial_branches_count_exits_of_executed_lines() {
        let mut file = FileCov::default();
        file.lines.extend([(1, 1), (2, 0), (3, 1)]);
        file.branches.insert(
            1,
            Branch {
                exits: 2,
                taken: [2].into(),
                missing: Some([3].into()),
                missing_at_most: None,
            },
        );
        let numbers = file.numbers(0).unwrap();
        assert_eq!(
            (
                numbers.n_branches,
                numbers.n_missing_branches,
                numbers.n_partial_branches
            ),
            (2, 1, 1)
        );
        assert_eq!(numbers.pc_covered_str(), "60");
    }
}
