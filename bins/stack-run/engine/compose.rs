//! Which compose to call, and the command lines stack-run gives it.
//!
//! `docker compose` (v2) and `docker-compose` (v1) take the same flags for
//! everything stack-run does (`config`, `build`, `up`, `run`, `logs`), so
//! one program prefix is all that differs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use shared::exit::{self, ExitContext, Failure};

use crate::engine::proc::Children;

/// The environment variable that names the compose program, e.g. `docker-compose`.
pub const OVERRIDE: &str = "SHARDSTACK_COMPOSE";

/// A compose program: `docker compose` or `docker-compose`, plus where the project lives.
#[derive(Debug, Clone)]
pub struct Compose {
    program: Vec<String>,
    project_directory: PathBuf,
}

impl Compose {
    /// `$SHARDSTACK_COMPOSE` when set, else the first of `docker compose` and
    /// `docker-compose` that answers `version`.
    pub fn detect(project_directory: PathBuf) -> Result<Compose, Failure> {
        let program = match std::env::var(OVERRIDE) {
            Ok(text) if !text.trim().is_empty() => {
                text.split_whitespace().map(str::to_string).collect()
            }
            _ => {
                let candidates = [vec!["docker", "compose"], vec!["docker-compose"]];
                let Some(found) = candidates.into_iter().find(|program| answers(program)) else {
                    return Err(anyhow::anyhow!(
                        "neither `docker compose` nor `docker-compose` works here \
                         (set {OVERRIDE} to the compose program)"
                    ))
                    .exit_code(exit::INFRA);
                };
                found.into_iter().map(str::to_string).collect()
            }
        };
        Ok(Compose {
            program,
            project_directory,
        })
    }

    /// The program as typed, for messages: `docker-compose`.
    pub fn name(&self) -> String {
        self.program.join(" ")
    }

    pub fn project_directory(&self) -> &Path {
        &self.project_directory
    }

    /// `compose --project-directory DIR`, ready for more arguments.
    fn base(&self) -> Command {
        let mut cmd = Command::new(&self.program[0]);
        cmd.args(&self.program[1..])
            .arg("--project-directory")
            .arg(&self.project_directory);
        cmd
    }

    /// `compose -p PROJECT -f FILE --project-directory DIR`: one derived project.
    pub fn project(&self, project: &str, file: &Path) -> Command {
        let mut cmd = self.base();
        cmd.arg("-p").arg(project).arg("-f").arg(file);
        cmd
    }

    /// The user's compose files resolved by compose itself (includes, extends,
    /// `.env` and variables applied, paths absolute), as YAML text.
    pub fn config(&self, children: &Children, files: &[PathBuf]) -> anyhow::Result<String> {
        let mut cmd = self.base();
        for file in files {
            cmd.arg("-f").arg(file);
        }
        cmd.arg("config");
        let output = children.capture(cmd)?;
        if !output.status.success() {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            let stderr = String::from_utf8_lossy(&output.stderr);
            bail!(
                "{} config failed for {}: {}{}",
                self.name(),
                if names.is_empty() {
                    "the default compose file".to_string()
                } else {
                    names.join(", ")
                },
                stderr.trim(),
                rejected_key(&stderr)
                    .map(|key| format!(
                        "\n`{key}`: this key needs Compose v2 (`docker compose`); Compose v1 \
                         rejects it: remove it, or set SHARDSTACK_COMPOSE to a Compose v2"
                    ))
                    .unwrap_or_default()
            );
        }
        String::from_utf8(output.stdout).context("compose config printed something not UTF-8")
    }
}

/// The key Compose v1's schema check rejected, from its message: the keys
/// only v2 knows (top-level `name:` and `include:`, a service's `develop:`,
/// `build.additional_contexts`, `depends_on`'s `required:`, …) fail this way.
fn rejected_key(stderr: &str) -> Option<&str> {
    stderr.lines().find_map(|line| {
        if line.contains("does not match any of the regexes: '^x-'") {
            quoted(line)
        } else if let Some((_, key)) = line.split_once("Unsupported config option for ") {
            quoted(key)
        } else if let Some((_, key)) = line.split_once(" contains unsupported option: ") {
            quoted(key)
        } else {
            None
        }
    })
}

/// The text between the first two single quotes.
fn quoted(text: &str) -> Option<&str> {
    let start = text.find('\'')? + 1;
    let end = start + text[start..].find('\'')?;
    Some(&text[start..end])
}

/// Whether `program version` runs and succeeds.
fn answers(program: &[&str]) -> bool {
    let mut cmd = Command::new(program[0]);
    cmd.args(&program[1..])
        .arg("version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.status().is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compose_v1_rejects_are_named() {
        // docker-compose 1.29.2's own words.
        let top = "The Compose file './a.yml' is invalid because:\n'name' does not match any of the regexes: '^x-'\n\nYou might be seeing this error because you're using the wrong Compose file version.";
        assert_eq!(rejected_key(top), Some("name"));
        let service = "The Compose file './b.yml' is invalid because:\nUnsupported config option for services.app: 'develop'";
        assert_eq!(rejected_key(service), Some("develop"));
        let nested = "The Compose file './c.yml' is invalid because:\nservices.app.build contains unsupported option: 'additional_contexts'";
        assert_eq!(rejected_key(nested), Some("additional_contexts"));
        assert_eq!(rejected_key("no such file: docker-compose.yml"), None);
    }
}
