//! The run's images: every service with `build:` built once, before (or
//! while) the shards start, tagged for this run and for the next run's cache.
//! The image kept from an earlier run is used without a build when it was
//! built from the same inputs (see `build_key`); a build says why it runs,
//! where its log is, and, when it takes a while, which step it is at.
//!
//! A stop kills the build, except in an image's last step (the legacy
//! builder's label step, BuildKit's export): the daemon finishes that step
//! even when its client is gone, and would leave a labelled container and an
//! untagged image behind after stack-run exits. That step takes a second, so
//! the build finishes instead, and the run's tag, its only tag then, is
//! removed with the rest.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use shared::exit::{self, ExitContext, Failure};

use crate::engine::build_key::{BuildKey, Decision, labels_of};
use crate::engine::docker::{docker, image_field};
use crate::engine::proc::{Children, Ended, Log};
use crate::model::report::Report;
use crate::stack::Stacks;

/// Build, then open the run's gate with the outcome: shards wait on it.
pub fn build_and_open(stacks: &Stacks) {
    let built = build(stacks).map_err(Arc::new);
    if let Err(failure) = &built {
        stacks.report.note(&format!("{:#}", failure.error()));
    }
    stacks.built.open(built);
}

/// Build every service that has `build:`, once, tagged for this run; or
/// take the image an earlier run built from the same inputs.
fn build(stacks: &Stacks) -> Result<(), Failure> {
    let images = &stacks.blueprint.images;
    if images.is_empty() {
        return Ok(());
    }
    let stop = &stacks.stop;
    if stop.requested() {
        return Err(interrupted());
    }
    let keys = reuse_or_choose(stacks)?;
    if keys.is_empty() {
        return Ok(());
    }
    let services: Vec<String> = keys.keys().cloned().collect();
    let file = stacks.layout.build_compose_file();
    let derived = derived_file(stacks, &keys);
    std::fs::write(&file, derived.to_string())
        .with_context(|| format!("cannot write {}", file.display()))
        .exit_code(exit::INFRA)?;
    let log = Log::create(&stacks.layout.build_log()).exit_code(exit::INFRA)?;
    compose_build(stacks, &services, &file, &log)?;
    // Finished during a stop: no cache tag, so the run's tag goes with the image.
    if stop.requested() {
        return Err(interrupted());
    }
    let children = &stacks.children;
    for service in &services {
        let image = &images[service];
        let cache = stacks.names.cache_tag(service);
        // The run has its image; only the next run's cache would miss it.
        if let Err(err) = retag(children, image, &cache) {
            log.line(&format!("stack-run: {err:#}"));
        }
    }
    Ok(())
}

/// Run `compose build` of `services` from `file` to its end, its output in
/// `log`, its progress said; stopped by a stop, but not in a last step.
fn compose_build(
    stacks: &Stacks,
    services: &[String],
    file: &Path,
    log: &Log,
) -> Result<(), Failure> {
    let log_path = stacks.layout.build_log();
    let stop = &stacks.stop;
    let mut cmd = stacks
        .blueprint
        .compose
        .project(&stacks.names.build_project(), file);
    // The legacy builder keeps a failed step's container unless told not to:
    // a failed build must leave nothing behind either.
    cmd.arg("build").arg("--force-rm").args(services);
    // How many images are in their last step (compose v2 builds several at once).
    let finishing = Arc::new(AtomicIsize::new(0));
    let watch = Watch::new(stacks, services);
    let on_line = {
        let finishing = Arc::clone(&finishing);
        Arc::new(move |line: &str| {
            watch.line(line);
            match last_step(line) {
                Some(Edge::Begins) => _ = finishing.fetch_add(1, Ordering::SeqCst),
                Some(Edge::Ends) => _ = finishing.fetch_sub(1, Ordering::SeqCst),
                None => {}
            }
        })
    };
    let started = Instant::now();
    // The build has its own registry of children, out of the second signal's
    // reach: its stop check below already kills it, but never in a last step.
    let ended = Children::default()
        .run_logged(cmd, log, on_line, || {
            stop.requested() && finishing.load(Ordering::SeqCst) <= 0
        })
        .exit_code(exit::INFRA)?;
    match ended {
        Ended::Exited(status) if status.success() => {}
        Ended::Exited(status) => {
            return Err(anyhow!(
                "building {} failed ({status}); see {}",
                services.join(", "),
                log_path.display()
            ))
            .exit_code(exit::INFRA);
        }
        Ended::Stopped => return Err(interrupted()),
    }
    stacks.report.note(&format!(
        "built {} in {:.1} s",
        services.join(", "),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// For each service, the image kept from an earlier run when it was built
/// from the same inputs (tagged for this run, and said), else a build (and
/// why): the services to build, with the key each image will carry.
fn reuse_or_choose(stacks: &Stacks) -> Result<BTreeMap<String, Option<BuildKey>>, Failure> {
    let children = &stacks.children;
    let progress = &stacks.report;
    let mut to_build = BTreeMap::new();
    for (service, image) in &stacks.blueprint.images {
        let cache = stacks.names.cache_tag(service);
        let key = BuildKey::of(children, &stacks.blueprint.model.service(service)["build"]);
        let decision = match &key {
            Ok(key) => key.decide(&cache, labels_of(children, &cache).as_ref()),
            Err(why) => Decision::Build(format!("{why:#}: no image can be reused")),
        };
        match decision {
            Decision::Reuse => {
                retag(children, &cache, image).exit_code(exit::INFRA)?;
                progress.note(&format!(
                    "{service}: reusing {cache}, built from the same context, Dockerfile, \
                     build options and base image (not built again)"
                ));
            }
            Decision::Build(why) => {
                progress.note(&format!(
                    "building {service}: {why} (its log: {})",
                    stacks.layout.build_log_note()
                ));
                to_build.insert(service.clone(), key.ok());
            }
        }
    }
    Ok(to_build)
}

/// The build's compose file: the services to build, each labelled with the
/// key of what it is built from.
fn derived_file(stacks: &Stacks, keys: &BTreeMap<String, Option<BuildKey>>) -> serde_json::Value {
    let images: BTreeMap<String, String> = keys
        .keys()
        .map(|service| (service.clone(), stacks.blueprint.images[service].clone()))
        .collect();
    let mut derived = stacks
        .blueprint
        .model
        .build_file(&stacks.names.build_labels(), &images);
    for (service, key) in keys {
        if let Some(key) = key {
            crate::model::derive::add_labels(
                &mut derived["services"][service]["build"],
                &key.labels(),
            );
        }
    }
    derived
}

/// What the build's output says of its progress: after a few seconds, the
/// step it is at, every so often, so a long build is seen working.
struct Watch {
    progress: Arc<dyn Report>,
    what: String,
    started: Instant,
    /// When the last progress line was written; `None` before the first.
    last_note: Mutex<Option<Instant>>,
}

/// A build quicker than this is not worth a progress line.
const QUIET: Duration = Duration::from_secs(5);
/// At most one progress line this often.
const EVERY: Duration = Duration::from_secs(15);

impl Watch {
    fn new(stacks: &Stacks, services: &[String]) -> Watch {
        let started = Instant::now();
        Watch {
            progress: Arc::clone(&stacks.report),
            what: format!(
                "building {} (its log: {})",
                services.join(", "),
                stacks.layout.build_log_note()
            ),
            started,
            last_note: Mutex::new(None),
        }
    }

    fn line(&self, line: &str) {
        let Some(step) = step(line) else { return };
        let mut last = self.last_note.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if !note_due(self.started, *last, now) {
            return;
        }
        *last = Some(now);
        let seconds = self.started.elapsed().as_secs();
        self.progress
            .note(&format!("{}: {seconds} s, at {step}", self.what));
    }
}

/// Whether a progress line is due at `now`: the first once the build has
/// run `QUIET`, then one each `EVERY`. Only later instants are subtracted
/// from: an `Instant` minus a duration can panic while the monotonic clock
/// is still small (just after boot).
fn note_due(started: Instant, last: Option<Instant>, now: Instant) -> bool {
    match last {
        None => now.saturating_duration_since(started) >= QUIET,
        Some(last) => now.saturating_duration_since(last) >= EVERY,
    }
}

/// A build step the output starts: the legacy builder's `Step 3/7 : RUN …`,
/// BuildKit's `#7 [app 3/7] RUN …`.
fn step(line: &str) -> Option<String> {
    let line = line.trim();
    let step = if line.starts_with("Step ") && line.contains(" : ") {
        line
    } else {
        let (_, rest) = line.strip_prefix('#')?.split_once(' ')?;
        rest.starts_with('[').then_some(rest)?
    };
    Some(step.chars().take(120).collect())
}

/// Point `tag` at `image`. The image the tag named before goes if nothing
/// names it any more: a build that gives identical layers a new id
/// (BuildKit does) would otherwise leave it untagged, run after run.
pub fn retag(children: &Children, image: &str, tag: &str) -> anyhow::Result<()> {
    let before = image_id(children, tag);
    let output = children.capture(docker(&["tag", image, tag]))?;
    if !output.status.success() {
        anyhow::bail!(
            "cannot tag {image} as {tag}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // Removing an image by id also removes its last tag: another run's
    // (PREFIX-RUNID-app, say) keeps it. Not forced: one a container uses stays.
    if let Some(before) =
        before.filter(|id| image_field(children, id, "{{len .RepoTags}}") == Some("0".into()))
    {
        let _ = children.capture(docker(&["rmi", &before]));
    }
    Ok(())
}

/// The id of the image `tag` names, if it names one.
fn image_id(children: &Children, tag: &str) -> Option<String> {
    image_field(children, tag, "{{.Id}}")
}

fn interrupted() -> Failure {
    Failure::new(exit::INFRA, anyhow!("the build was interrupted"))
}

/// Where an image's last step begins or ends, in compose's build output.
#[derive(Debug, PartialEq)]
enum Edge {
    Begins,
    Ends,
}

/// The legacy builder's last step is `Step N/N : …`, done at `Successfully
/// tagged …`; BuildKit's is `exporting to image`, done once the image is named.
fn last_step(line: &str) -> Option<Edge> {
    let line = line.trim();
    if let Some((step, _)) = line.strip_prefix("Step ").and_then(|s| s.split_once(" :")) {
        let (number, count) = step.split_once('/')?;
        return (number == count).then_some(Edge::Begins);
    }
    if line.starts_with("Successfully tagged ") {
        return Some(Edge::Ends);
    }
    let step = line.split_once(' ').map_or("", |(_, rest)| rest);
    if step.ends_with("exporting to image") {
        return Some(Edge::Begins);
    }
    if step.starts_with("naming to ") && step.ends_with(" done") {
        return Some(Edge::Ends);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_step_a_build_is_at() {
        assert_eq!(
            step("Step 3/7 : RUN pip install -r requirements.txt").as_deref(),
            Some("Step 3/7 : RUN pip install -r requirements.txt")
        );
        assert_eq!(
            step("#7 [app 3/7] RUN pip install x").as_deref(),
            Some("[app 3/7] RUN pip install x")
        );
        assert_eq!(step("#7 0.512 Collecting django"), None);
        assert_eq!(step(" ---> Running in abdb337265cf"), None);
    }

    #[test]
    fn a_progress_line_after_five_seconds_then_each_fifteen() {
        let started = Instant::now();
        let at = |seconds| started + Duration::from_secs(seconds);
        assert!(!note_due(started, None, started));
        assert!(!note_due(started, None, at(4)));
        assert!(note_due(started, None, at(5)));
        assert!(!note_due(started, Some(at(5)), at(19)));
        assert!(note_due(started, Some(at(5)), at(20)));
    }

    #[test]
    fn finds_the_last_step_of_either_builder() {
        assert_eq!(
            last_step("Step 5/5 : LABEL io.shardstack.prefix=p"),
            Some(Edge::Begins)
        );
        assert_eq!(last_step("Step 4/5 : RUN sleep 1"), None);
        assert_eq!(last_step(" ---> Running in abdb337265cf"), None);
        assert_eq!(
            last_step("Successfully tagged p-1a2b-app:latest"),
            Some(Edge::Ends)
        );
        assert_eq!(last_step("#7 [app] exporting to image"), Some(Edge::Begins));
        assert_eq!(last_step("#7 exporting to image"), Some(Edge::Begins));
        assert_eq!(last_step("#7 exporting layers 1.4s done"), None);
        assert_eq!(
            last_step("#7 naming to docker.io/library/p-1a2b-app done"),
            Some(Edge::Ends)
        );
        assert_eq!(last_step("#7 naming to docker.io/library/p-1a2b-app"), None);
    }
}
