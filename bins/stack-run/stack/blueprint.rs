//! What every stack of a run is made from: the compose program, the user's
//! model, the service that runs the command and what it depends on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::engine::compose::Compose;
use crate::engine::proc::describe_showing;
use crate::model::derive::Model;
use crate::model::layout::OUT_MOUNT;
use crate::model::network::Network;

pub struct Blueprint {
    pub compose: Compose,
    pub model: Model,
    /// The service whose container runs the command.
    pub service: String,
    /// What it depends on: started, and waited for, before the command.
    pub sidecars: Vec<String>,
    /// Built services and the image each gets for this run.
    pub images: BTreeMap<String, String>,
    /// The networks stack-run creates for each stack, with their configs.
    pub networks: Vec<(Network, Value)>,
}

/// A command to run in a stack, placeholders filled in.
#[derive(Clone)]
pub struct Job {
    pub command: Vec<String>,
    /// The variables it gets, in the order given to `-e`.
    pub env: Vec<(String, String)>,
    /// The variables whose values are shown in clear where the command line
    /// is (stack-run's own); the others' may be secrets.
    pub public: Vec<&'static str>,
    /// The host folder `compose run` mounts at [`OUT_MOUNT`]: all of
    /// `--out`, for a stack that runs batch after batch. `None` when the
    /// derived file mounts it.
    pub run_mount: Option<PathBuf>,
}

impl Blueprint {
    /// `compose run --rm -T --no-deps -e … SERVICE COMMAND…` of `job` in
    /// `project` from `file`, and how to show it.
    pub fn compose_run(&self, project: &str, file: &Path, job: &Job) -> (Command, String) {
        let mut cmd = self.compose.project(project, file);
        cmd.args(["run", "--rm", "-T", "--no-deps"]);
        if let Some(folder) = &job.run_mount {
            cmd.arg("-v")
                .arg(format!("{}:{OUT_MOUNT}", folder.display()));
        }
        with_job(cmd, std::slice::from_ref(&self.service), job)
    }
}

/// `runner` (`compose run` or `docker exec` with its options) completed with
/// `job`'s variables, `target` (what runs it) and its command; and how to
/// show it, `-e` values hidden but the public ones.
pub fn with_job(mut runner: Command, target: &[String], job: &Job) -> (Command, String) {
    for (key, value) in &job.env {
        runner.arg("-e").arg(format!("{key}={value}"));
    }
    runner.args(target).args(&job.command);
    let shown = describe_showing(&runner, &job.public);
    (runner, shown)
}
