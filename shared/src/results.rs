//! stack-run's results: one JSON object per line, one line per shard.
//!
//! stack-run writes them on stdout as each shard ends; reports and merges read
//! them back. The type lives here so writer and readers agree on every field.

use std::fmt;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// How a shard ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One shard's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardResult {
    /// 1-based shard number, as in the plan.
    pub shard: u32,
    /// How many shards the plan has.
    pub shards: u32,
    /// The compose project the shard ran in.
    pub project: String,
    pub status: Status,
    /// The command's exit status; `None` when it never ran or was killed by us.
    pub exit_code: Option<i32>,
    /// How many tests the plan gave this shard.
    pub tests: usize,
    /// Seconds spent starting the stack (sidecars up and ready).
    pub up_seconds: f64,
    /// Seconds the command ran.
    pub run_seconds: f64,
    /// Seconds spent tearing the stack down.
    pub down_seconds: f64,
    /// The shard's artifact folder on the host (`OUT/shard-K`).
    pub out: String,
    /// Why the shard did not pass, in words, when stack-run knows more than the status.
    pub message: Option<String>,
    /// When the shard started, in seconds from the start of the run; `None`
    /// in lines from stack-run versions that did not say.
    pub started_seconds: Option<f64>,
    /// The failed tests' second attempt in a fresh stack (`--rerun-failed`).
    pub rerun: Option<Rerun>,
}

/// A shard's failed tests run again in a fresh stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Rerun {
    /// The compose project of the fresh stack.
    pub project: String,
    pub status: Status,
    pub exit_code: Option<i32>,
    /// How many tests were run again.
    pub tests: usize,
    pub up_seconds: f64,
    pub run_seconds: f64,
    pub down_seconds: f64,
    /// The rerun's artifact folder on the host (`OUT/shard-K/rerun`).
    pub out: String,
    pub message: Option<String>,
}

impl ShardResult {
    /// How the shard ended once its rerun is counted: failed tests that all
    /// passed on their second attempt make a passed shard.
    pub fn final_status(&self) -> Status {
        match &self.rerun {
            Some(rerun) if self.status == Status::Failed => rerun.status,
            _ => self.status,
        }
    }
}

impl ShardResult {
    /// The JSON line (without the newline), fields in a fixed order so
    /// people and `grep` can read it as easily as programs.
    pub fn to_line(&self) -> String {
        let ShardResult {
            shard,
            shards,
            project,
            status,
            exit_code,
            tests,
            up_seconds,
            run_seconds,
            down_seconds,
            out,
            message,
            started_seconds,
            rerun,
        } = self;
        let fields: [(&str, Value); 13] = [
            ("shard", json!(shard)),
            ("shards", json!(shards)),
            ("project", json!(project)),
            ("status", json!(status.as_str())),
            ("exit_code", json!(exit_code)),
            ("tests", json!(tests)),
            ("up_seconds", json!(round(*up_seconds))),
            ("run_seconds", json!(round(*run_seconds))),
            ("down_seconds", json!(round(*down_seconds))),
            ("out", json!(out)),
            ("message", json!(message)),
            ("started_seconds", json!(started_seconds.map(round))),
            ("rerun", rerun.as_ref().map_or(Value::Null, Rerun::to_json)),
        ];
        let body: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{}:{value}", json!(name)))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    /// Read one results line back.
    pub fn from_json(line: &str) -> anyhow::Result<ShardResult> {
        let value: Value = serde_json::from_str(line).context("not a JSON object")?;
        let fields = Fields(&value);
        let rerun = match value.get("rerun") {
            None | Some(Value::Null) => None,
            Some(rerun) => Some(Rerun::from_json(rerun).context("in \"rerun\"")?),
        };
        Ok(ShardResult {
            shard: u32::try_from(fields.number("shard")?).context("shard number too large")?,
            shards: u32::try_from(fields.number("shards")?).context("shard count too large")?,
            project: fields.text("project")?,
            status: fields.status()?,
            exit_code: fields.exit_code(),
            tests: usize::try_from(fields.number("tests")?).context("test count too large")?,
            up_seconds: fields.seconds("up_seconds")?,
            run_seconds: fields.seconds("run_seconds")?,
            down_seconds: fields.seconds("down_seconds")?,
            out: fields.text("out")?,
            message: fields.message(),
            started_seconds: value.get("started_seconds").and_then(Value::as_f64),
            rerun,
        })
    }
}

impl Rerun {
    fn to_json(&self) -> Value {
        let Rerun {
            project,
            status,
            exit_code,
            tests,
            up_seconds,
            run_seconds,
            down_seconds,
            out,
            message,
        } = self;
        json!({
            "project": project,
            "status": status.as_str(),
            "exit_code": exit_code,
            "tests": tests,
            "up_seconds": round(*up_seconds),
            "run_seconds": round(*run_seconds),
            "down_seconds": round(*down_seconds),
            "out": out,
            "message": message,
        })
    }

    fn from_json(value: &Value) -> anyhow::Result<Rerun> {
        let fields = Fields(value);
        Ok(Rerun {
            project: fields.text("project")?,
            status: fields.status()?,
            exit_code: fields.exit_code(),
            tests: usize::try_from(fields.number("tests")?).context("test count too large")?,
            up_seconds: fields.seconds("up_seconds")?,
            run_seconds: fields.seconds("run_seconds")?,
            down_seconds: fields.seconds("down_seconds")?,
            out: fields.text("out")?,
            message: fields.message(),
        })
    }
}

/// Typed access to the fields of one JSON object, errors naming the field.
struct Fields<'a>(&'a Value);

impl Fields<'_> {
    fn field(&self, name: &str) -> anyhow::Result<&Value> {
        self.0
            .get(name)
            .with_context(|| format!("missing field {name:?}"))
    }

    fn number(&self, name: &str) -> anyhow::Result<u64> {
        self.field(name)?
            .as_u64()
            .with_context(|| format!("field {name:?} is not a whole number"))
    }

    fn seconds(&self, name: &str) -> anyhow::Result<f64> {
        self.field(name)?
            .as_f64()
            .with_context(|| format!("field {name:?} is not a number"))
    }

    fn text(&self, name: &str) -> anyhow::Result<String> {
        self.field(name)?
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("field {name:?} is not a string"))
    }

    fn status(&self) -> anyhow::Result<Status> {
        let text = self.text("status")?;
        match Status::ALL.into_iter().find(|s| s.as_str() == text) {
            Some(status) => Ok(status),
            None => bail!("unknown status {text:?}"),
        }
    }

    fn exit_code(&self) -> Option<i32> {
        self.0
            .get("exit_code")
            .and_then(Value::as_i64)
            .and_then(|code| i32::try_from(code).ok())
    }

    fn message(&self) -> Option<String> {
        self.0
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

/// Milliseconds are plenty for timings people read.
fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ShardResult {
        ShardResult {
            shard: 2,
            shards: 4,
            project: "shardstack-1a2b3c-s2".into(),
            status: Status::Failed,
            exit_code: Some(1),
            tests: 120,
            up_seconds: 3.25,
            run_seconds: 41.5,
            down_seconds: 1.125,
            out: "reports/shard-2".into(),
            message: None,
            started_seconds: Some(12.5),
            rerun: None,
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
    fn round_trips() {
        let mut result = sample();
        result.status = Status::Error;
        result.exit_code = None;
        result.message = Some("sidecar db is unhealthy".into());
        let line = result.to_line();
        assert_eq!(ShardResult::from_json(&line).unwrap(), result);
    }

    #[test]
    fn reruns_round_trip_and_decide_the_final_status() {
        let mut result = sample();
        result.rerun = Some(Rerun {
            project: "shardstack-1a2b3c-s2-rerun".into(),
            status: Status::Passed,
            exit_code: Some(0),
            tests: 3,
            up_seconds: 2.0,
            run_seconds: 1.5,
            down_seconds: 0.5,
            out: "reports/shard-2/rerun".into(),
            message: None,
        });
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
    }

    #[test]
    fn unknown_status_is_an_error() {
        let line = sample().to_line().replace("failed", "flaky");
        let err = ShardResult::from_json(&line).unwrap_err();
        assert_eq!(err.to_string(), "unknown status \"flaky\"");
    }
}
