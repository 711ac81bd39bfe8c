//! The run's images: every service with `build:` built once, before (or
//! while) the shards start, tagged for this run and for the next run's cache.
//!
//! A stop kills the build, except in an image's last step (the legacy
//! builder's label step, BuildKit's export): the daemon finishes that step
//! even when its client is gone, and would leave a labelled container and an
//! untagged image behind after stack-run exits. That step takes a second, so
//! the build finishes instead, and the run's tag, its only tag then, is
//! removed with the rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use anyhow::{Context as _, anyhow};
use shared::exit::{self, ExitContext, Failure};

use crate::context::Context;
use crate::proc::{Children, Ended, Log};
use crate::sweep::docker;

/// Build, then open the run's gate with the outcome: shards wait on it.
pub fn build_and_open(ctx: &Context) {
    let built = build(ctx).map_err(Arc::new);
    if let Err(failure) = &built {
        ctx.runtime.progress.note(&format!("{:#}", failure.error()));
    }
    ctx.runtime.built.open(built);
}

/// Build every service that has `build:`, once, tagged for this run.
fn build(ctx: &Context) -> Result<(), Failure> {
    let images = &ctx.stack.images;
    if images.is_empty() {
        return Ok(());
    }
    let services: Vec<String> = images.keys().cloned().collect();
    let stop = &ctx.runtime.stop;
    if stop.requested() {
        return Err(interrupted());
    }
    let file = ctx.layout.build_compose_file();
    let derived = ctx
        .stack
        .model
        .build_file(&ctx.names.build_labels(), images);
    std::fs::write(&file, derived.to_string())
        .with_context(|| format!("cannot write {}", file.display()))
        .exit_code(exit::INFRA)?;
    let log_path = ctx.layout.build_log();
    let log = Log::create(&log_path).exit_code(exit::INFRA)?;
    ctx.runtime
        .progress
        .note(&format!("building {}", services.join(", ")));
    let mut cmd = ctx.stack.compose.project(&ctx.names.build_project(), &file);
    // The legacy builder keeps a failed step's container unless told not to:
    // a failed build must leave nothing behind either.
    cmd.arg("build").arg("--force-rm").args(&services);
    // How many images are in their last step (compose v2 builds several at once).
    let finishing = Arc::new(AtomicIsize::new(0));
    let on_line = {
        let finishing = Arc::clone(&finishing);
        Arc::new(move |line: &str| match last_step(line) {
            Some(Edge::Begins) => _ = finishing.fetch_add(1, Ordering::SeqCst),
            Some(Edge::Ends) => _ = finishing.fetch_sub(1, Ordering::SeqCst),
            None => {}
        })
    };
    // The build has its own registry of children, out of the second signal's
    // reach: its stop check below already kills it, but never in a last step.
    let ended = Children::default()
        .run_logged(cmd, &log, on_line, || {
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
    // Finished during a stop: no cache tag, so the run's tag goes with the image.
    if stop.requested() {
        return Err(interrupted());
    }
    let children = &ctx.runtime.children;
    for (service, image) in images {
        let cache = ctx.names.cache_tag(service);
        // The run has its image; only the next run's cache would miss it.
        if let Err(err) = retag(children, image, &cache) {
            log.line(&format!("stack-run: {err:#}"));
        }
    }
    Ok(())
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
        before.filter(|id| inspect(children, id, "{{len .RepoTags}}") == Some("0".into()))
    {
        let _ = children.capture(docker(&["rmi", &before]));
    }
    Ok(())
}

/// The id of the image `tag` names, if it names one.
fn image_id(children: &Children, tag: &str) -> Option<String> {
    inspect(children, tag, "{{.Id}}")
}

/// What `format` says of `image`, if there is such an image.
fn inspect(children: &Children, image: &str, format: &str) -> Option<String> {
    let output = children
        .capture(docker(&["image", "inspect", "--format", format, image]))
        .ok()?;
    let said = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !said.is_empty()).then_some(said)
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
