//! stack-run's results: one JSON object per line, one line per shard.
//!
//! stack-run writes them on stdout as each shard ends; reports and merges read
//! them back. The types live here so writer and readers agree on every field.
//! A shard's line holds its first [`Attempt`] flattened (the fields of the line
//! itself) and, after `--rerun-failed`, its second as the `rerun` object: one
//! type, so both carry the same keys in the same order.
//!
//! With `--seed`, a [`SeedResult`] line comes first: the seed's own time and
//! outcome. It has a `seed` field and no `shard` field, so a reader that
//! counts shards by their `shard` field never counts it, and [`ResultLine`]
//! tells the two apart.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::anyhow;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::error::Category;

/// How a shard ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Status {
    /// The command exited 0.
    Passed,
    /// The command ran and reported failing tests (exit status 1).
    Failed,
    /// The stack could not start, or the command crashed (any other status).
    Error,
    /// The shard ran past `--timeout` and was stopped.
    Timeout,
    /// stack-run was interrupted before the shard finished (or started).
    Interrupted,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Passed,
        Status::Failed,
        Status::Error,
        Status::Timeout,
        Status::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Status> for &'static str {
    fn from(status: Status) -> &'static str {
        status.as_str()
    }
}

impl TryFrom<String> for Status {
    type Error = String;

    fn try_from(text: String) -> Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown status {text:?}"))
    }
}

/// One shard's outcome: the line stack-run prints when the shard ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardResult {
    /// 1-based shard number, as in the plan.
    pub shard: u32,
    /// How many shards the plan has.
    pub shards: u32,
    /// The shard's first attempt at its planned tests.
    #[serde(flatten)]
    pub first: Attempt,
    /// When the shard started, in seconds from the start of the run; `None`
    /// in lines from stack-run versions that did not say.
    #[serde(default, serialize_with = "milliseconds_or_null")]
    pub started_seconds: Option<f64>,
    /// The failed tests' second attempt in a fresh stack (`--rerun-failed`).
    #[serde(default)]
    pub rerun: Option<Attempt>,
    /// With `stack-run --stacks`, the shard is a batch and this the stack
    /// that ran it; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<u32>,
}

/// One go at a shard's tests in a stack of its own: the first attempt, or
/// the second attempt at the tests that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The compose project the attempt ran in.
    pub project: String,
    pub status: Status,
    /// The command's exit status; `None` when it never ran or was killed by us.
    pub exit_code: Option<i32>,
    /// How many tests the attempt ran: the shard's planned tests, or the failed ones.
    #[serde(rename = "tests")]
    pub test_count: usize,
    /// Seconds spent starting the stack (sidecars up and ready).
    #[serde(serialize_with = "milliseconds")]
    pub up_seconds: f64,
    /// Seconds the command ran.
    #[serde(serialize_with = "milliseconds")]
    pub run_seconds: f64,
    /// Seconds spent tearing the stack down.
    #[serde(serialize_with = "milliseconds")]
    pub down_seconds: f64,
    /// The attempt's artifact folder on the host (`OUT/shard-K`, or
    /// `OUT/shard-K/rerun` for a second attempt).
    #[serde(rename = "out")]
    pub folder: String,
    /// Why the attempt did not pass, in words, when stack-run knows more than the status.
    pub message: Option<String>,
}

impl Attempt {
    /// Seconds from the stack's start to its teardown's end.
    pub fn total_seconds(&self) -> f64 {
        self.up_seconds + self.run_seconds + self.down_seconds
    }
}

impl ShardResult {
    /// How the shard ended once its rerun is counted: failed tests that all
    /// passed on their second attempt make a passed shard.
    pub fn final_status(&self) -> Status {
        match &self.rerun {
            Some(rerun) if self.first.status == Status::Failed => rerun.status,
            _ => self.first.status,
        }
    }

    /// The JSON line (without the newline), fields in a fixed order so
    /// people and `grep` can read it as easily as programs.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a result is plain data")
    }

    /// Read one results line back; lines of older versions too. Times
    /// must be seconds a run can take: from 0 to [`MAX_SECONDS`].
    pub fn from_json(line: &str) -> anyhow::Result<ShardResult> {
        let result: ShardResult = serde_json::from_str(line).map_err(|err| {
            let text = err.to_string().replace('`', "\"");
            match err.classify() {
                // A wrong field: the caller names the line, the column adds nothing.
                Category::Data => {
                    let message = text.rsplit_once(" at line ").map_or(&*text, |(m, _)| m);
                    anyhow!("{message}")
                }
                _ => anyhow!("not a JSON object: {text}"),
            }
        })?;
        let attempts = std::iter::once(("", &result.first))
            .chain(result.rerun.iter().map(|rerun| ("rerun ", rerun)));
        let times = attempts.flat_map(|(which, attempt)| {
            [
                (which, "up_seconds", attempt.up_seconds),
                (which, "run_seconds", attempt.run_seconds),
                (which, "down_seconds", attempt.down_seconds),
            ]
        });
        let started = result.started_seconds.map(|s| ("", "started_seconds", s));
        for (which, field, seconds) in times.chain(started) {
            if !(0.0..=MAX_SECONDS).contains(&seconds) {
                anyhow::bail!(
                    "{which}{field} {seconds:?} is not from 0 to {MAX_SECONDS:?} seconds"
                );
            }
        }
        Ok(result)
    }
}

/// The seed's outcome (`stack-run --seed`): one line, before any shard's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    /// The seed's key, its first 16 hex digits (the tag of a seed kept with
    /// `--seed-key`); `None` when it could not be computed.
    pub seed: Option<String>,
    /// `passed` once every sidecar's seed image is there (made or found).
    pub status: Status,
    /// Found under its key, made by an earlier run: the command did not run.
    pub reused: bool,
    /// When seeding began, in seconds from the start of the run.
    #[serde(serialize_with = "milliseconds")]
    pub started_seconds: f64,
    /// Seconds seeding took: looking for the seed, and making it if it was not found.
    #[serde(serialize_with = "milliseconds")]
    pub seconds: f64,
    /// Each sidecar's seed image; empty when seeding failed.
    pub images: BTreeMap<String, String>,
    /// The seed command's output on the host, when the command ran.
    pub log: Option<String>,
    /// Why seeding failed, in words.
    pub message: Option<String>,
}

impl SeedResult {
    /// The JSON line (without the newline), fields in a fixed order.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a result is plain data")
    }
}

/// A line of stack-run's results: a shard's (or batch's), or the seed's.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultLine {
    Shard(ShardResult),
    Seed(SeedResult),
}

impl ResultLine {
    /// Read one results line: the seed's has a `seed` field, every other
    /// line is a shard's (see [`ShardResult::from_json`]).
    pub fn from_json(line: &str) -> anyhow::Result<ResultLine> {
        let is_seed = serde_json::from_str::<serde_json::Value>(line)
            .is_ok_and(|value| value.get("seed").is_some());
        if !is_seed {
            return ShardResult::from_json(line).map(ResultLine::Shard);
        }
        let seed: SeedResult =
            serde_json::from_str(line).map_err(|err| anyhow!("bad seed line: {err}"))?;
        for (field, seconds) in [
            ("started_seconds", seed.started_seconds),
            ("seconds", seed.seconds),
        ] {
            if !(0.0..=MAX_SECONDS).contains(&seconds) {
                anyhow::bail!("{field} {seconds:?} is not from 0 to {MAX_SECONDS:?} seconds");
            }
        }
        Ok(ResultLine::Seed(seed))
    }
}

/// The longest time a results line may give (about 31 years): what reads
/// results can add and scale them without overflow or loss of precision.
pub const MAX_SECONDS: f64 = 1e9;

/// Milliseconds are plenty for timings people read.
fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

fn milliseconds<S: Serializer>(seconds: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(round(*seconds))
}

fn milliseconds_or_null<S: Serializer>(
    seconds: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    seconds.map(round).serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt() -> Attempt {
        Attempt {
            project: "shardstack-1a2b3c-s2".into(),
            status: Status::Failed,
            exit_code: Some(1),
            test_count: 120,
            up_seconds: 3.25,
            run_seconds: 41.5,
            down_seconds: 1.125,
            folder: "reports/shard-2".into(),
            message: None,
        }
    }

    fn sample() -> ShardResult {
        ShardResult {
            shard: 2,
            shards: 4,
            first: attempt(),
            started_seconds: Some(12.5),
            rerun: None,
            stack: None,
        }
    }

    fn rerun() -> Attempt {
        Attempt {
            project: "shardstack-1a2b3c-s2-rerun".into(),
            status: Status::Passed,
            exit_code: Some(0),
            test_count: 3,
            up_seconds: 2.0,
            run_seconds: 1.5,
            down_seconds: 0.5,
            folder: "reports/shard-2/rerun".into(),
            message: None,
        }
    }

    #[test]
    fn line_has_fixed_field_order() {
        assert_eq!(
            sample().to_line(),
            r#"{"shard":2,"shards":4,"project":"shardstack-1a2b3c-s2","status":"failed","exit_code":1,"tests":120,"up_seconds":3.25,"run_seconds":41.5,"down_seconds":1.125,"out":"reports/shard-2","message":null,"started_seconds":12.5,"rerun":null}"#
        );
    }

    #[test]
    fn rerun_keys_come_in_the_order_of_the_line() {
        let mut result = sample();
        result.first.up_seconds = 3.2504;
        result.rerun = Some(rerun());
        assert_eq!(
            result.to_line(),
            r#"{"shard":2,"shards":4,"project":"shardstack-1a2b3c-s2","status":"failed","exit_code":1,"tests":120,"up_seconds":3.25,"run_seconds":41.5,"down_seconds":1.125,"out":"reports/shard-2","message":null,"started_seconds":12.5,"rerun":{"project":"shardstack-1a2b3c-s2-rerun","status":"passed","exit_code":0,"tests":3,"up_seconds":2.0,"run_seconds":1.5,"down_seconds":0.5,"out":"reports/shard-2/rerun","message":null}}"#
        );
    }

    #[test]
    fn round_trips() {
        let mut result = sample();
        result.first.status = Status::Error;
        result.first.exit_code = None;
        result.first.message = Some("sidecar db is unhealthy".into());
        let line = result.to_line();
        assert_eq!(ShardResult::from_json(&line).unwrap(), result);
    }

    #[test]
    fn reruns_round_trip_and_decide_the_final_status() {
        let mut result = sample();
        result.rerun = Some(rerun());
        let line = result.to_line();
        assert_eq!(ShardResult::from_json(&line).unwrap(), result);
        assert_eq!(result.final_status(), Status::Passed);
        result.rerun.as_mut().unwrap().status = Status::Failed;
        assert_eq!(result.final_status(), Status::Failed);
    }

    #[test]
    fn lines_of_older_versions_have_no_start_or_rerun() {
        let line = r#"{"shard":1,"shards":1,"project":"p","status":"passed","exit_code":0,"tests":1,"up_seconds":1,"run_seconds":2,"down_seconds":3,"out":"o","message":null}"#;
        let result = ShardResult::from_json(line).unwrap();
        assert_eq!((result.started_seconds, result.rerun), (None, None));
        assert_eq!(result.first.total_seconds(), 6.0);
    }

    #[test]
    fn reruns_written_with_sorted_keys_still_read() {
        // stack-run before the `Attempt` type wrote the rerun object's keys
        // in alphabetical order.
        let line = r#"{"shard":1,"shards":4,"project":"p-s1","status":"failed","exit_code":1,"tests":3,"up_seconds":15.291,"run_seconds":38.783,"down_seconds":0.638,"out":"out/shard-1","message":null,"started_seconds":140.02,"rerun":{"down_seconds":1.676,"exit_code":1,"message":null,"out":"out/shard-1/rerun","project":"p-s1-rerun","run_seconds":13.556,"status":"failed","tests":2,"up_seconds":4.949}}"#;
        let result = ShardResult::from_json(line).unwrap();
        let rerun = result.rerun.unwrap();
        assert_eq!((rerun.test_count, rerun.status), (2, Status::Failed));
        assert_eq!(rerun.folder, "out/shard-1/rerun");
    }

    #[test]
    fn unknown_status_is_an_error() {
        let line = sample().to_line().replace("failed", "flaky");
        let err = ShardResult::from_json(&line).unwrap_err();
        assert_eq!(err.to_string(), "unknown status \"flaky\"");
        let err = ShardResult::from_json(r#"{"shard":1}"#).unwrap_err();
        assert_eq!(err.to_string(), "missing field \"shards\"");
        let err = ShardResult::from_json("{").unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a JSON object: EOF while parsing an object at line 1 column 1"
        );
    }

    fn seed_line() -> SeedResult {
        SeedResult {
            seed: Some("0a1b2c3d4e5f6789".into()),
            status: Status::Passed,
            reused: false,
            started_seconds: 0.0125,
            seconds: 41.25,
            images: BTreeMap::from([("db".into(), "ci-seed-db:0a1b2c3d4e5f6789".into())]),
            log: Some("reports/.stack-run/seed.log".into()),
            message: None,
        }
    }

    #[test]
    fn the_seed_has_a_line_of_its_own_that_no_shard_reader_takes_for_a_shard() {
        let line = seed_line().to_line();
        assert_eq!(
            line,
            r#"{"seed":"0a1b2c3d4e5f6789","status":"passed","reused":false,"started_seconds":0.013,"seconds":41.25,"images":{"db":"ci-seed-db:0a1b2c3d4e5f6789"},"log":"reports/.stack-run/seed.log","message":null}"#
        );
        let mut read = seed_line();
        read.started_seconds = 0.013;
        assert_eq!(
            ResultLine::from_json(&line).unwrap(),
            ResultLine::Seed(read)
        );
        let err = ShardResult::from_json(&line).unwrap_err();
        assert_eq!(err.to_string(), "missing field \"shard\"");
        let shard = sample().to_line();
        assert_eq!(
            ResultLine::from_json(&shard).unwrap(),
            ResultLine::Shard(sample())
        );
        let bad = line.replace("41.25", "-1");
        let err = ResultLine::from_json(&bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "seconds -1.0 is not from 0 to 1000000000.0 seconds"
        );
    }

    // Golden lines: every field, with its exact key and place in the line,
    // as reports, merges and people's scripts read it. A change here is a
    // change of stack-run's output format.

    #[test]
    fn a_shard_line_with_every_field_set_is_pinned() {
        let mut result = sample();
        result.first.message = Some("3 tests failed".into());
        result.rerun = Some(Attempt {
            status: Status::Failed,
            exit_code: Some(1),
            message: Some("1 test failed again".into()),
            ..rerun()
        });
        result.stack = Some(3);
        assert_eq!(
            result.to_line(),
            r#"{"shard":2,"shards":4,"project":"shardstack-1a2b3c-s2","status":"failed","exit_code":1,"tests":120,"up_seconds":3.25,"run_seconds":41.5,"down_seconds":1.125,"out":"reports/shard-2","message":"3 tests failed","started_seconds":12.5,"rerun":{"project":"shardstack-1a2b3c-s2-rerun","status":"failed","exit_code":1,"tests":3,"up_seconds":2.0,"run_seconds":1.5,"down_seconds":0.5,"out":"reports/shard-2/rerun","message":"1 test failed again"},"stack":3}"#
        );
    }

    #[test]
    fn a_minimal_shard_line_is_pinned() {
        let result = ShardResult {
            shard: 1,
            shards: 1,
            first: Attempt {
                project: "p".into(),
                status: Status::Interrupted,
                exit_code: None,
                test_count: 0,
                up_seconds: 0.0,
                run_seconds: 0.0,
                down_seconds: 0.0,
                folder: "o".into(),
                message: None,
            },
            started_seconds: None,
            rerun: None,
            stack: None,
        };
        assert_eq!(
            result.to_line(),
            r#"{"shard":1,"shards":1,"project":"p","status":"interrupted","exit_code":null,"tests":0,"up_seconds":0.0,"run_seconds":0.0,"down_seconds":0.0,"out":"o","message":null,"started_seconds":null,"rerun":null}"#
        );
    }

    #[test]
    fn a_seed_line_with_every_field_set_is_pinned() {
        let seed = SeedResult {
            status: Status::Error,
            reused: true,
            images: BTreeMap::from([
                ("redis".into(), "ci-seed-redis:0a1b2c3d4e5f6789".into()),
                ("db".into(), "ci-seed-db:0a1b2c3d4e5f6789".into()),
            ]),
            message: Some("the seed command exited 2".into()),
            ..seed_line()
        };
        assert_eq!(
            seed.to_line(),
            r#"{"seed":"0a1b2c3d4e5f6789","status":"error","reused":true,"started_seconds":0.013,"seconds":41.25,"images":{"db":"ci-seed-db:0a1b2c3d4e5f6789","redis":"ci-seed-redis:0a1b2c3d4e5f6789"},"log":"reports/.stack-run/seed.log","message":"the seed command exited 2"}"#
        );
    }

    #[test]
    fn a_minimal_seed_line_is_pinned() {
        let seed = SeedResult {
            seed: None,
            status: Status::Interrupted,
            reused: false,
            started_seconds: 0.0,
            seconds: 0.0,
            images: BTreeMap::new(),
            log: None,
            message: None,
        };
        assert_eq!(
            seed.to_line(),
            r#"{"seed":null,"status":"interrupted","reused":false,"started_seconds":0.0,"seconds":0.0,"images":{},"log":null,"message":null}"#
        );
    }

    #[test]
    fn times_no_run_can_take_are_refused() {
        let line = |up: &str| {
            format!(
                r#"{{"shard":1,"shards":1,"project":"p","status":"passed","exit_code":0,"tests":1,"up_seconds":{up},"run_seconds":2,"down_seconds":3,"out":"o","message":null}}"#
            )
        };
        assert!(ShardResult::from_json(&line("1e9")).is_ok());
        for bad in ["1e308", "-1", "1000000001"] {
            let error = ShardResult::from_json(&line(bad)).unwrap_err();
            assert!(
                error.to_string().starts_with("up_seconds "),
                "{bad}: {error}"
            );
        }
    }
}
