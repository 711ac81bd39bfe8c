//! One compose project's life, with no policy and no printing: a [`Stack`]
//! made by [`Stacks`] from the run's blueprint, brought up, commands run in
//! it, kept or torn down. What to run where, and what to do when it fails,
//! is the scheduler's.

pub mod blueprint;
pub mod build;
pub mod limits;
pub mod ready;
pub mod resident;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use shared::contract::{LOG_FILE, SERVICES_LOG, labels};
use shared::exit::Failure;

use crate::engine::docker::sweep;
use crate::engine::proc::{Children, Ended, Log, describe};
use crate::engine::signals::Stop;
use crate::engine::subnets::{self, Taken};
use crate::model::derive::Labels;
use crate::model::gate::Gate;
use crate::model::layout::Layout;
use crate::model::names::Names;
use crate::model::network::Subnet;
use crate::model::report::Report;
use crate::model::seed_source::SeedSource;
use crate::model::verdict::{Happened, StopCause};
use blueprint::{Blueprint, Job, with_job};
use limits::Limits;
use resident::{Mount, Resident};

/// What every stack of a run is made from, and what its stacks share.
pub struct Stacks {
    pub blueprint: Blueprint,
    pub names: Names,
    pub layout: Layout,
    /// How long a stack's sidecars may take to get ready.
    pub ready_timeout: Duration,
    /// Where every stack's networks get their subnets.
    pub subnet_pool: Subnet,
    pub children: Arc<Children>,
    pub stop: Arc<Stop>,
    pub report: Arc<dyn Report>,
    /// When the run began: start times count from it.
    pub started: Instant,
    /// Opens when the run's images are built (or failed to).
    pub built: Arc<Gate<Result<(), Arc<Failure>>>>,
    /// With --seed: what each sidecar starts from, set before any shard's stack.
    pub seeds: OnceLock<Seeds>,
    /// The looks at the run's containers that stacks waiting for their sidecars share.
    pub readiness: ready::Poll,
    /// The subnets in use, so that the run's stacks never try the same one.
    pub subnets: Taken,
}

/// The seed each sidecar starts from.
pub struct Seeds {
    /// Sidecar → image.
    pub images: BTreeMap<String, String>,
    pub sources: Vec<SeedSource>,
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
pub struct Stack<'a> {
    stacks: &'a Stacks,
    place: Place,
    /// Its life: networks, sidecars, readiness, teardown.
    log: Log,
    resident: Option<Resident>,
}

/// How long a stack has to show it is still ready after a command.
const HEALTH_CHECK: Duration = Duration::from_secs(5);

impl Stacks {
    /// A stack as `place` says, its life written to `log`: its networks
    /// created and its file derived, nothing started yet. On failure what
    /// was created is removed.
    pub fn create(&self, place: Place, log: Log) -> Result<Stack<'_>, String> {
        let derived = log.timed("networks created", || self.derive(&place));
        let stack = Stack {
            stacks: self,
            place,
            log,
            resident: None,
        };
        match derived {
            Ok(()) => Ok(stack),
            Err(message) => {
                let _ = stack.remove();
                Err(message)
            }
        }
    }

    /// Create `place`'s networks (see `subnets`) and write its derived file.
    fn derive(&self, place: &Place) -> Result<(), String> {
        let blueprint = &self.blueprint;
        let project = place.project.as_str();
        let placed = subnets::create(
            &self.children,
            &self.subnets,
            self.subnet_pool,
            project,
            &blueprint.networks,
            &place.labels,
        )
        .map_err(|err| format!("{err:#}"))?;
        // Seeded sidecars start from their seed's image.
        let mut images = blueprint.images.clone();
        let seeds = self.seeds.get().into_iter();
        images.extend(seeds.flat_map(|seeds| seeds.images.clone()));
        let derived = blueprint.model.shard_file(
            &place.labels,
            &images,
            &blueprint.service,
            place.out.as_deref(),
            (project, &placed),
        );
        let file = &place.file;
        std::fs::write(file, derived.to_string())
            .map_err(|err| format!("cannot write {}: {err}", file.display()))
    }

    /// Say in `log` which seed each sidecar starts from; nothing unseeded.
    pub fn note_seeds(&self, log: &Log) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let sources = self.seeds.get().map_or(&[][..], |seeds| &seeds.sources);
        for source in sources {
            log.line(&source.describe(now));
        }
    }

    /// Wait for the run's images; why not, if they did not come.
    fn wait_for_build(&self, limits: &Limits) -> Result<(), String> {
        match self.built.wait(|| limits.reached()) {
            None => Err("stopped while the image was building".into()),
            Some(Err(failure)) => Err(format!(
                "the image could not be built: {:#}",
                failure.error()
            )),
            Some(Ok(())) => Ok(()),
        }
    }

    /// What the readiness wait looks with.
    fn looks(&self) -> (&ready::Poll, &Arc<Children>, &str) {
        (&self.readiness, &self.children, &self.names.run_id)
    }
}

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
                    Resident::start(made_of, project, file, mount, log)
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
        self.resident = resident;
        if !image_first {
            image_ready()?;
        }
        Ok(())
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
        let (removed, seconds) = self.remove();
        match &removed {
            Ok(()) => self.log.took("torn down", seconds),
            Err(err) => self.log.line(&format!("stack-run: teardown failed: {err}")),
        }
        (removed, seconds)
    }

    /// Remove everything of its compose project, by label.
    fn remove(&self) -> (Result<(), String>, f64) {
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
