//! What one stack-run invocation knows, built once from the command line
//! before anything starts, then only read (its runtime handles aside).
//!
//! Kept apart by kind, so a function can say what it uses: [`Config`] (what
//! to run, and how long to wait), [`Stack`] (the compose program and model
//! every shard's stack is derived from), [`Names`] (projects, labels, image
//! tags), the output [`Layout`], and [`Runtime`] (child processes, the stop
//! signal, progress, the build's gate, what the stacks share while starting).

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shared::contract::labels;
use shared::exit::{self, ExitContext, Failure};

use crate::app::cli::Cli;
use crate::app::progress::Progress;
use crate::engine::compose::Compose;
use crate::engine::proc::Children;
use crate::engine::signals::Stop;
use crate::engine::subnets::{self, Network, Subnet};
use crate::model::derive::{Labels, Model};
use crate::model::gate::Gate;
use crate::model::layout::Layout;
use crate::schedule::seed::Seed;
use crate::stack::ready;

pub struct Context {
    pub config: Config,
    pub stack: Stack,
    pub names: Names,
    pub layout: Layout,
    pub runtime: Arc<Runtime>,
}

/// What each shard runs, and how long stack-run waits for it.
pub struct Config {
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// How many shards the plan has (`{shards}`).
    pub shard_count: u32,
    pub timeout: Option<Duration>,
    pub ready_timeout: Duration,
    pub keep_on_failure: bool,
    /// Run a failed shard's failed tests once more, in a fresh stack.
    pub rerun_failed: bool,
    /// `--stacks`: the plan's shards are batches, run on this many stacks
    /// kept up from one batch to the next.
    pub stacks: Option<u32>,
    /// Where every stack's networks get their subnets.
    pub subnet_pool: Subnet,
    /// `--seed`: the sidecars' state made once, every stack started from it.
    pub seed: Option<Seed>,
}

/// What every shard's stack is made from.
pub struct Stack {
    pub compose: Compose,
    pub model: Model,
    /// The service whose container runs the command.
    pub service: String,
    /// What it depends on: started, and waited for, before the command.
    pub sidecars: Vec<String>,
    /// Built services and the image each gets for this run.
    pub images: BTreeMap<String, String>,
    /// The networks stack-run creates for each stack, with their configs.
    pub networks: Vec<(Network, serde_json::Value)>,
}

/// The names of what this invocation creates.
pub struct Names {
    /// `--prefix`: shared by every run, swept by `--clean`.
    pub prefix: String,
    /// This invocation's own: two runs on one host never share one.
    pub run_id: String,
}

/// The handles shared by the threads of the run.
pub struct Runtime {
    pub children: Arc<Children>,
    pub stop: Arc<Stop>,
    pub progress: Arc<Progress>,
    /// Set when a stack was left running for debugging.
    pub kept: AtomicBool,
    /// Opens when the run's images are built (or failed to).
    pub built: Gate<Result<(), Arc<Failure>>>,
    /// When the run began: shards' start times count from it.
    pub started: Instant,
    /// With --seed: the image each sidecar starts from, set before any shard starts.
    pub seeds: OnceLock<BTreeMap<String, String>>,
    /// With --seed: what each sidecar's seed is, for the shards' logs.
    pub seed_sources: OnceLock<Vec<crate::app::seed_report::SeedSource>>,
    /// Opens when seeding has ended, its images made or removed.
    pub seeding_done: Gate<()>,
    /// The looks at the run's containers that stacks waiting for their sidecars share.
    pub readiness: ready::Poll,
    /// The subnets in use, so that the run's stacks never try the same one.
    pub subnets: subnets::Taken,
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
            children: Arc::new(Children::default()),
            stop: Arc::new(Stop::default()),
            progress,
            kept: AtomicBool::new(false),
            built: Gate::default(),
            started: Instant::now(),
            seeds: OnceLock::new(),
            seed_sources: OnceLock::new(),
            seeding_done: Gate::default(),
            readiness: ready::Poll::default(),
            subnets: subnets::Taken::default(),
        }
    }
}

impl Context {
    /// Lower the command line: find compose, read the user's model, name the
    /// run. `shard_count` comes from the plan, `stacks` from --stacks; `runtime` exists already, so
    /// that signals are heard while compose reads the model.
    pub fn new(
        cli: &Cli,
        runtime: Arc<Runtime>,
        shard_count: u32,
        stacks: Option<u32>,
    ) -> Result<Context, Failure> {
        let service = cli.service.clone().expect("clap requires --service");
        let seed_key = crate::model::seed_key::expand(&cli.seed_key).exit_code(exit::USAGE)?;
        if !seed_key.is_empty() {
            let files_in = |path: &std::path::Path| {
                crate::schedule::seed::files_under(path).map_or(0, |f| f.len())
            };
            runtime
                .progress
                .note(&crate::model::seed_key::coverage(&seed_key, files_in));
        }
        let key_files: Vec<PathBuf> = seed_key.into_iter().flat_map(|arg| arg.paths).collect();
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
        let names = Names {
            prefix: cli.prefix.clone(),
            run_id: run_id(),
        };
        let images = model
            .built_services()
            .into_iter()
            .map(|service| {
                let image = names.image(&service);
                (service, image)
            })
            .collect();
        Ok(Context {
            config: Config {
                command: cli.command.clone(),
                env: cli.env.clone(),
                shard_count,
                timeout: cli.timeout,
                ready_timeout: cli.ready_timeout,
                keep_on_failure: cli.keep_on_failure,
                rerun_failed: cli.rerun_failed,
                stacks,
                subnet_pool: cli.subnet_pool,
                seed: cli.seed.clone().map(|command| Seed {
                    command: command.0,
                    key_files: (!key_files.is_empty()).then_some(key_files),
                    cache: cli.seed_cache.clone(),
                }),
            },
            stack: Stack {
                compose,
                model,
                service,
                sidecars,
                images,
                networks,
            },
            names,
            layout: Layout::new(&cli.out).exit_code(exit::USAGE)?,
            runtime,
        })
    }
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

impl Names {
    /// Shard K's first attempt's compose project.
    pub fn project(&self, shard: u32) -> String {
        format!("{}-{}-s{shard}", self.prefix, self.run_id)
    }

    /// Stack K's project with `--stacks`; `generation` counts the fresh
    /// stacks that replaced one that died.
    pub fn stack_project(&self, stack: u32, generation: u32) -> String {
        match generation {
            1 => format!("{}-{}-k{stack}", self.prefix, self.run_id),
            _ => format!("{}-{}-k{stack}-{generation}", self.prefix, self.run_id),
        }
    }

    /// Shard K's second attempt's: a fresh stack.
    pub fn rerun_project(&self, shard: u32) -> String {
        format!("{}-rerun", self.project(shard))
    }

    pub fn build_project(&self) -> String {
        format!("{}-{}-build", self.prefix, self.run_id)
    }

    /// The image a built service gets for this run (untagged at its end).
    pub fn image(&self, service: &str) -> String {
        format!("{}-{}-{}", self.prefix, self.run_id, image_name(service))
    }

    /// The tag that outlives the run, so the next run's build finds its layers
    /// in the cache.
    pub fn cache_tag(&self, service: &str) -> String {
        format!("{}-{}", self.prefix, image_name(service))
    }

    /// The image of `sidecar`'s seed: kept under its key, one repository a
    /// prefix and sidecar (`--seed-key`), or else the run's own.
    pub fn seed_image(&self, sidecar: &str, key: Option<&str>) -> String {
        match key {
            Some(key) => format!("{}-seed-{}:{key}", self.prefix, image_name(sidecar)),
            None => self.image(&format!("seed-{sidecar}")),
        }
    }

    /// Built images carry only the prefix label: identical builds then give
    /// the same image, and `--clean` still finds it.
    pub fn build_labels(&self) -> Labels {
        vec![(labels::PREFIX.to_string(), self.prefix.clone())]
    }

    /// The labels on stack K's containers, networks and volumes (`--stacks`).
    pub fn stack_labels(&self, stack: u32) -> Labels {
        vec![
            (labels::PREFIX.to_string(), self.prefix.clone()),
            (labels::RUN.to_string(), self.run_id.clone()),
            (labels::STACK.to_string(), stack.to_string()),
        ]
    }

    /// The labels on a shard's containers, networks and volumes.
    pub fn shard_labels(&self, shard: u32) -> Labels {
        vec![
            (labels::PREFIX.to_string(), self.prefix.clone()),
            (labels::RUN.to_string(), self.run_id.clone()),
            (labels::SHARD.to_string(), shard.to_string()),
        ]
    }
}

/// Short and random enough that two runs on one host never pick the same.
fn run_id() -> String {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = RandomState::new().hash_one((seed, std::process::id()));
    format!("{:08x}", hash & 0xffff_ffff)
}

/// A service name made fit for an image name: lowercase, `[a-z0-9._-]`.
fn image_name(service: &str) -> String {
    service
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_are_valid() {
        assert_eq!(image_name("Web App"), "web-app");
        assert_eq!(image_name("api_v2.1"), "api_v2.1");
    }

    #[test]
    fn run_ids_differ() {
        assert_ne!(run_id(), run_id());
        assert_eq!(run_id().len(), 8);
    }

    #[test]
    fn names_of_a_run() {
        let names = Names {
            prefix: "ci".into(),
            run_id: "1a2b3c4d".into(),
        };
        assert_eq!(names.project(2), "ci-1a2b3c4d-s2");
        assert_eq!(names.rerun_project(2), "ci-1a2b3c4d-s2-rerun");
        assert_eq!(names.image("Web App"), "ci-1a2b3c4d-web-app");
        assert_eq!(names.cache_tag("Web App"), "ci-web-app");
        assert_eq!(names.seed_image("DB", Some("0a1b")), "ci-seed-db:0a1b");
        assert_eq!(names.seed_image("DB", None), "ci-1a2b3c4d-seed-db");
        assert_eq!(
            names.shard_labels(2),
            [
                ("io.shardstack.prefix".to_string(), "ci".to_string()),
                ("io.shardstack.run".to_string(), "1a2b3c4d".to_string()),
                ("io.shardstack.shard".to_string(), "2".to_string()),
            ]
        );
    }
}
