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
        } = self;
        let fields: [(&str, Value); 11] = [
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
        let field = |name: &str| {
            value
                .get(name)
                .with_context(|| format!("missing field {name:?}"))
        };
        let number = |name: &str| {
            field(name)?
                .as_u64()
                .with_context(|| format!("field {name:?} is not a whole number"))
        };
        let seconds = |name: &str| {
            field(name)?
                .as_f64()
                .with_context(|| format!("field {name:?} is not a number"))
        };
        let text = |name: &str| {
            field(name)?
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("field {name:?} is not a string"))
        };
        let status_text = text("status")?;
        let Some(status) = Status::ALL.into_iter().find(|s| s.as_str() == status_text) else {
            bail!("unknown status {status_text:?}");
        };
        Ok(ShardResult {
            shard: u32::try_from(number("shard")?).context("shard number too large")?,
            shards: u32::try_from(number("shards")?).context("shard count too large")?,
            project: text("project")?,
            status,
            exit_code: value
                .get("exit_code")
                .and_then(Value::as_i64)
                .and_then(|code| i32::try_from(code).ok()),
            tests: usize::try_from(number("tests")?).context("test count too large")?,
            up_seconds: seconds("up_seconds")?,
            run_seconds: seconds("run_seconds")?,
            down_seconds: seconds("down_seconds")?,
            out: text("out")?,
            message: value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
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
        }
    }

    #[test]
    fn line_has_fixed_field_order() {
        assert_eq!(
            sample().to_line(),
            r#"{"shard":2,"shards":4,"project":"shardstack-1a2b3c-s2","status":"failed","exit_code":1,"tests":120,"up_seconds":3.25,"run_seconds":41.5,"down_seconds":1.125,"out":"reports/shard-2","message":null}"#
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
    fn unknown_status_is_an_error() {
        let line = sample().to_line().replace("failed", "flaky");
        let err = ShardResult::from_json(&line).unwrap_err();
        assert_eq!(err.to_string(), "unknown status \"flaky\"");
    }
}
