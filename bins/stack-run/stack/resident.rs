//! A container of the service that lives as long as its stack, the command
//! (a shard's, or every batch's with `--stacks`) `docker exec`ed in it.
//!
//! A `compose run` container costs 0.5–0.9 s under Compose v2 (more under
//! v1) before the command starts; an exec costs 0.07 s, and the resident
//! container starts while the sidecars get ready, off the critical path. It
//! idles in `sleep`, not in its entrypoint; each command runs the entrypoint
//! first, as `compose run` would. An image without `sleep`, or a container
//! that would not start, leaves the stack with a `compose run` per command.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::Context as _;
use serde_json::Value;
use shared::contract::IDLE_COMMAND;

use crate::engine::docker::{docker, inspect, output};
use crate::engine::proc::{Background, Children, Log, describe};
use crate::model::layout::OUT_MOUNT;
use crate::model::session::{PLUGIN_LIB, PLUGIN_MOUNT};
use crate::stack::Beside;
use crate::stack::blueprint::{Blueprint, with_job};

/// What the resident container has at [`OUT_MOUNT`].
#[derive(Clone)]
pub enum Mount {
    /// What the derived file mounts there: a shard's own folder.
    FromFile,
    /// `out`: all of `--out`, for a stack that runs batch after batch; and
    /// with `--session`, the plugin's folder, read-only, at [`PLUGIN_MOUNT`].
    Folder {
        out: PathBuf,
        plugin: Option<PathBuf>,
    },
}

/// A stack's resident container, and what each command runs first.
pub struct Resident {
    container: String,
    /// The service's entrypoint (its own, else its image's), which
    /// `compose run` would have put before the command.
    entrypoint: Vec<String>,
}

impl Resident {
    /// Start `project`'s resident container, `mount` at [`OUT_MOUNT`];
    /// `None`, said in `log`, when commands must use `compose run` instead.
    pub fn start(
        (blueprint, children): (&Blueprint, &Children),
        project: &str,
        file: &Path,
        mount: Mount,
        log: &Log,
    ) -> Option<Resident> {
        let container = format!("{project}-{}-resident", blueprint.service);
        let started = log.timed("resident container started", || {
            let entrypoint = entrypoint(blueprint, children)?;
            let mut cmd = blueprint.compose.project(project, file);
            cmd.args(["run", "-d", "--no-deps", "--name", &container])
                .args(["--entrypoint", IDLE_COMMAND[0]]);
            if let Mount::Folder { out, plugin } = &mount {
                cmd.arg("-v").arg(format!("{}:{OUT_MOUNT}", out.display()));
                if let Some(plugin) = plugin {
                    cmd.arg("-v")
                        .arg(format!("{}:{PLUGIN_MOUNT}:ro", plugin.display()));
                }
            }
            cmd.arg(&blueprint.service).args(&IDLE_COMMAND[1..]);
            log.line(&format!("stack-run: $ {}", describe(&cmd)));
            output(children, cmd)?;
            anyhow::Ok(entrypoint)
        });
        match started {
            Ok(entrypoint) => Some(Resident {
                container,
                entrypoint,
            }),
            Err(err) => {
                log.line(&format!(
                    "stack-run: no resident container ({err:#}): each command gets a `compose run`"
                ));
                None
            }
        }
    }

    /// `docker exec`, for its options, and what follows them: the
    /// container and the entrypoint the command runs under.
    pub fn runner(&self) -> (Command, Vec<String>) {
        let mut target = vec![self.container.clone()];
        target.extend(self.entrypoint.iter().cloned());
        (docker(&["exec"]), target)
    }

    /// Start `beside` in the container, to run alongside, with the session
    /// plugin's folder first on `PYTHONPATH`.
    pub fn serve(&self, children: &Arc<Children>, beside: Beside) -> Background {
        let Beside { mut job, log } = beside;
        let given = job.env.iter().rev().find(|(key, _)| key == "PYTHONPATH");
        let path = match given.map(|(_, value)| value.clone()) {
            Some(value) => Some(value),
            None => self.env_var(children, "PYTHONPATH"),
        };
        if given.is_none() {
            job.public.push("PYTHONPATH");
        }
        let lib = format!("{PLUGIN_MOUNT}/{PLUGIN_LIB}");
        let path = match path.filter(|p| !p.is_empty()) {
            Some(path) => format!("{lib}:{path}"),
            None => lib,
        };
        job.env.push(("PYTHONPATH".into(), path));
        let (runner, target) = self.runner();
        let (cmd, shown) = with_job(runner, &target, &job);
        log.line(&format!("stack-run: $ {shown}"));
        Background::start(children, cmd, log)
    }

    /// The value of `name` in the container's environment (its image's, or
    /// compose's), if it has one.
    pub fn env_var(&self, children: &Children, name: &str) -> Option<String> {
        let container = inspect(children, &["container", "inspect", &self.container]).ok()?;
        let env = container["Config"]["Env"].as_array()?;
        env.iter()
            .filter_map(|pair| pair.as_str()?.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    }

    /// Kill the container, and whatever runs in it.
    pub fn kill(&self, children: &Children, log: &Log) {
        let killed = output(children, docker(&["kill", &self.container]));
        match killed {
            Ok(_) => log.line("stack-run: killed the resident container, the command with it"),
            Err(err) => log.line(&format!("stack-run: {err:#}")),
        }
    }

    /// The status the container stopped with (`None` if unknown), if it is
    /// no longer running: killed before or while the command ran, `docker
    /// exec` exits with the command's 137 or its own 1, which would read as
    /// failed tests.
    pub fn stopped(&self, children: &Children) -> Option<Option<i32>> {
        let args = ["container", "inspect", &self.container];
        let state = match inspect(children, &args) {
            Ok(container) => container["State"].clone(),
            // Gone altogether.
            Err(_) => return Some(None),
        };
        match state["Running"].as_bool() {
            Some(true) => None,
            _ => Some(
                state["ExitCode"]
                    .as_i64()
                    .and_then(|c| i32::try_from(c).ok()),
            ),
        }
    }
}

/// The entrypoint `compose run` gives the service: its own, else its image's.
fn entrypoint(blueprint: &Blueprint, children: &Children) -> anyhow::Result<Vec<String>> {
    let service = blueprint.model.service(&blueprint.service);
    match &service["entrypoint"] {
        Value::Null => image_entrypoint(blueprint, children, service),
        // Compose v1 keeps a string as written; it splits it as a shell would.
        Value::String(line) => shlex::split(line)
            .with_context(|| format!("cannot split the service's entrypoint {line:?}")),
        words => words_of(words),
    }
}

/// The entrypoint of the image the service runs (built by this run, or named).
fn image_entrypoint(
    blueprint: &Blueprint,
    children: &Children,
    service: &Value,
) -> anyhow::Result<Vec<String>> {
    let image = match blueprint.images.get(&blueprint.service) {
        Some(built) => built.as_str(),
        None => service["image"]
            .as_str()
            .context("the service names no image")?,
    };
    let said = inspect(children, &["image", "inspect", image])?;
    match &said["Config"]["Entrypoint"] {
        Value::Null => Ok(Vec::new()),
        words => words_of(words),
    }
}

fn words_of(value: &Value) -> anyhow::Result<Vec<String>> {
    value
        .as_array()
        .and_then(|words| words.iter().map(|w| w.as_str().map(String::from)).collect())
        .with_context(|| format!("an entrypoint is a list of strings, not {value}"))
}
