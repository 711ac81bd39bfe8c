//! One compose project's life, with no policy and no printing: a [`Stack`]
//! made by [`Stacks`] from the run's blueprint, brought up, commands run in
//! it, kept or torn down. What to run where, and what to do when it fails,
//! is the scheduler's.

pub mod blueprint;
pub mod build;
pub mod limits;
pub mod ready;
pub mod resident;
mod stacks;

pub use stacks::{Seeds, Stacks};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::contract::{LOG_FILE, SERVICES_LOG, labels};

use crate::engine::docker::sweep;
use crate::engine::proc::{Background, Ended, Log, describe};
use crate::model::derive::Labels;
use crate::model::verdict::{Happened, StopCause};
use blueprint::{Job, with_job};
use limits::Limits;
use resident::{Mount, Resident};

/// A command to start in a stack's resident container and leave running
/// (a pytest session), its output to `log`.
pub struct Beside {
    pub job: Job,
    pub log: Log,
}

/// Where and how a stack is made.
pub struct Place {
    /// Its compose project.
    pub project: String,
    /// Its derived compose file.
    pub file: PathBuf,
    /// On its containers, networks and volumes.
    pub labels: Labels,
    /// The host folder the derived file mounts at `{out}`; `None` for none.
    pub out: Option<PathBuf>,
    /// What its resident container mounts; `None`: every command gets a
    /// `compose run`.
    pub resident: Option<Mount>,
}

/// One compose project: created by [`Stacks::create`], then up, then kept
/// or torn down ([`Stack::down`] consumes it).
#[must_use = "a stack is kept or torn down, never dropped"]
pub struct Stack<'a> {
    stacks: &'a Stacks,
    place: Place,
    /// Its life: networks, sidecars, readiness, teardown.
    log: Log,
    resident: Option<Resident>,
}

/// How long a stack has to show it is still ready after a command.
const HEALTH_CHECK: Duration = Duration::from_secs(5);

impl Stack<'_> {
    pub fn project(&self) -> &str {
        &self.place.project
    }

    /// Where its life is written.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Get the stack ready for commands: the sidecars up and ready, the
    /// image built, and its resident container, if it has one, started
    /// while the sidecars get ready.
    pub fn up(&mut self, limits: &Limits) -> Result<(), String> {
        self.up_with(limits, None).map(|_| ())
    }

    /// [`Stack::up`], and `beside` started in the resident container as
    /// soon as it runs, while the sidecars get ready (a pytest session
    /// collecting); `None` for it when there is no resident container.
    pub fn up_with(
        &mut self,
        limits: &Limits,
        beside: Option<Beside>,
    ) -> Result<Option<Background>, String> {
        let stacks = self.stacks;
        let log = &self.log.clone();
        let blueprint = &stacks.blueprint;
        let image_ready = || log.timed("image ready", || stacks.wait_for_build(limits));
        // A sidecar built by this run needs its image first; others start while it builds.
        let image_first = blueprint
            .sidecars
            .iter()
            .any(|name| blueprint.images.contains_key(name));
        if image_first {
            image_ready()?;
        }
        if !blueprint.sidecars.is_empty() {
            self.up_sidecars(limits)?;
        }
        let this = &*self;
        let resident = std::thread::scope(|scope| {
            // It needs the image, not the sidecars: it starts while they get ready.
            let resident = this.place.resident.clone().map(|mount| {
                scope.spawn(move || {
                    stacks.wait_for_build(limits).ok()?;
                    let (project, file) = (&this.place.project, &this.place.file);
                    let made_of = (blueprint, stacks.children.as_ref());
                    let resident = Resident::start(made_of, project, file, mount, log)?;
                    let beside = beside.map(|b| resident.serve(&stacks.children, b));
                    Some((resident, beside))
                })
            });
            let ready = match blueprint.sidecars.is_empty() {
                true => Ok(()),
                false => this.wait_ready(limits),
            };
            let resident =
                resident.and_then(|thread| thread.join().expect("the resident panicked"));
            ready.map(|()| resident)
        })?;
        let (resident, beside) = resident.unzip();
        self.resident = resident;
        if !image_first {
            image_ready()?;
        }
        Ok(beside.flatten())
    }

    /// `compose up -d` the sidecars.
    fn up_sidecars(&self, limits: &Limits) -> Result<(), String> {
        let blueprint = &self.stacks.blueprint;
        let mut cmd = blueprint
            .compose
            .project(&self.place.project, &self.place.file);
        cmd.args(["up", "-d", "--no-build"])
            .args(&blueprint.sidecars);
        self.log.line(&format!("stack-run: $ {}", describe(&cmd)));
        let starting = Instant::now();
        let quiet = Arc::new(|_: &str| {});
        match self
            .stacks
            .children
            .run_logged(cmd, &self.log, quiet, || limits.reached())
        {
            Ok(Ended::Exited(status)) if status.success() => {}
            Ok(Ended::Exited(status)) => {
                return Err(format!("compose up failed ({status}), see {LOG_FILE}"));
            }
            Ok(Ended::Stopped) => return Err("compose up was stopped".into()),
            Err(err) => return Err(format!("{err:#}")),
        }
        self.log
            .took("sidecars up", starting.elapsed().as_secs_f64());
        Ok(())
    }

    /// Wait until the sidecars that are up are ready.
    fn wait_ready(&self, limits: &Limits) -> Result<(), String> {
        let ready_by = limits.cap(Instant::now() + self.stacks.ready_timeout);
        let waiting = Instant::now();
        let project = &self.place.project;
        let ready = ready::wait(self.stacks.looks(), project, ready_by, || limits.reached());
        match &ready {
            Ok(()) => self
                .log
                .took("sidecars ready", waiting.elapsed().as_secs_f64()),
            Err(err) => self.log.line(&format!("stack-run: {err:#}")),
        }
        ready.map_err(|err| format!("{err:#}"))
    }

    /// The command line that runs `job` in this stack, and how to show it:
    /// `docker exec` in its resident container, else a `compose run`.
    pub fn command(&self, job: &Job) -> (std::process::Command, String) {
        match &self.resident {
            Some(resident) => {
                let (runner, target) = resident.runner();
                with_job(runner, &target, job)
            }
            None => {
                let place = &self.place;
                self.stacks
                    .blueprint
                    .compose_run(&place.project, &place.file, job)
            }
        }
    }

    /// Run `job` in the stack, its output to `log` and `on_line`, until it
    /// ends or `limits` are reached; what happened, and how long it ran.
    pub fn exec(
        &self,
        job: &Job,
        log: &Log,
        limits: &Limits,
        on_line: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> (Happened, f64) {
        let (cmd, shown) = self.command(job);
        log.line(&format!("stack-run: $ {shown}"));
        let running = Instant::now();
        let children = &self.stacks.children;
        let ended = children.run_logged(cmd, log, on_line, || limits.reached());
        let seconds = running.elapsed().as_secs_f64();
        log.took("command ran", seconds);
        let happened = match ended {
            Ok(Ended::Exited(status)) => Happened::Exited(status.code()),
            Ok(Ended::Stopped) => Happened::Stopped(limits.cause()),
            Err(err) => Happened::RunFailed(format!("{err:#}")),
        };
        (self.in_resident(happened, log), seconds)
    }

    /// Start `beside` in the resident container, to run alongside (a
    /// pytest session).
    pub fn serve(&self, beside: Beside) -> Result<Background, String> {
        match &self.resident {
            Some(resident) => Ok(resident.serve(&self.stacks.children, beside)),
            None => Err(
                "--session needs the stack's resident container of the service, \
                 and there is none (an image without `sleep`?): see the stack's log"
                    .into(),
            ),
        }
    }

    /// Kill the resident container, and whatever runs in it (a session past
    /// its timeout).
    pub fn kill_resident(&self) {
        if let Some(resident) = &self.resident {
            resident.kill(&self.stacks.children, &self.log);
        }
    }

    /// What happened to a command in the resident container, once the
    /// container is looked at.
    fn in_resident(&self, happened: Happened, log: &Log) -> Happened {
        let Some(resident) = &self.resident else {
            return happened;
        };
        let children = &self.stacks.children;
        match happened {
            // Killed under the command, `docker exec` exits with the
            // command's 137 or its own 1, which would read as failed tests.
            Happened::Exited(code) if code != Some(0) => match resident.stopped(children) {
                Some(status) => Happened::ContainerStopped(status),
                None => happened,
            },
            // Killing `docker exec` leaves its command running inside, in a
            // stack that may be kept: the container goes with it.
            Happened::Stopped(StopCause::Timeout(_)) => {
                resident.kill(children, log);
                happened
            }
            _ => happened,
        }
    }

    /// Whether its resident container still runs and its sidecars are all
    /// still up and ready.
    pub fn healthy(&self) -> bool {
        let stacks = self.stacks;
        let resident_runs = self
            .resident
            .as_ref()
            .is_none_or(|resident| resident.stopped(&stacks.children).is_none());
        let by = Instant::now() + HEALTH_CHECK;
        let project = &self.place.project;
        resident_runs
            && ready::wait(stacks.looks(), project, by, || stacks.stop.requested()).is_ok()
    }

    /// `compose logs` of the whole stack, to services.log in `folder`;
    /// nothing for a stack without sidecars.
    pub fn save_logs(&self, folder: &Path) {
        let blueprint = &self.stacks.blueprint;
        if blueprint.sidecars.is_empty() {
            return;
        }
        let mut cmd = blueprint
            .compose
            .project(&self.place.project, &self.place.file);
        cmd.args(["logs", "--no-color", "--timestamps"]);
        let text = match self.stacks.children.capture(cmd) {
            Ok(output) => [output.stdout, output.stderr].concat(),
            Err(err) => {
                format!("stack-run: cannot read the sidecars' logs: {err:#}\n").into_bytes()
            }
        };
        let _ = std::fs::write(folder.join(SERVICES_LOG), text);
    }

    /// `compose stop`: every service stops as compose stops it (PostgreSQL
    /// checkpoints and exits cleanly).
    pub fn stop_services(&self) -> anyhow::Result<()> {
        let blueprint = &self.stacks.blueprint;
        let mut cmd = blueprint
            .compose
            .project(&self.place.project, &self.place.file);
        cmd.arg("stop");
        let shown = describe(&cmd);
        self.log.line(&format!("stack-run: $ {shown}"));
        let output = self.stacks.children.capture(cmd)?;
        for line in String::from_utf8_lossy(&output.stderr).lines() {
            self.log.line(line);
        }
        anyhow::ensure!(
            output.status.success(),
            "{shown} failed ({})",
            output.status
        );
        Ok(())
    }

    /// Leave the stack running; the compose command line that reaches it.
    pub fn keep(self) -> String {
        let compose = &self.stacks.blueprint.compose;
        format!(
            "{} -p {} -f {} --project-directory {}",
            compose.name(),
            self.place.project,
            self.place.file.display(),
            compose.project_directory().display()
        )
    }

    /// Remove everything of the stack; how it went, and how long it took,
    /// both said in its log.
    pub fn down(self) -> (Result<(), String>, f64) {
        let (removed, seconds) = self.sweep();
        match &removed {
            Ok(()) => self.log.took("torn down", seconds),
            Err(err) => self.log.line(&format!("stack-run: teardown failed: {err}")),
        }
        (removed, seconds)
    }

    /// Remove everything of the stack, saying nothing in its log but a
    /// failure (as the seed's stack goes).
    pub fn remove(self) -> Result<(), String> {
        let (removed, _) = self.sweep();
        if let Err(err) = &removed {
            self.log.line(&format!("stack-run: teardown failed: {err}"));
        }
        removed
    }

    /// Remove everything of its compose project, by label.
    fn sweep(&self) -> (Result<(), String>, f64) {
        let down = Instant::now();
        let project = &self.place.project;
        let swept = sweep(
            &self.stacks.children,
            labels::COMPOSE_PROJECT,
            project,
            false,
        );
        let outcome = swept.map(|_| ()).map_err(|err| format!("{err:#}"));
        if outcome.is_ok() {
            self.stacks.subnets.release(project);
        }
        (outcome, down.elapsed().as_secs_f64())
    }
}
