//! The whole run: plan in, image built once, shards through a pool of
//! workers, results out, nothing left behind.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, VecDeque};
use std::hash::BuildHasher;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shared::ci::Node;
use shared::exit::{self, ExitContext};
use shared::plan::Entry;
use shared::results::{ShardResult, Status};

use crate::cli::{Cli, NodeArg};
use crate::compose::Compose;
use crate::derive::{Labels, Model};
use crate::proc::{Children, Ended, Log};
use crate::progress::Progress;
use crate::shard::run_shard;
use crate::signals::{self, Stop};
use crate::sweep::{docker, sweep, untag};

/// Labels on everything stack-run creates.
pub const PREFIX_LABEL: &str = "io.shardstack.prefix";
pub const RUN_LABEL: &str = "io.shardstack.run";
pub const SHARD_LABEL: &str = "io.shardstack.shard";

/// Everything a shard needs to know about the run it belongs to.
pub struct Run {
    pub compose: Compose,
    pub children: Arc<Children>,
    pub stop: Arc<Stop>,
    pub progress: Arc<Progress>,
    pub model: Model,
    pub prefix: String,
    pub run_id: String,
    /// Built services and the image each got.
    pub images: BTreeMap<String, String>,
    pub service: String,
    pub sidecars: Vec<String>,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// How many shards the plan has (`{shards}`).
    pub shards: u32,
    pub out: PathBuf,
    out_absolute: PathBuf,
    pub timeout: Option<Duration>,
    pub ready_timeout: Duration,
    pub keep_on_failure: bool,
    /// Set when a stack was left running for debugging.
    pub kept: AtomicBool,
    /// Opens when the run's images are built (or failed to).
    pub built: Gate,
    /// Run a failed shard's failed tests once more, in a fresh stack.
    pub rerun_failed: bool,
    /// When the run began: shards' start times count from it.
    pub started: Instant,
}

/// A one-time event many threads wait for, with its outcome.
#[derive(Default)]
pub struct Gate {
    outcome: Mutex<Option<Result<(), String>>>,
    opened: Condvar,
}

impl Gate {
    pub fn open(&self, outcome: Result<(), String>) {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        self.opened.notify_all();
    }

    /// The outcome once open; `None` if `stop` says so first.
    pub fn wait(&self, stop: impl Fn() -> bool) -> Option<Result<(), String>> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(outcome) = outcome.as_ref() {
                return Some(outcome.clone());
            }
            if stop() {
                return None;
            }
            outcome = self
                .opened
                .wait_timeout(outcome, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Run {
    pub fn project(&self, shard: u32) -> String {
        format!("{}-{}-s{shard}", self.prefix, self.run_id)
    }

    pub fn shard_dir(&self, shard: u32) -> PathBuf {
        self.out.join(format!("shard-{shard}"))
    }

    pub fn absolute_shard_dir(&self, shard: u32) -> PathBuf {
        self.out_absolute.join(format!("shard-{shard}"))
    }

    /// Where stack-run keeps its own files: derived compose files, the build log.
    fn work_dir(&self) -> PathBuf {
        self.out.join(".stack-run")
    }

    pub fn compose_file(&self, shard: u32) -> PathBuf {
        self.work_dir().join(format!("shard-{shard}.compose.json"))
    }

    /// The tag that outlives the run, so the next run's build finds its layers
    /// in the cache (the per-run tag is removed at the end).
    pub fn cache_tag(&self, service: &str) -> String {
        format!("{}-{}", self.prefix, image_name(service))
    }

    /// Built images carry only the prefix label: identical builds then give
    /// the same image, and `--clean` still finds it.
    fn build_labels(&self) -> Labels {
        vec![(PREFIX_LABEL.to_string(), self.prefix.clone())]
    }

    pub fn labels(&self, shard: Option<u32>) -> Labels {
        let mut labels = vec![
            (PREFIX_LABEL.to_string(), self.prefix.clone()),
            (RUN_LABEL.to_string(), self.run_id.clone()),
        ];
        if let Some(shard) = shard {
            labels.push((SHARD_LABEL.to_string(), shard.to_string()));
        }
        labels
    }
}

/// Run stack-run as the command line says; the exit status.
pub fn main(cli: Cli) -> anyhow::Result<i32> {
    let children = Arc::new(Children::default());
    if cli.clean {
        return clean(&children, &cli.prefix);
    }
    let service = cli.service.clone().expect("clap requires --service");
    let plan = read_plan(&cli.plan)?;
    let shards = plan.keys().max().copied().unwrap_or(0);
    let node = match cli.node {
        None => None,
        Some(NodeArg::Fixed(node)) => Some(node),
        Some(NodeArg::Auto) => Some(auto_node()?),
    };
    let selected = select(&plan, node, cli.shard)?;
    if selected.is_empty() {
        eprintln!("stack-run: no shard of the plan's {shards} is this node's: nothing to run");
        return Ok(exit::SUCCESS);
    }
    if !cli.command.iter().any(|arg| arg.contains("{tests}")) {
        eprintln!("stack-run: warning: COMMAND has no {{tests}}: every shard runs the same tests");
    }

    let project_directory = match (&cli.project_directory, cli.files.first()) {
        (Some(dir), _) => dir.clone(),
        (None, Some(file)) => file.parent().unwrap_or(Path::new("")).to_path_buf(),
        (None, None) => PathBuf::new(),
    };
    let project_directory = std::path::absolute(if project_directory.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &project_directory
    })
    .context("cannot find the current folder")?;
    let compose = Compose::detect(project_directory)?;
    let model = Model::parse(&compose.config(&children, &cli.files)?)?;
    let sidecars = model.sidecars(&service)?;
    for warning in model.warnings() {
        eprintln!("stack-run: warning: {warning}");
    }

    let prefix = cli.prefix.clone();
    let run_id = run_id();
    let images: BTreeMap<String, String> = model
        .built_services()
        .into_iter()
        .map(|name| {
            let image = format!("{prefix}-{run_id}-{}", image_name(&name));
            (name, image)
        })
        .collect();
    let out_absolute = std::path::absolute(&cli.out)
        .with_context(|| format!("bad --out {}", cli.out.display()))?;
    let run = Run {
        compose,
        children: Arc::clone(&children),
        stop: Arc::new(Stop::default()),
        progress: Progress::new(shards, &selected, !cli.dry_run),
        model,
        prefix,
        run_id,
        images,
        service,
        sidecars,
        command: cli.command.clone(),
        env: cli.env.clone(),
        shards,
        out: cli.out.clone(),
        out_absolute,
        timeout: cli.timeout,
        ready_timeout: cli.ready_timeout,
        keep_on_failure: cli.keep_on_failure,
        kept: AtomicBool::new(false),
        built: Gate::default(),
        rerun_failed: cli.rerun_failed,
        started: Instant::now(),
    };
    if cli.dry_run {
        return dry_run(&run, &plan, &selected);
    }
    prepare(&run, &plan, &selected, cli.force)?;
    execute(&run, &plan, &selected, cli.jobs)
}

/// `--node auto`: this job's node, as the CI's variables say; says which on stderr.
fn auto_node() -> anyhow::Result<Node> {
    let detected = shared::ci::detect(|name| std::env::var(name).ok())
        .map_err(|err| anyhow::anyhow!("--node auto: {err}"))?;
    eprintln!("stack-run: --node auto: {detected}");
    Ok(detected.node)
}

/// Read the plan: `SHARD<TAB>ID` lines, or bare ids for one shard.
fn read_plan(path: &Path) -> anyhow::Result<BTreeMap<u32, Vec<String>>> {
    let input = shared::io::open(path)?;
    let name = input.name.clone();
    let entries = shared::plan::read(&name, input.reader)?;
    group(&name, entries)
}

fn group(name: &str, entries: Vec<Entry>) -> anyhow::Result<BTreeMap<u32, Vec<String>>> {
    let bare = entries.iter().filter(|e| e.shard.is_none()).count();
    if bare > 0 && bare < entries.len() {
        bail!("{name}: mixes SHARD<TAB>ID lines with bare test ids");
    }
    if entries.is_empty() {
        bail!("{name}: the plan has no tests");
    }
    let mut plan: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for entry in entries {
        plan.entry(entry.shard.unwrap_or(1))
            .or_default()
            .push(entry.id);
    }
    Ok(plan)
}

/// The shards this invocation runs: all, one (`--shard`), or a CI node's
/// slice (`--node I/M`: shards I, I+M, I+2M, …).
fn select(
    plan: &BTreeMap<u32, Vec<String>>,
    node: Option<Node>,
    shard: Option<u32>,
) -> anyhow::Result<Vec<u32>> {
    if let Some(shard) = shard {
        if !plan.contains_key(&shard) {
            bail!("the plan has no shard {shard}");
        }
        return Ok(vec![shard]);
    }
    Ok(plan
        .keys()
        .copied()
        .filter(|shard| node.is_none_or(|node| (shard - 1) % node.count == node.index - 1))
        .collect())
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

/// Print, one line per shard, the command each would run.
fn dry_run(run: &Run, plan: &BTreeMap<u32, Vec<String>>, selected: &[u32]) -> anyhow::Result<i32> {
    let mut out = shared::io::Output::create(None)?;
    writeln!(
        out,
        "# compose: {}; service: {}; sidecars: {}; built once: {}",
        run.compose.name(),
        run.service,
        list_or_none(&run.sidecars),
        list_or_none(&run.images.keys().cloned().collect::<Vec<_>>())
    )?;
    for &shard in selected {
        let attempt = crate::shard::Attempt::first(run, shard);
        let (_, shown) = crate::shard::run_command(run, &attempt, &run.compose_file(shard), shard);
        writeln!(
            out,
            "shard {shard}/{} ({} tests): {shown}",
            run.shards,
            plan[&shard].len()
        )?;
    }
    out.commit()?;
    Ok(exit::SUCCESS)
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Make OUT/shard-K for every selected shard, with its id file. A folder
/// holding a previous run's files is an error unless `force`, which empties
/// it; folders of other shards are never touched.
fn prepare(
    run: &Run,
    plan: &BTreeMap<u32, Vec<String>>,
    selected: &[u32],
    force: bool,
) -> anyhow::Result<()> {
    let busy: Vec<String> = selected
        .iter()
        .map(|&shard| run.shard_dir(shard))
        .filter(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
        .map(|dir| dir.display().to_string())
        .collect();
    if !busy.is_empty() && !force {
        bail!(
            "{} already hold{} results; use --force to replace them, or another --out",
            busy.join(", "),
            if busy.len() == 1 { "s" } else { "" }
        );
    }
    std::fs::create_dir_all(run.work_dir())
        .with_context(|| format!("cannot create {}", run.work_dir().display()))?;
    for &shard in selected {
        let dir = run.shard_dir(shard);
        if force && dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot empty {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        // The container's user may not be ours: let it write its reports.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
            .with_context(|| format!("cannot open up {}", dir.display()))?;
        let ids = dir.join("tests.txt");
        let mut text = plan[&shard].join("\n");
        text.push('\n');
        std::fs::write(&ids, text).with_context(|| format!("cannot write {}", ids.display()))?;
    }
    Ok(())
}

/// Build once, run every selected shard on `jobs` workers, print results,
/// clean up; the exit status.
fn execute(
    run: &Run,
    plan: &BTreeMap<u32, Vec<String>>,
    selected: &[u32],
    jobs: Option<u32>,
) -> anyhow::Result<i32> {
    let started = Instant::now();
    install_signals(run)?;
    let jobs = jobs.map_or(selected.len(), |j| j as usize).max(1);
    // Shards start their sidecars while the images build.
    let results = std::thread::scope(|scope| {
        scope.spawn(|| {
            let built = build(run).map_err(|err| format!("{err:#}"));
            if let Err(err) = &built {
                run.progress.note(err);
            }
            run.built.open(built);
        });
        run_shards(run, plan, selected, jobs)
    });
    // A stack kept for debugging keeps everything; its image is safe untagged.
    let kept = run.kept.load(std::sync::atomic::Ordering::SeqCst);
    if !kept {
        if let Err(err) = sweep(&run.children, RUN_LABEL, &run.run_id, false) {
            run.progress.note(&format!("cleanup failed: {err:#}"));
        }
    }
    untag(
        &run.children,
        &run.images.values().cloned().collect::<Vec<_>>(),
    );
    run.progress.finish();
    if let Some(code) = run.stop.exit_code() {
        return Ok(code);
    }
    // A shard whose failed tests all passed in a fresh stack passed.
    let count = |status: Status| {
        results
            .iter()
            .filter(|r| r.final_status() == status)
            .count()
    };
    run.progress.note(&format!(
        "{} shards in {:.1}s: {} passed, {} failed, {} error, {} timeout",
        results.len(),
        started.elapsed().as_secs_f64(),
        count(Status::Passed),
        count(Status::Failed),
        count(Status::Error),
        count(Status::Timeout)
    ));
    Ok(if count(Status::Error) + count(Status::Timeout) > 0 {
        exit::INFRA
    } else if count(Status::Failed) > 0 {
        exit::FAILURES
    } else {
        exit::SUCCESS
    })
}

fn install_signals(run: &Run) -> anyhow::Result<()> {
    let progress = Arc::clone(&run.progress);
    let on_first = move |signal: i32| {
        progress.note(&format!(
            "signal {signal}: stopping every shard and tearing down (send it again to force)"
        ));
    };
    let children = Arc::clone(&run.children);
    let progress = Arc::clone(&run.progress);
    let run_id = run.run_id.clone();
    let images: Vec<String> = run.images.values().cloned().collect();
    let on_force = move |first: i32| {
        progress.note("second signal: removing everything of this run now");
        children.kill_all();
        let _ = sweep(&children, RUN_LABEL, &run_id, false);
        untag(&children, &images);
        std::process::exit(128 + first);
    };
    signals::install(Arc::clone(&run.stop), on_first, on_force)
        .context("cannot listen for signals")
        .exit_code(exit::INFRA)
}

/// Build every service that has `build:`, once, tagged for this run.
fn build(run: &Run) -> anyhow::Result<()> {
    if run.images.is_empty() {
        return Ok(());
    }
    let services: Vec<String> = run.images.keys().cloned().collect();
    let file = run.work_dir().join("build.compose.json");
    std::fs::write(
        &file,
        run.model
            .build_file(&run.build_labels(), &run.images)
            .to_string(),
    )
    .with_context(|| format!("cannot write {}", file.display()))?;
    let log_path = run.work_dir().join("build.log");
    let log = Log::create(&log_path)?;
    run.progress
        .note(&format!("building {}", services.join(", ")));
    let mut cmd = run
        .compose
        .project(&format!("{}-{}-build", run.prefix, run.run_id), &file);
    // The legacy builder keeps a failed step's container unless told not to:
    // a failed build must leave nothing behind either.
    cmd.arg("build").arg("--force-rm").args(&services);
    match run
        .children
        .run_logged(cmd, &log, Arc::new(|_: &str| {}), || run.stop.requested())?
    {
        Ended::Exited(status) if status.success() => {
            for (service, image) in &run.images {
                let cache = run.cache_tag(service);
                let output = run.children.capture(docker(&["tag", image, &cache]))?;
                if !output.status.success() {
                    log.line(&format!("stack-run: cannot tag {image} as {cache}"));
                }
            }
            Ok(())
        }
        Ended::Exited(status) => Err(anyhow::anyhow!(
            "building {} failed ({status}); see {}",
            services.join(", "),
            log_path.display()
        ))
        .exit_code(exit::INFRA),
        Ended::Stopped => Err(anyhow::anyhow!("the build was interrupted")),
    }
}

/// Run the shards on `jobs` workers and print each result as it comes.
fn run_shards(
    run: &Run,
    plan: &BTreeMap<u32, Vec<String>>,
    selected: &[u32],
    jobs: usize,
) -> Vec<ShardResult> {
    let queue: Mutex<VecDeque<u32>> = Mutex::new(selected.iter().copied().collect());
    let (sender, receiver) = mpsc::channel();
    let mut results = Vec::new();
    let mut stdout_open = true;
    let mut print = |result: &ShardResult| {
        // A closed stdout must not stop the teardown: stop printing only.
        if stdout_open {
            stdout_open = run.progress.print(&result.to_line()).is_ok();
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(selected.len()) {
            let sender = sender.clone();
            let queue = &queue;
            scope.spawn(move || {
                loop {
                    if run.stop.requested() {
                        break;
                    }
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(shard) = next else { break };
                    let mut result = run_shard(run, shard, plan[&shard].len());
                    if run.rerun_failed {
                        crate::rerun::rerun_failures(run, &plan[&shard], &mut result);
                    }
                    if sender.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for result in receiver {
            print(&result);
            results.push(result);
        }
    });
    let never_started: Vec<u32> = queue.into_inner().unwrap_or_default().into();
    for shard in never_started {
        let result = ShardResult {
            shard,
            shards: run.shards,
            project: run.project(shard),
            status: Status::Interrupted,
            exit_code: None,
            tests: plan[&shard].len(),
            up_seconds: 0.0,
            run_seconds: 0.0,
            down_seconds: 0.0,
            out: run.shard_dir(shard).display().to_string(),
            message: Some("never started: the run was interrupted".into()),
            started_seconds: None,
            rerun: None,
        };
        run.progress
            .state(shard, "interrupted", "never started", true);
        print(&result);
        results.push(result);
    }
    results
}

/// Remove everything runs with this prefix left: containers, networks, volumes, images.
fn clean(children: &Children, prefix: &str) -> anyhow::Result<i32> {
    let removed = sweep(children, PREFIX_LABEL, prefix, true).exit_code(exit::INFRA)?;
    eprintln!(
        "stack-run: removed {removed} containers, networks, volumes and images of prefix {prefix}"
    );
    Ok(exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(shards: &[(u32, &str)]) -> BTreeMap<u32, Vec<String>> {
        let entries = shards
            .iter()
            .map(|(shard, id)| Entry {
                shard: Some(*shard),
                id: id.to_string(),
            })
            .collect();
        group("plan.tsv", entries).unwrap()
    }

    #[test]
    fn bare_ids_are_one_shard_and_mixing_is_an_error() {
        let bare = vec![
            Entry {
                shard: None,
                id: "a".into(),
            },
            Entry {
                shard: None,
                id: "b".into(),
            },
        ];
        assert_eq!(group("p", bare).unwrap()[&1], ["a", "b"]);
        let mixed = vec![
            Entry {
                shard: None,
                id: "a".into(),
            },
            Entry {
                shard: Some(2),
                id: "b".into(),
            },
        ];
        assert_eq!(
            group("p", mixed).unwrap_err().to_string(),
            "p: mixes SHARD<TAB>ID lines with bare test ids"
        );
    }

    #[test]
    fn nodes_take_every_mth_shard() {
        let plan = plan(&[(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")]);
        let node = |index, count| Some(Node { index, count });
        assert_eq!(select(&plan, node(1, 2), None).unwrap(), [1, 3, 5]);
        assert_eq!(select(&plan, node(2, 2), None).unwrap(), [2, 4]);
        assert_eq!(select(&plan, node(3, 3), None).unwrap(), [3]);
        assert_eq!(select(&plan, None, Some(4)).unwrap(), [4]);
        assert_eq!(select(&plan, None, None).unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(
            select(&plan, None, Some(9)).unwrap_err().to_string(),
            "the plan has no shard 9"
        );
    }

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
}
