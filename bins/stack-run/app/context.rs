//! The wiring of one invocation: the command line lowered, once, into what
//! each layer below takes — the scheduler's [`Config`], the [`Stacks`] every
//! stack is made from, and the seed — with the handles the run shares.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use anyhow::Context as _;
use shared::contract::WORK_FOLDER;
use shared::exit::{self, ExitContext, Failure};

use crate::app::cli::Cli;
use crate::app::progress::Progress;
use crate::engine::compose::Compose;
use crate::engine::proc::Children;
use crate::engine::signals::Stop;
use crate::model::derive::Model;
use crate::model::gate::Gate;
use crate::model::layout::{Layout, OUT_MOUNT, session_tests_file};
use crate::model::names::{Names, run_id};
use crate::model::seed_key;
use crate::model::selection::Plan;
use crate::model::session::session_command;
use crate::schedule::seed::{Seed, Seeding, files_under};
use crate::schedule::session::Session;
use crate::schedule::unit::Task;
use crate::schedule::{Config, Run, Scheduler};
use crate::stack::blueprint::Blueprint;
use crate::stack::{Stacks, ready};

pub struct Context {
    pub config: Config,
    /// `--seed`: the sidecars' state made once, every stack started from it.
    pub seed: Option<Seed>,
    pub stacks: Stacks,
    pub runtime: Runtime,
}

/// The handles that exist before the command line is lowered, so that
/// signals are heard while compose reads the model.
#[derive(Clone)]
pub struct Runtime {
    pub children: Arc<Children>,
    pub stop: Arc<Stop>,
    pub progress: Arc<Progress>,
    /// The readiness looks, which a signal wakes.
    pub readiness: ready::Poll,
    /// Opens when seeding has ended, its images made or removed.
    pub seeding_done: Arc<Gate<()>>,
    /// When the run began: every start time counts from it.
    pub started: Instant,
}

impl Runtime {
    /// The handles for a run of `selected` shards out of `shard_count`, or
    /// of batches on `stacks` stacks; progress is drawn live when `may_draw`
    /// (and stderr is a terminal).
    pub fn new(shard_count: u32, selected: &[u32], stacks: Option<u32>, may_draw: bool) -> Runtime {
        let progress = match stacks {
            Some(stacks) => {
                let lines: Vec<u32> = (1..=stacks).collect();
                Progress::new("stack", stacks, &lines, may_draw)
            }
            None => Progress::new("shard", shard_count, selected, may_draw),
        };
        Runtime {
            children: Arc::default(),
            stop: Arc::default(),
            progress,
            readiness: ready::Poll::default(),
            seeding_done: Arc::default(),
            started: Instant::now(),
        }
    }
}

impl Context {
    /// Lower the command line: find compose, read the user's model, name the
    /// run. `shard_count` comes from the plan, `stack_count` from --stacks.
    pub fn new(
        cli: &Cli,
        runtime: &Runtime,
        shard_count: u32,
        stack_count: Option<u32>,
        session: Option<Session>,
    ) -> Result<Context, Failure> {
        let seed = seed(cli, runtime)?;
        let blueprint = blueprint(cli, runtime)?;
        let names = Names {
            prefix: cli.prefix.clone(),
            run_id: run_id(),
        };
        let images = blueprint.model.built_services().into_iter();
        let images = images.map(|service| (names.image(&service), service));
        let blueprint = Blueprint {
            images: images.map(|(image, service)| (service, image)).collect(),
            ..blueprint
        };
        let stacks = Stacks {
            blueprint,
            names,
            layout: Layout::new(&cli.out).exit_code(exit::USAGE)?,
            ready_timeout: cli.ready_timeout,
            subnet_pool: cli.subnet_pool,
            children: Arc::clone(&runtime.children),
            stop: Arc::clone(&runtime.stop),
            report: runtime.progress.clone(),
            built: Arc::default(),
            seeds: OnceLock::new(),
            readiness: runtime.readiness.clone(),
            subnets: Default::default(),
        };
        let config = Config {
            task: Task {
                command: cli.command.clone(),
                env: cli.env.clone(),
                shard_count,
            },
            timeout: cli.timeout,
            keep_on_failure: cli.keep_on_failure,
            rerun_failed: cli.rerun_failed,
            stacks: stack_count,
            session,
        };
        Ok(Context {
            config,
            seed,
            stacks,
            runtime: runtime.clone(),
        })
    }

    /// The run's scheduler, over its stacks.
    pub fn scheduler(&self) -> Scheduler<'_, Stacks> {
        let stacks = &self.stacks;
        let run = Run {
            names: &stacks.names,
            layout: &stacks.layout,
            report: stacks.report.clone(),
            stop: &stacks.stop,
            started: self.runtime.started,
            starting: stacks.blueprint.sidecars.join(", "),
        };
        Scheduler::new(stacks, &self.config, run)
    }

    /// What seeding uses of the run.
    pub fn seeding(&self) -> Seeding<'_> {
        Seeding {
            stacks: &self.stacks,
            env: &self.config.task.env,
            timeout: self.config.timeout,
        }
    }
}

/// `--session`: the command as a session runs it, and the ids every
/// session collects (the selected batches').
pub fn session(
    cli: &Cli,
    plan: &Plan,
    selected: &[u32],
    node: Option<u32>,
) -> anyhow::Result<Option<Session>> {
    if !cli.session {
        return Ok(None);
    }
    let command = session_command(&cli.command).map_err(anyhow::Error::msg)?;
    Ok(Some(Session {
        command,
        tests_file: format!("{OUT_MOUNT}/{WORK_FOLDER}/{}", session_tests_file(node)),
        planned: selected
            .iter()
            .flat_map(|s| plan[s].iter().cloned())
            .collect(),
        node,
    }))
}

/// `--seed` with `--seed-key` and `--seed-cache`, the key's coverage said.
fn seed(cli: &Cli, runtime: &Runtime) -> Result<Option<Seed>, Failure> {
    let seed_key = seed_key::expand(&cli.seed_key).exit_code(exit::USAGE)?;
    if !seed_key.is_empty() {
        let files_in = |path: &Path| files_under(path).map_or(0, |f| f.len());
        runtime
            .progress
            .note(&seed_key::coverage(&seed_key, files_in));
    }
    let key_files: Vec<PathBuf> = seed_key.into_iter().flat_map(|arg| arg.paths).collect();
    Ok(cli.seed.clone().map(|command| Seed {
        command: command.0,
        key_files: (!key_files.is_empty()).then_some(key_files),
        cache: cli.seed_cache.clone(),
    }))
}

/// The compose program and the user's model, read by it; the images are
/// named once the run is.
fn blueprint(cli: &Cli, runtime: &Runtime) -> Result<Blueprint, Failure> {
    let service = cli.service.clone().expect("clap requires --service");
    let compose = Compose::detect(project_directory(cli).exit_code(exit::USAGE)?)?;
    let model = compose
        .config(&runtime.children, &cli.files)
        .and_then(|yaml| Model::parse(&yaml))
        .exit_code(exit::USAGE)?;
    let sidecars = model.sidecars(&service).exit_code(exit::USAGE)?;
    let networks = model.managed_networks().exit_code(exit::USAGE)?;
    for warning in model.warnings() {
        eprintln!("stack-run: warning: {warning}");
    }
    Ok(Blueprint {
        compose,
        model,
        service,
        sidecars,
        images: Default::default(),
        networks,
    })
}

/// `--project-directory`, else the first file's folder, else the current one; absolute.
fn project_directory(cli: &Cli) -> anyhow::Result<PathBuf> {
    let given = match (&cli.project_directory, cli.files.first()) {
        (Some(dir), _) => dir.clone(),
        (None, Some(file)) => file.parent().unwrap_or(Path::new("")).to_path_buf(),
        (None, None) => PathBuf::new(),
    };
    std::path::absolute(if given.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &given
    })
    .context("cannot find the current folder")
}
