//! Merging the reports of shards, as `coverage combine` would.
//!
//! A statement ran if it ran in any shard; an exit was missed only if every
//! shard that measured the file missed it. Every step is a union, an
//! intersection, a sum or a maximum, so the result does not depend on the
//! order of the inputs. Exits only counted, not named, merge to a lower bound
//! of the truth: the fewest misses any shard saw.

use std::collections::BTreeSet;

use anyhow::{Context, bail};

use super::model::{Branch, EXIT, FileCov, Meta, Region, Report, Target};
use crate::count::{self, Overflow};

/// A `--map FROM=TO` rule: paths starting with FROM start with TO instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMap {
    pub from: String,
    pub to: String,
}

impl std::str::FromStr for PathMap {
    type Err = String;

    fn from_str(text: &str) -> Result<PathMap, String> {
        match text.split_once('=') {
            Some((from, to)) if !from.is_empty() => Ok(PathMap {
                from: from.trim_end_matches('/').to_string(),
                to: to.trim_end_matches('/').to_string(),
            }),
            _ => Err(format!("expected FROM=TO, got {text:?}")),
        }
    }
}

/// Rewrite `path` by the first rule whose FROM is a whole-component prefix of it.
pub fn map_path(path: &str, maps: &[PathMap]) -> String {
    let Some((map, rest)) =
        matching_rule(path, maps).map(|i| (&maps[i], &path[maps[i].from.len()..]))
    else {
        return path.to_string();
    };
    match (map.to.as_str(), rest.trim_start_matches('/')) {
        (".", "") | ("", "") => ".".to_string(),
        (".", rest) | ("", rest) => rest.to_string(),
        (to, "") => to.to_string(),
        (to, rest) => format!("{to}/{rest}"),
    }
}

/// The index of the rule [`map_path`] rewrites `path` by, if any.
pub fn matching_rule(path: &str, maps: &[PathMap]) -> Option<usize> {
    maps.iter().position(|map| {
        path.strip_prefix(&map.from)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || map.from.is_empty())
    })
}

/// Apply the path rules to a report's file names and sources; files that
/// become one are merged.
pub fn map_report(report: Report, maps: &[PathMap]) -> Result<Report, Overflow> {
    if maps.is_empty() {
        return Ok(report);
    }
    let Report {
        files,
        branch,
        sources,
        meta,
    } = report;
    let mut mapped = Report {
        branch,
        sources: sources.iter().map(|s| map_path(s, maps)).collect(),
        meta,
        ..Report::default()
    };
    let hit_counts = mapped.meta.hit_counts;
    for (name, file) in files {
        let name = map_path(&name, maps);
        match mapped.files.remove(&name) {
            Some(mut known) => {
                merge_file(&mut known, file, hit_counts)?;
                mapped.files.insert(name, known);
            }
            None => {
                mapped.files.insert(name, file);
            }
        }
    }
    Ok(mapped)
}

/// Merge `other` into `into`. `names` say which inputs they came from, for
/// the error of mixing branch with statement-only data.
pub fn merge(into: &mut Report, other: Report, names: (&str, &str)) -> anyhow::Result<()> {
    if into.branch != other.branch && !into.files.is_empty() && !other.files.is_empty() {
        let (branchy, plain) = if into.branch {
            names
        } else {
            (names.1, names.0)
        };
        bail!(
            "cannot combine branch coverage data ({branchy}) with statement data ({plain}): \
             measure every shard with --branch, or none"
        );
    }
    into.branch |= other.branch;
    into.meta = merge_meta(&into.meta, other.meta);
    into.sources.extend(other.sources);
    let hit_counts = into.meta.hit_counts;
    for (name, file) in other.files {
        match into.files.get_mut(&name) {
            Some(known) => merge_file(known, file, hit_counts)
                .with_context(|| format!("{}: the hit counts of {name}", names.1))?,
            None => {
                into.files.insert(name, file);
            }
        }
    }
    Ok(())
}

fn merge_meta(a: &Meta, b: Meta) -> Meta {
    Meta {
        precision: a.precision.max(b.precision),
        version: newest(a.version.clone(), b.version),
        json_format: match (a.json_format, b.json_format) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        },
        timestamp_us: a.timestamp_us.max(b.timestamp_us),
        hit_counts: a.hit_counts || b.hit_counts,
        unidentified_branches: a.unidentified_branches || b.unidentified_branches,
    }
}

/// The higher of two dotted version numbers.
fn newest(a: Option<String>, b: Option<String>) -> Option<String> {
    fn key(version: &str) -> Vec<(u64, String)> {
        version
            .split('.')
            .map(|part| {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                (digits.parse().unwrap_or(0), part.to_string())
            })
            .collect()
    }
    match (a, b) {
        (Some(a), Some(b)) => Some(if key(&b) > key(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Merge one file's coverage from another shard. Hit counts add up, and a
/// sum past their range is an error.
pub fn merge_file(into: &mut FileCov, other: FileCov, hit_counts: bool) -> Result<(), Overflow> {
    let FileCov {
        lines,
        statements,
        executed_only,
        exits,
        excluded,
        branches,
        unplaced,
        regions,
    } = other;
    for (line, hits) in lines {
        let known = into.lines.entry(line).or_insert(0);
        if hit_counts {
            count::add(known, hits)?;
        } else {
            *known = (*known).max(hits);
        }
    }
    into.statements = into.statements.max(statements);
    into.exits = into.exits.max(exits);
    into.executed_only.extend(executed_only);
    into.excluded.extend(excluded);
    for (line, branch) in branches {
        match into.branches.get_mut(&line) {
            Some(known) => merge_branch(known, branch),
            None => {
                into.branches.insert(line, branch);
            }
        }
    }
    into.unplaced = match (into.unplaced, unplaced) {
        (Some(a), Some(b)) => Some(super::model::Unplaced {
            branches: a.branches.max(b.branches),
            missing: a.missing.min(b.missing),
            partial: a.partial.min(b.partial),
        }),
        (a, b) => a.or(b),
    };
    for (kind, other_regions) in regions {
        let known = into.regions.entry(kind).or_default();
        for region in other_regions {
            merge_region(known, region);
        }
    }
    Ok(())
}

fn merge_region(known: &mut Vec<Region>, region: Region) {
    match known.iter_mut().find(|r| r.name == region.name) {
        Some(same) => {
            same.lines.extend(region.lines);
            same.statements = same.statements.max(region.statements);
            same.exits = same.exits.max(region.exits);
            same.start_line = same.start_line.or(region.start_line);
        }
        None => known.push(region),
    }
}

fn merge_branch(into: &mut Branch, other: Branch) {
    into.exits = into.exits.max(other.exits);
    into.taken.extend(other.taken);
    into.missing = match (into.missing.take(), other.missing) {
        (Some(a), Some(b)) => {
            // Cobertura names every function exit "exit": when one side does,
            // compare exits by that name alone.
            let vague = a.contains(&EXIT) || b.contains(&EXIT);
            Some(&vague_exits(a, vague) & &vague_exits(b, vague))
        }
        (a, b) => a.or(b),
    };
    into.missing_at_most = match (into.missing_at_most, other.missing_at_most) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(missing) = &into.missing {
        let vague = missing.contains(&EXIT);
        into.taken = vague_exits(std::mem::take(&mut into.taken), vague)
            .difference(missing)
            .copied()
            .collect();
    }
}

fn vague_exits(targets: BTreeSet<Target>, vague: bool) -> BTreeSet<Target> {
    if vague {
        targets.into_iter().map(|t| t.max(EXIT)).collect()
    } else {
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(exits: u32, taken: &[Target], missing: &[Target]) -> Branch {
        Branch {
            exits,
            taken: taken.iter().copied().collect(),
            missing: Some(missing.iter().copied().collect()),
            missing_at_most: None,
        }
    }

    #[test]
    fn an_exit_is_missed_only_when_every_shard_missed_it() {
        let mut a = branch(2, &[5], &[7]);
        merge_branch(&mut a, branch(2, &[7], &[5]));
        assert_eq!(a, branch(2, &[5, 7], &[]));
    }

    #[test]
    fn counted_exits_merge_to_the_fewest_misses() {
        let counted = |missing| Branch {
            exits: 4,
            missing_at_most: Some(missing),
            ..Branch::default()
        };
        let mut a = counted(3);
        merge_branch(&mut a, counted(1));
        assert_eq!(a.missing_count(), 1);
    }

    #[test]
    fn cobertura_exit_matches_a_numbered_exit() {
        let mut a = branch(2, &[5], &[-3]);
        merge_branch(&mut a, branch(2, &[], &[5, EXIT]));
        assert_eq!(a.missing, Some([EXIT].into()));
        assert_eq!(a.taken, [5].into());
    }

    #[test]
    fn map_rewrites_whole_components() {
        let maps = [
            "/code=.".parse().unwrap(),
            "/src=/home/me/src".parse().unwrap(),
        ];
        assert_eq!(map_path("/code/shop/cart.py", &maps), "shop/cart.py");
        assert_eq!(map_path("/code", &maps), ".");
        assert_eq!(map_path("/codebase/x.py", &maps), "/codebase/x.py");
        assert_eq!(map_path("/src/a.py", &maps), "/home/me/src/a.py");
    }
}
