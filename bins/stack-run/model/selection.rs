//! The plan stack-run reads, grouped by shard, and the shards this
//! invocation runs of it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::bail;
use shared::ci::Node;
use shared::plan::Entry;

/// Each shard's planned test ids, in plan order.
pub type Plan = BTreeMap<u32, Vec<String>>;

/// Where each planned id is in the plan: the input's name (`<stdin>` for
/// `-`) and each shard's line numbers, in the order of [`Plan`]'s ids.
pub struct PlanLines {
    name: String,
    lines: BTreeMap<u32, Vec<u64>>,
}

impl PlanLines {
    /// `NAME:LINE` of the `index`th id of `shard`.
    pub fn at(&self, shard: u32, index: usize) -> String {
        format!("{}:{}", self.name, self.lines[&shard][index])
    }
}

/// Read the plan: `SHARD<TAB>ID` lines, or bare ids for one shard; and
/// where each id is in it.
pub fn read_plan(path: &Path) -> anyhow::Result<(Plan, PlanLines)> {
    let input = shared::io::open(path)?;
    let name = input.name.clone();
    let entries = shared::plan::read_numbered(&name, input.reader)?;
    group(&name, entries)
}

fn group(name: &str, entries: Vec<(u64, Entry)>) -> anyhow::Result<(Plan, PlanLines)> {
    let bare = entries.iter().filter(|(_, e)| e.shard.is_none()).count();
    if bare > 0 && bare < entries.len() {
        bail!("{name}: mixes SHARD<TAB>ID lines with bare test ids");
    }
    if entries.is_empty() {
        bail!("{name}: the plan has no tests");
    }
    let mut plan = Plan::new();
    let mut lines = PlanLines {
        name: name.to_string(),
        lines: BTreeMap::new(),
    };
    for (line, entry) in entries {
        let shard = entry.shard.unwrap_or(1);
        plan.entry(shard).or_default().push(entry.id);
        lines.lines.entry(shard).or_default().push(line);
    }
    Ok((plan, lines))
}

/// The shards this invocation runs: all, one (`--shard`), or a CI node's
/// slice (`--node I/M`: shards I, I+M, I+2M, …).
pub fn select(plan: &Plan, node: Option<Node>, shard: Option<u32>) -> anyhow::Result<Vec<u32>> {
    if let Some(shard) = shard {
        if !plan.contains_key(&shard) {
            bail!("the plan has no shard {shard}");
        }
        return Ok(vec![shard]);
    }
    Ok(plan
        .keys()
        .copied()
        .filter(|shard| node.is_none_or(|node| (shard - 1) % node.count == node.index - 1))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(shards: &[(u32, &str)]) -> Plan {
        let entries = shards
            .iter()
            .map(|(shard, id)| Entry {
                shard: Some(*shard),
                id: id.to_string(),
            })
            .enumerate()
            .map(|(index, entry)| (index as u64 + 1, entry))
            .collect();
        group("plan.tsv", entries).unwrap().0
    }

    #[test]
    fn each_id_is_found_at_its_line() {
        let text = "1\ta\n\n2\tb\n1\tc\n";
        let entries = shared::plan::read_numbered("plan.tsv", text.as_bytes()).unwrap();
        let (plan, lines) = group("plan.tsv", entries).unwrap();
        assert_eq!(plan[&1], ["a", "c"]);
        assert_eq!(lines.at(1, 1), "plan.tsv:4");
        assert_eq!(lines.at(2, 0), "plan.tsv:3");
    }

    #[test]
    fn bare_ids_are_one_shard_and_mixing_is_an_error() {
        let bare = vec![
            Entry {
                shard: None,
                id: "a".into(),
            },
            Entry {
                shard: None,
                id: "b".into(),
            },
        ];
        let bare = bare.into_iter().map(|entry| (1, entry)).collect();
        assert_eq!(group("p", bare).unwrap().0[&1], ["a", "b"]);
        let mixed = vec![
            Entry {
                shard: None,
                id: "a".into(),
            },
            Entry {
                shard: Some(2),
                id: "b".into(),
            },
        ];
        let mixed = mixed.into_iter().map(|entry| (1, entry)).collect();
        assert_eq!(
            group("p", mixed).err().unwrap().to_string(),
            "p: mixes SHARD<TAB>ID lines with bare test ids"
        );
    }

    #[test]
    fn nodes_take_every_mth_shard() {
        let plan = plan(&[(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")]);
        let node = |index, count| Some(Node { index, count });
        assert_eq!(select(&plan, node(1, 2), None).unwrap(), [1, 3, 5]);
        assert_eq!(select(&plan, node(2, 2), None).unwrap(), [2, 4]);
        assert_eq!(select(&plan, node(3, 3), None).unwrap(), [3]);
        assert_eq!(select(&plan, None, Some(4)).unwrap(), [4]);
        assert_eq!(select(&plan, None, None).unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(
            select(&plan, None, Some(9)).unwrap_err().to_string(),
            "the plan has no shard 9"
        );
    }
}
