//! `--seed`: the sidecars' state built once, and every stack started from it.
//!
//! The seed command runs once, in a stack of its own with its sidecars up
//! and ready (for Django: create and migrate the test database). The
//! sidecars are then stopped as compose stops them (PostgreSQL checkpoints
//! and exits cleanly) and each one's state becomes an image: its container
//! committed, with the contents of its volumes added at their paths. A
//! container made from that image fills its own new volume from the image,
//! so every shard's sidecar starts from the seed on a private copy: a
//! shard's writes reach neither the seed nor another shard.
//!
//! The images are named by a key: a digest of the seed command, the `-e`
//! variables it gets, the sidecars' configurations and, with `--seed-key`,
//! the files it names. With
//! `--seed-key` they outlive the run (PREFIX-seed-SERVICE:KEY) and a later run
//! with the same key starts from them without running the command; without
//! it they are the run's own and go at its end. A seed image proves where
//! it comes from with its labels: the key, the sidecar, a digest of that
//! sidecar's resolved configuration and the image its container ran. A seed
//! whose images are not all there, or one whose labels say another origin
//! (a tag moved onto another sidecar's seed, say), is rebuilt, never used.
//!
//! Capturing takes seconds and is not cut short by a stop (as the build's
//! last step, see `build`): a `docker commit` or build the daemon went on
//! with after its client was killed would leave an image behind. The seed
//! command and the sidecars are stopped at once. An image a capture made
//! is removed unless the capture completed, whatever cut it short.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::contract::labels;
use shared::exit::{self, ExitContext, Failure};

use crate::engine::docker::{docker, image_field, image_inspect, inspect, list, output};
use crate::engine::proc::{Children, Ended, Log, describe};
use crate::engine::seed_cache::{Cache, Holder};
use crate::model::seed_key::key_skips;
use crate::model::template::is_per_shard;
use crate::stack::blueprint::Job;
use crate::stack::build::retag;
use crate::stack::limits::Limits;
use crate::stack::{Place, Stack, Stacks};

/// What `--seed` and `--seed-key` ask for.
pub struct Seed {
    /// The command, as words: run in the service's container.
    pub command: Vec<String>,
    /// The files and folders whose contents key the seed; `None` without
    /// `--seed-key`: the seed is then the run's own.
    pub key_files: Option<Vec<PathBuf>>,
    /// `--seed-cache`: the file this run's seed is loaded from and saved to.
    pub cache: Option<PathBuf>,
}

/// The label on a seed image: its full key.
pub const SEED_LABEL: &str = "io.shardstack.seed";
/// The sidecar a seed image was made from.
const SIDECAR_LABEL: &str = "io.shardstack.seed.sidecar";
/// A digest of that sidecar's resolved configuration.
const CONFIG_LABEL: &str = "io.shardstack.seed.config";
/// The id of the image the sidecar's container ran.
const BASE_LABEL: &str = "io.shardstack.seed.base";

/// What changes the format of a seed: part of every key.
const FORMAT: &str = "shardstack seed 2";

/// What seeding came to, for the run's results line and the shards' logs
/// (`seed_report`): the key, once computed, whether the seed was found rather than made, and
/// the log this run's seeding wrote (an earlier run's, in the same OUT, is
/// not this seed's).
#[derive(Default)]
pub struct SeedOutcome {
    pub key: Option<String>,
    pub reused: bool,
    pub log: Option<PathBuf>,
}

/// What seeding uses of the run.
pub struct Seeding<'a> {
    pub stacks: &'a Stacks,
    /// `-e`: those that name nothing of one shard go to the seed command.
    pub env: &'a [(String, String)],
    /// `--timeout`, for the seed command too.
    pub timeout: Option<std::time::Duration>,
}

/// Each sidecar's seed image, made or found.
pub fn seed(
    run: &Seeding,
    seed: &Seed,
    outcome: &mut SeedOutcome,
) -> Result<BTreeMap<String, String>, Failure> {
    let key = key(run, seed).exit_code(exit::USAGE)?;
    outcome.key = Some(short(&key).to_string());
    let tags = tags(run, seed, &key);
    let progress = &run.stacks.report;
    if seed.key_files.is_none() {
        progress.note("seeding (no --seed-key: the seed is this run's own)");
        make(run, seed, &key, &tags, outcome)?;
        return Ok(tags);
    }
    let cache = seed.cache.as_deref().map(|file| {
        let holder = Holder {
            key: key.clone(),
            prefix: run.stacks.names.prefix.clone(),
            images: tags.clone(),
        };
        Cache::open(file, holder)
    });
    let found = check(run, &tags, &key).map(|()| String::new());
    let made = match found.or_else(|why| load_cached(run, cache.as_ref(), &tags, &key).ok_or(why)) {
        Ok(from) => {
            progress.note(&format!("seed {}: {from}found, not rebuilt", short(&key)));
            outcome.reused = true;
            false
        }
        Err(why) => {
            progress.note(&format!("seed {}: {why}: building it", short(&key)));
            make(run, seed, &key, &tags, outcome)?;
            forget_others(run, &tags);
            true
        }
    };
    if let Some(cache) = cache.filter(|_| !run.stacks.stop.requested()) {
        match cache.save(&run.stacks.children, made) {
            Ok(true) => progress.note(&format!(
                "seed {}: saved to {}",
                short(&key),
                cache.file.display()
            )),
            Ok(false) => {}
            Err(err) => progress.warn(&format!("--seed-cache: {err:#}")),
        }
    }
    Ok(tags)
}

/// The seed loaded from `--seed-cache`'s file, if it holds this run's (else
/// it says why not): "loaded from FILE: ".
fn load_cached(
    run: &Seeding,
    cache: Option<&Cache>,
    tags: &BTreeMap<String, String>,
    key: &str,
) -> Option<String> {
    let cache = cache?;
    let file = cache.file.display();
    let not_loaded = |why: String| {
        let note = format!("seed {}: --seed-cache {file} {why}: not loaded", short(key));
        run.stacks.report.note(&note);
    };
    match cache.load(&run.stacks.children) {
        Ok(true) => {}
        Ok(false) => return None,
        Err(why) => {
            not_loaded(why);
            return None;
        }
    }
    // Loading may have moved a tag off an image this prefix had.
    forget_others(run, tags);
    match check(run, tags, key) {
        Ok(()) => Some(format!("loaded from {file}: ")),
        Err(why) => {
            let note = format!("seed {}: loaded from {file}, but {why}", short(key));
            run.stacks.report.note(&note);
            None
        }
    }
}

/// The key: a digest of everything the seed's contents depend on.
pub fn key(run: &Seeding, seed: &Seed) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        // Each part's length first: no two lists of parts hash alike.
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    part(FORMAT.as_bytes());
    for word in &seed.command {
        part(word.as_bytes());
    }
    for (key, value) in seed_env(run) {
        part(format!("{key}={value}").as_bytes());
    }
    for sidecar in &run.stacks.blueprint.sidecars {
        part(sidecar.as_bytes());
        part(
            run.stacks
                .blueprint
                .model
                .service(sidecar)
                .to_string()
                .as_bytes(),
        );
    }
    for path in seed.key_files.iter().flatten() {
        for file in files_under(path)? {
            part(file.display().to_string().as_bytes());
            let contents = std::fs::read(&file)
                .with_context(|| format!("--seed-key: cannot read {}", file.display()))?;
            part(&contents);
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// The `-e` variables the seed command gets: those that name nothing of one
/// shard (no placeholder).
fn seed_env<'a>(run: &Seeding<'a>) -> impl Iterator<Item = &'a (String, String)> {
    run.env.iter().filter(|(_, value)| !is_per_shard(value))
}

/// `path` itself, or every file under it in a stable order, but hidden ones
/// and Python's byte code: running the seed command must not change its key.
pub fn files_under(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let skipped = |entry: &walkdir::DirEntry| {
        entry.depth() > 0 && key_skips(&entry.file_name().to_string_lossy())
    };
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(path).sort_by_file_name();
    for entry in walk.into_iter().filter_entry(|entry| !skipped(entry)) {
        let entry = entry.with_context(|| format!("--seed-key: cannot read {}", path.display()))?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

fn short(key: &str) -> &str {
    &key[..16]
}

/// The image each sidecar's seed gets: kept under the key, or the run's own.
fn tags(run: &Seeding, seed: &Seed, key: &str) -> BTreeMap<String, String> {
    let names = &run.stacks.names;
    let key = seed.key_files.as_ref().map(|_| short(key));
    run.stacks
        .blueprint
        .sidecars
        .iter()
        .map(|sidecar| (sidecar.clone(), names.seed_image(sidecar, key)))
        .collect()
}

/// Whether every sidecar's seed is there and proves it is that sidecar's
/// seed under `key`, made from its configuration as resolved now; why not, if not.
fn check(run: &Seeding, tags: &BTreeMap<String, String>, key: &str) -> Result<(), String> {
    let children = &run.stacks.children;
    for (sidecar, tag) in tags {
        let Some(said) = image_inspect(children, tag, "{{json .Config.Labels}}")
            .map_err(|err| format!("{err:#}"))?
        else {
            return Err(format!("no image {tag}"));
        };
        let labels: BTreeMap<String, String> = serde_json::from_str(&said).unwrap_or_default();
        let base = configured_image(run, sidecar)
            .and_then(|image| image_field(children, &image, "{{.Id}}").map(|id| (image, id)));
        let expected = SeedOrigin {
            key,
            sidecar,
            config: &config_digest(run, sidecar),
            base: base
                .as_ref()
                .map(|(image, id)| (image.as_str(), id.as_str())),
        };
        expected.proven_by(tag, &labels)?;
    }
    Ok(())
}

/// The origin a seed image's labels must prove for it to be used.
struct SeedOrigin<'a> {
    key: &'a str,
    sidecar: &'a str,
    config: &'a str,
    /// The sidecar's image and its id on this host, when it is here: a seed
    /// made from another build of that image is stale. (A host that has
    /// only the seed, loaded from a cache, cannot tell; the key and the
    /// configuration still name the image.)
    base: Option<(&'a str, &'a str)>,
}

impl SeedOrigin<'_> {
    /// Whether the labels of `tag` prove this origin; what they say instead, if not.
    fn proven_by(&self, tag: &str, labels: &BTreeMap<String, String>) -> Result<(), String> {
        let label = |name: &str| labels.get(name).map_or("", String::as_str);
        if label(SEED_LABEL) != self.key {
            return Err(format!("{tag} is another key's seed"));
        }
        if label(SIDECAR_LABEL) != self.sidecar {
            let made_from = match label(SIDECAR_LABEL) {
                "" => "no sidecar's".to_string(),
                other => format!("{other}'s"),
            };
            return Err(format!("{tag} is {made_from} seed, not {}'s", self.sidecar));
        }
        if label(CONFIG_LABEL) != self.config {
            return Err(format!(
                "{tag} was made from another configuration of {}",
                self.sidecar
            ));
        }
        if let Some((image, id)) = self.base {
            if label(BASE_LABEL) != id {
                return Err(format!("{tag} was made from another {image} image"));
            }
        }
        Ok(())
    }
}

/// A digest of `sidecar`'s resolved configuration, as its seed's label records it.
fn config_digest(run: &Seeding, sidecar: &str) -> String {
    let config = run.stacks.blueprint.model.service(sidecar).to_string();
    format!("{:x}", Sha256::digest(config.as_bytes()))
}

/// The image `sidecar` runs, when it names one and is not built by the run.
fn configured_image(run: &Seeding, sidecar: &str) -> Option<String> {
    let config = run.stacks.blueprint.model.service(sidecar);
    if config.get("build").is_some() {
        return None;
    }
    config["image"].as_str().map(str::to_string)
}

/// Run the seed command in a stack of its own and capture its sidecars.
fn make(
    run: &Seeding,
    seed: &Seed,
    key: &str,
    tags: &BTreeMap<String, String>,
    outcome: &mut SeedOutcome,
) -> Result<(), Failure> {
    let stacks = run.stacks;
    let work = stacks.layout.work_folder();
    let log_path = work.join("seed.log");
    let log = Log::create(&log_path).exit_code(exit::INFRA)?;
    outcome.log = Some(log_path);
    let place = Place {
        project: stacks.names.seed_project(),
        file: work.join("seed.compose.json"),
        labels: stacks.names.run_labels(),
        out: None,
        resident: None,
    };
    let made_and_removed = match stacks.create(place, log) {
        Err(message) => Err(failed(message)),
        Ok(mut stack) => {
            let made = run_and_capture(run, seed, key, tags, &mut stack);
            let removed = stack.remove();
            made.and_then(|()| {
                removed
                    .map_err(|err| anyhow!("cannot remove the seed's stack: {err}"))
                    .exit_code(exit::INFRA)
            })
        }
    };
    if made_and_removed.is_err() {
        crate::engine::docker::untag(
            &stacks.children,
            &tags.values().cloned().collect::<Vec<_>>(),
        );
    }
    made_and_removed
}

fn run_and_capture(
    run: &Seeding,
    seed: &Seed,
    key: &str,
    tags: &BTreeMap<String, String>,
    stack: &mut Stack,
) -> Result<(), Failure> {
    let stacks = run.stacks;
    let limits = Limits::from_now(&stacks.stop, run.timeout).after(Some(&stacks.built));
    stack.up(&limits).map_err(failed)?;
    run_command(run, seed, stack, &limits)?;
    // Stopped as compose stops them: each sidecar saves its state cleanly.
    stack
        .stop_services()
        .map_err(|err| failed(format!("{err:#}")))?;
    // Out of the second signal's reach (see the module's comment).
    let capturing = Children::default();
    for (sidecar, tag) in tags {
        if stacks.stop.requested() {
            return Err(interrupted());
        }
        let note = format!("seed {}: capturing {sidecar}", short(key));
        stacks.report.note(&note);
        // The tag moves once the image is whole (another key's seed it named goes).
        capture(run, &capturing, stack.project(), sidecar, key, stack.log())
            .and_then(|image| {
                retag(&capturing, &image.id, tag)?;
                image.keep();
                Ok(())
            })
            .with_context(|| format!("cannot capture {sidecar}'s state"))
            .exit_code(exit::INFRA)?;
    }
    if stacks.stop.requested() {
        return Err(interrupted());
    }
    Ok(())
}

fn interrupted() -> Failure {
    Failure::new(exit::INFRA, anyhow!("seeding was interrupted"))
}

fn failed(message: String) -> Failure {
    Failure::new(exit::INFRA, anyhow!("seeding failed: {message}"))
}

/// The seed command, in the service's container: `compose run` as a shard's.
fn run_command(run: &Seeding, seed: &Seed, stack: &Stack, limits: &Limits) -> Result<(), Failure> {
    let stacks = run.stacks;
    let job = Job {
        command: seed.command.clone(),
        env: seed_env(run).cloned().collect(),
        public: Vec::new(),
        run_mount: None,
    };
    let (cmd, shown) = stack.command(&job);
    let log = stack.log();
    log.line(&format!("stack-run: $ {shown}"));
    let log_path = stacks.layout.work_folder().join("seed.log");
    stacks.report.note(&format!(
        "seeding: {} (its output: {})",
        seed.command.join(" "),
        log_path.display()
    ));
    let quiet = Arc::new(|_: &str| {});
    let ended = stacks
        .children
        .run_logged(cmd, log, quiet, || limits.reached());
    match ended {
        Ok(Ended::Exited(status)) if status.success() => Ok(()),
        Ok(Ended::Exited(status)) => Err(failed(format!(
            "the seed command exited with {status}; see {}",
            log_path.display()
        ))),
        Ok(Ended::Stopped) if stacks.stop.requested() => Err(interrupted()),
        Ok(Ended::Stopped) => Err(failed("the seed command timed out".into())),
        Err(err) => Err(failed(format!("{err:#}"))),
    }
}

/// The stopped container of `sidecar`, committed, with its volumes' contents
/// added at their paths: the seed image, removed unless kept.
fn capture<'a>(
    run: &Seeding,
    children: &'a Children,
    project: &str,
    sidecar: &str,
    key: &str,
    log: &Log,
) -> anyhow::Result<Made<'a>> {
    let container = only_container(children, project, sidecar)?;
    let inspected = inspect(children, &["inspect", &container])?;
    let committed = commit(run, children, &inspected, sidecar, key, log)?;
    let mounts = inspected["Mounts"].as_array().cloned().unwrap_or_default();
    let (volumes, others): (Vec<Value>, Vec<Value>) = mounts
        .into_iter()
        .partition(|mount| mount["Type"] == "volume");
    for mount in others {
        log.line(&format!(
            "stack-run: warning: {sidecar}'s {} is a {} mount: not part of the seed",
            mount["Destination"].as_str().unwrap_or("?"),
            mount["Type"].as_str().unwrap_or("?")
        ));
    }
    // Without volumes, the commit is the seed.
    if volumes.is_empty() {
        return Ok(committed);
    }
    let folder = run
        .stacks
        .layout
        .work_folder()
        .join(format!("seed-{sidecar}"));
    let staged = stage(folder, |folder| {
        copy_volumes(children, &container, &volumes, folder, &committed.id)
    })?;
    let mut build = docker(&["build", "--force-rm", "-q"]);
    build
        .arg(&staged.0)
        // The engine's own builder sees the image just committed; a builder
        // of buildx's docker-container driver would not.
        .env("BUILDX_BUILDER", "default");
    log.line(&format!("stack-run: $ {}", describe(&build)));
    let built = output(children, build).map(|id| Made {
        children,
        id,
        kept: false,
    });
    // With the legacy builder the commit is the seed's parent and stays as long
    // as it does; otherwise it goes now.
    drop(committed);
    drop(staged);
    built
}

/// The build context of a sidecar's seed image: its volumes' archives (a
/// full copy of its data) and the Dockerfile `write` returns for them.
/// Removed when dropped, so no way out of a capture leaves a copy behind.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `folder` made and filled by `write`, which returns the Dockerfile.
fn stage(
    folder: PathBuf,
    write: impl FnOnce(&Path) -> anyhow::Result<String>,
) -> anyhow::Result<Staged> {
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let staged = Staged(folder);
    let dockerfile = write(&staged.0)?;
    let path = staged.0.join("Dockerfile");
    std::fs::write(&path, dockerfile)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(staged)
}

/// `docker commit` of the sidecar's stopped container, labelled with where
/// it comes from (see [`SeedOrigin`]) and its own image's environment back.
fn commit<'a>(
    run: &Seeding,
    children: &'a Children,
    inspected: &Value,
    sidecar: &str,
    key: &str,
    log: &Log,
) -> anyhow::Result<Made<'a>> {
    let image = inspected["Image"].as_str().unwrap_or_default();
    let image_env = inspect(children, &["image", "inspect", image])?["Config"]["Env"].clone();
    let mut commit = docker(&["commit"]);
    for change in restore_env(&inspected["Config"]["Env"], &image_env) {
        commit.arg("--change").arg(change);
    }
    let origin = [
        (SEED_LABEL, key.to_string()),
        (SIDECAR_LABEL, sidecar.to_string()),
        (CONFIG_LABEL, config_digest(run, sidecar)),
        (BASE_LABEL, image.to_string()),
    ];
    for (label, value) in origin {
        commit
            .arg("--change")
            .arg(format!("LABEL {label}=\"{value}\""));
    }
    commit.arg(inspected["Id"].as_str().unwrap_or_default());
    log.line(&format!("stack-run: $ {}", describe(&commit)));
    let id = output(children, commit)?;
    Ok(Made {
        children,
        id,
        kept: false,
    })
}

/// Each volume of `container` archived into `folder`: the Dockerfile that
/// adds them to `committed`.
fn copy_volumes(
    children: &Children,
    container: &str,
    volumes: &[Value],
    folder: &Path,
    committed: &str,
) -> anyhow::Result<String> {
    let mut dockerfile = format!("FROM {committed}\n");
    for (index, mount) in volumes.iter().enumerate() {
        let target = mount["Destination"].as_str().unwrap_or_default();
        let archive = format!("volume-{index}.tar");
        let cmd = docker(&["cp", &format!("{container}:{target}"), "-"]);
        let shown = describe(&cmd);
        let file = std::fs::File::create(folder.join(&archive))
            .with_context(|| format!("cannot create {}", folder.join(&archive).display()))?;
        let copied = children.capture_into(cmd, file)?;
        if !copied.status.success() {
            bail!(
                "{shown} failed: {}",
                String::from_utf8_lossy(&copied.stderr).trim()
            );
        }
        // The archive holds the folder itself: unpacked into its parent.
        let parent = Path::new(target).parent().unwrap_or(Path::new("/"));
        let add = serde_json::json!([archive, format!("{}/", parent.display())]);
        dockerfile.push_str(&format!("ADD {add}\n"));
    }
    Ok(dockerfile)
}

/// An image a capture made: removed when dropped unless kept, so that a
/// capture cut short (a failed `docker cp`, a failed build or tag, a stop)
/// leaves no labelled `<none>` image behind.
struct Made<'a> {
    children: &'a Children,
    id: String,
    kept: bool,
}

impl Made<'_> {
    /// The capture completed: the image is the seed's now.
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let _ = self.children.capture(docker(&["rmi", &self.id]));
        }
    }
}

/// The one container of `sidecar` in `project`.
fn only_container(children: &Children, project: &str, sidecar: &str) -> anyhow::Result<String> {
    let ids = list(
        children,
        &[
            "ps",
            "-aq",
            "--filter",
            &labels::filter(labels::COMPOSE_PROJECT, project),
            "--filter",
            &labels::filter(labels::COMPOSE_SERVICE, sidecar),
        ],
    )?;
    match ids.as_slice() {
        [id] => Ok(id.clone()),
        _ => bail!("expected one container of {sidecar}, found {}", ids.len()),
    }
}

/// The `ENV` changes that give the committed image its own image's
/// environment back: what compose set (a password, say) is set again for
/// every shard, and has no place in an image a CI cache keeps.
fn restore_env(container: &Value, image: &Value) -> Vec<String> {
    let pairs = |env: &Value| -> BTreeMap<String, String> {
        env.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let (container, image) = (pairs(container), pairs(image));
    let mut lines = Vec::new();
    for key in container.keys() {
        let value = image.get(key).map_or("", String::as_str);
        if container[key] != value {
            let escaped: String = value
                .chars()
                .flat_map(|c| match c {
                    '\\' | '"' | '$' => vec!['\\', c],
                    '\n' => vec!['\\', 'n'],
                    c => vec![c],
                })
                .collect();
            lines.push(format!("ENV {key}=\"{escaped}\""));
        }
    }
    lines
}

/// Remove this prefix's seed images but the ones `tags` name: older keys'
/// seeds, and untagged ones (a tag moved elsewhere, a capture another run
/// lost): one seed a prefix. Another run's own seed (PREFIX-RUNID-seed-…)
/// is not one of them; an image still in use stays.
fn forget_others(run: &Seeding, tags: &BTreeMap<String, String>) {
    let children = &run.stacks.children;
    let mut cmd = docker(&[
        "images",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
    ]);
    cmd.args([
        "--filter",
        &labels::filter(labels::PREFIX, &run.stacks.names.prefix),
    ]);
    cmd.args(["--filter", &format!("label={SEED_LABEL}")]);
    let listed = output(children, cmd).unwrap_or_default();
    let listed: Vec<(&str, &str)> = listed
        .lines()
        .filter_map(|line| line.split_once(' '))
        .collect();
    let current: Vec<&str> = listed
        .iter()
        .filter(|(_, name)| tags.values().any(|tag| tag == name))
        .map(|(id, _)| *id)
        .collect();
    let kept = format!("{}-seed-", run.stacks.names.prefix);
    // An untagged image goes by its id, a tagged one by its tag (an id
    // with several tags is refused without force).
    let others: Vec<&str> = listed
        .iter()
        .filter(|(id, _)| !current.contains(id))
        .filter_map(|&(id, name)| match name {
            "<none>:<none>" => Some(id),
            name if name.starts_with(&kept) => Some(name),
            _ => None,
        })
        .collect();
    if !others.is_empty() {
        let mut cmd = docker(&["rmi"]);
        cmd.args(&others);
        let _ = children.capture(cmd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_environment_compose_added_is_undone() {
        let container = json!([
            "PATH=/usr/bin",
            "PGDATA=/data",
            "POSTGRES_PASSWORD=s3cr\"t$x"
        ]);
        let image = json!(["PATH=/usr/bin", "PGDATA=/var/lib/pg"]);
        assert_eq!(
            restore_env(&container, &image),
            ["ENV PGDATA=\"/var/lib/pg\"", "ENV POSTGRES_PASSWORD=\"\""]
        );
    }

    #[test]
    fn a_seed_image_proves_its_key_sidecar_configuration_and_base() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let db = SeedOrigin {
            key: "k1",
            sidecar: "db",
            config: "c1",
            base: Some(("postgres:15", "sha256:b1")),
        };
        let made = [
            (SEED_LABEL, "k1"),
            (SIDECAR_LABEL, "db"),
            (CONFIG_LABEL, "c1"),
            (BASE_LABEL, "sha256:b1"),
        ];
        assert_eq!(db.proven_by("t", &labels(&made)), Ok(()));
        let without_base = SeedOrigin { base: None, ..db };
        let rebased = [&made[..3], &[(BASE_LABEL, "sha256:b0")]].concat();
        assert_eq!(without_base.proven_by("t", &labels(&rebased)), Ok(()));
        let db = SeedOrigin {
            base: Some(("postgres:15", "sha256:b1")),
            ..without_base
        };
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[], "t is another key's seed"),
            (&[(SEED_LABEL, "k0")], "t is another key's seed"),
            (
                &[(SEED_LABEL, "k1"), (SIDECAR_LABEL, "cache")],
                "t is cache's seed, not db's",
            ),
            (&made[..1], "t is no sidecar's seed, not db's"),
            (
                &[made[0], made[1], (CONFIG_LABEL, "c0")],
                "t was made from another configuration of db",
            ),
        ];
        for (given, why) in cases {
            assert_eq!(db.proven_by("t", &labels(given)), Err(why.to_string()));
        }
        assert_eq!(
            db.proven_by("t", &labels(&rebased)),
            Err("t was made from another postgres:15 image".to_string())
        );
    }

    #[test]
    fn a_capture_cut_short_leaves_no_copy_of_the_volumes() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("seed-db");
        // `docker cp` wrote one archive, then failed.
        let failed = stage(folder.clone(), |folder| {
            std::fs::write(folder.join("volume-0.tar"), "the whole database")?;
            bail!("docker cp db:/var/lib/postgresql/data - failed")
        });
        assert!(failed.is_err());
        assert!(!folder.exists(), "{} left behind", folder.display());
        // Staged whole: there until the build is done with it.
        let staged = stage(folder.clone(), |_| Ok("FROM seed\n".into())).unwrap();
        let dockerfile = std::fs::read_to_string(folder.join("Dockerfile")).unwrap();
        assert_eq!(dockerfile, "FROM seed\n");
        drop(staged);
        assert!(!folder.exists());
    }

    #[test]
    fn a_folder_keys_by_its_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/2.py"), "x").unwrap();
        std::fs::write(dir.path().join("a.py"), "y").unwrap();
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/a.pyc"), "z").unwrap();
        std::fs::write(dir.path().join(".a.py.swp"), "z").unwrap();
        let files = files_under(dir.path()).unwrap();
        assert_eq!(files, [dir.path().join("a.py"), dir.path().join("b/2.py")]);
        assert!(files_under(&dir.path().join("nope")).is_err());
    }
}
