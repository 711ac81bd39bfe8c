//! Which CI node this job is, read from the variables each CI sets on the
//! jobs of a parallel step, so one `--node auto` works unchanged on all of
//! them. Each CI counts differently (GitLab from 1, CircleCI from 0, …);
//! [`Node`] is always 1-based.
//!
//! The environment comes in as a lookup function, so tests can play any CI.

use std::fmt;

/// One CI node's place among all of them: node `index` of `count`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub index: u32,
    pub count: u32,
}

impl Node {
    /// `I/M`, with 1 <= I <= M.
    pub fn parse(text: &str) -> Result<Node, String> {
        let usage = || format!("{text:?} is not I/M with 1 <= I <= M, e.g. 2/4");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index: u32 = index.trim().parse().map_err(|_| usage())?;
        let count: u32 = count.trim().parse().map_err(|_| usage())?;
        if index == 0 || index > count {
            return Err(usage());
        }
        Ok(Node { index, count })
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Where one CI puts a parallel job's index and the number of jobs.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    pub ci: &'static str,
    pub index: &'static str,
    pub total: &'static str,
    /// The index of the first job: 0 or 1.
    pub base: u32,
}

/// Every source `--node auto` reads, in the order it tries them. The
/// explicit pair comes first, so a matrix value always wins over whatever
/// the CI itself says.
pub const SOURCES: &[Source] = &[
    // GitHub Actions and Jenkins have no such variables: a matrix sets these.
    Source {
        ci: "shardstack",
        index: "SHARDSTACK_NODE_INDEX",
        total: "SHARDSTACK_NODE_TOTAL",
        base: 1,
    },
    // `parallel: N`. Outside a parallel job GitLab sets CI_NODE_TOTAL=1 only.
    Source {
        ci: "GitLab CI",
        index: "CI_NODE_INDEX",
        total: "CI_NODE_TOTAL",
        base: 1,
    },
    // `parallelism: N`.
    Source {
        ci: "CircleCI",
        index: "CIRCLE_NODE_INDEX",
        total: "CIRCLE_NODE_TOTAL",
        base: 0,
    },
    // `parallelism: N` on a command step.
    Source {
        ci: "Buildkite",
        index: "BUILDKITE_PARALLEL_JOB",
        total: "BUILDKITE_PARALLEL_JOB_COUNT",
        base: 0,
    },
    // `parallelism: N` on a job.
    Source {
        ci: "Semaphore",
        index: "SEMAPHORE_JOB_INDEX",
        total: "SEMAPHORE_JOB_COUNT",
        base: 1,
    },
    // `strategy: parallel: N`: System.JobPositionInPhase, System.TotalJobsInPhase.
    Source {
        ci: "Azure Pipelines",
        index: "SYSTEM_JOBPOSITIONINPHASE",
        total: "SYSTEM_TOTALJOBSINPHASE",
        base: 1,
    },
];

/// The node found, and which variables said so.
#[derive(Debug, PartialEq, Eq)]
pub struct Detected {
    pub node: Node,
    pub source: &'static Source,
}

impl fmt::Display for Detected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {} (from {}'s {} and {})",
            self.node, self.source.ci, self.source.index, self.source.total
        )
    }
}

/// This job's node, from the first of [`SOURCES`] whose variables are set
/// (an empty value counts as unset). A job outside any parallel step whose
/// CI sets only the total, to 1, is node 1/1. The error, one line, names
/// the variables looked for, or the variable and the value that are wrong.
pub fn detect(env: impl Fn(&str) -> Option<String>) -> Result<Detected, String> {
    let get = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    for source in SOURCES {
        let node = match (get(source.index), get(source.total)) {
            (None, None) => continue,
            (Some(index), Some(total)) => read(source, &index, &total)?,
            (Some(index), None) => {
                return Err(format!(
                    "{}={index} is set but {} is not",
                    source.index, source.total
                ));
            }
            (None, Some(total)) => {
                let count = count(source, &total)?;
                if count != 1 {
                    return Err(format!(
                        "{}={count} is set but {} is not",
                        source.total, source.index
                    ));
                }
                Node { index: 1, count }
            }
        };
        return Ok(Detected { node, source });
    }
    Err(format!("no CI node variables are set: {}", looked_for()))
}

fn read(source: &Source, index: &str, total: &str) -> Result<Node, String> {
    let count = count(source, total)?;
    let raw: u32 = index
        .trim()
        .parse()
        .map_err(|_| format!("{}={index:?} is not a whole number", source.index))?;
    let last = count - 1 + source.base;
    if raw < source.base || raw > last {
        return Err(format!(
            "{}={raw} is out of range: with {}={count}, {} numbers nodes {} to {last}",
            source.index, source.total, source.ci, source.base
        ));
    }
    Ok(Node {
        index: raw - source.base + 1,
        count,
    })
}

fn count(source: &Source, total: &str) -> Result<u32, String> {
    match total.trim().parse() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(format!(
            "{}={total:?} is not a whole number from 1 up",
            source.total
        )),
    }
}

/// `set SHARDSTACK_NODE_INDEX and …, or run in a parallel job of …`.
fn looked_for() -> String {
    let (explicit, cis) = SOURCES.split_first().expect("SOURCES is not empty");
    let cis: Vec<String> = cis
        .iter()
        .map(|s| format!("{} ({}/{})", s.ci, s.index, s.total))
        .collect();
    format!(
        "set {} and {} (1-based), or run in a parallel job of {}",
        explicit.index,
        explicit.total,
        cis.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_in(vars: &[(&str, &str)]) -> Result<Detected, String> {
        detect(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    fn node(vars: &[(&str, &str)]) -> (Node, &'static str) {
        let detected = detect_in(vars).unwrap();
        (detected.node, detected.source.ci)
    }

    const fn n(index: u32, count: u32) -> Node {
        Node { index, count }
    }

    #[test]
    fn gitlab_counts_from_one() {
        let vars = [("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "3")];
        assert_eq!(node(&vars), (n(1, 3), "GitLab CI"));
        let vars = [("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "3")];
        assert_eq!(node(&vars).0, n(3, 3));
    }

    #[test]
    fn gitlab_job_without_parallel_is_the_only_node() {
        assert_eq!(node(&[("CI_NODE_TOTAL", "1")]), (n(1, 1), "GitLab CI"));
    }

    #[test]
    fn circleci_counts_from_zero() {
        let vars = [("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "4")];
        assert_eq!(node(&vars), (n(1, 4), "CircleCI"));
        let vars = [("CIRCLE_NODE_INDEX", "3"), ("CIRCLE_NODE_TOTAL", "4")];
        assert_eq!(node(&vars).0, n(4, 4));
    }

    #[test]
    fn buildkite_counts_from_zero() {
        let vars = [
            ("BUILDKITE_PARALLEL_JOB", "1"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "2"),
        ];
        assert_eq!(node(&vars), (n(2, 2), "Buildkite"));
    }

    #[test]
    fn semaphore_counts_from_one() {
        let vars = [("SEMAPHORE_JOB_INDEX", "2"), ("SEMAPHORE_JOB_COUNT", "5")];
        assert_eq!(node(&vars), (n(2, 5), "Semaphore"));
    }

    #[test]
    fn azure_counts_from_one() {
        let vars = [
            ("SYSTEM_JOBPOSITIONINPHASE", "2"),
            ("SYSTEM_TOTALJOBSINPHASE", "2"),
        ];
        assert_eq!(node(&vars), (n(2, 2), "Azure Pipelines"));
    }

    #[test]
    fn explicit_variables_win_over_the_ci() {
        let vars = [
            ("CI_NODE_INDEX", "1"),
            ("CI_NODE_TOTAL", "2"),
            ("SHARDSTACK_NODE_INDEX", "3"),
            ("SHARDSTACK_NODE_TOTAL", "4"),
        ];
        assert_eq!(node(&vars), (n(3, 4), "shardstack"));
    }

    #[test]
    fn empty_values_are_unset() {
        let vars = [
            ("SHARDSTACK_NODE_INDEX", ""),
            ("SHARDSTACK_NODE_TOTAL", " "),
            ("CIRCLE_NODE_INDEX", "1"),
            ("CIRCLE_NODE_TOTAL", "2"),
        ];
        assert_eq!(node(&vars), (n(2, 2), "CircleCI"));
    }

    #[test]
    fn nothing_set_names_every_variable() {
        let err = detect_in(&[("CI", "true")]).unwrap_err();
        assert!(!err.contains('\n'));
        for source in SOURCES {
            assert!(err.contains(source.index), "{err}");
            assert!(err.contains(source.total), "{err}");
        }
        assert!(err.starts_with(
            "no CI node variables are set: set SHARDSTACK_NODE_INDEX and \
             SHARDSTACK_NODE_TOTAL (1-based), or run in a parallel job of GitLab CI \
             (CI_NODE_INDEX/CI_NODE_TOTAL), CircleCI"
        ));
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("CIRCLE_NODE_INDEX", "4"), ("CIRCLE_NODE_TOTAL", "4")],
                "CIRCLE_NODE_INDEX=4 is out of range: with CIRCLE_NODE_TOTAL=4, \
                 CircleCI numbers nodes 0 to 3",
            ),
            (
                &[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "2")],
                "CI_NODE_INDEX=0 is out of range: with CI_NODE_TOTAL=2, \
                 GitLab CI numbers nodes 1 to 2",
            ),
            (
                &[("SEMAPHORE_JOB_INDEX", "two"), ("SEMAPHORE_JOB_COUNT", "3")],
                "SEMAPHORE_JOB_INDEX=\"two\" is not a whole number",
            ),
            (
                &[
                    ("BUILDKITE_PARALLEL_JOB", "0"),
                    ("BUILDKITE_PARALLEL_JOB_COUNT", "0"),
                ],
                "BUILDKITE_PARALLEL_JOB_COUNT=\"0\" is not a whole number from 1 up",
            ),
            (
                &[
                    ("SHARDSTACK_NODE_INDEX", "-1"),
                    ("SHARDSTACK_NODE_TOTAL", "2"),
                ],
                "SHARDSTACK_NODE_INDEX=\"-1\" is not a whole number",
            ),
            (
                &[("SHARDSTACK_NODE_INDEX", "2")],
                "SHARDSTACK_NODE_INDEX=2 is set but SHARDSTACK_NODE_TOTAL is not",
            ),
            (
                &[("SYSTEM_TOTALJOBSINPHASE", "3")],
                "SYSTEM_TOTALJOBSINPHASE=3 is set but SYSTEM_JOBPOSITIONINPHASE is not",
            ),
        ];
        for (vars, message) in cases {
            assert_eq!(detect_in(vars).unwrap_err(), *message, "{vars:?}");
        }
    }

    #[test]
    fn detected_says_where_it_came_from() {
        let vars = [("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "2")];
        assert_eq!(
            detect_in(&vars).unwrap().to_string(),
            "node 1/2 (from CircleCI's CIRCLE_NODE_INDEX and CIRCLE_NODE_TOTAL)"
        );
    }

    #[test]
    fn fixed_nodes_parse() {
        assert_eq!(Node::parse("2/4"), Ok(n(2, 4)));
        assert!(Node::parse("0/4").unwrap_err().contains("is not I/M"));
        assert!(Node::parse("5/4").is_err());
        assert!(Node::parse("auto").is_err());
    }
}
