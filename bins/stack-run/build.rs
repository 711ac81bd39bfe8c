//! The run's images: every service with `build:` built once, before (or
//! while) the shards start, tagged for this run and for the next run's cache.

use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use shared::exit::{self, ExitContext, Failure};

use crate::context::Context;
use crate::proc::{Ended, Log};
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
    let children = &ctx.runtime.children;
    let ended = children
        .run_logged(cmd, &log, Arc::new(|_: &str| {}), || {
            ctx.runtime.stop.requested()
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
        Ended::Stopped => return Err(anyhow!("the build was interrupted")).exit_code(exit::INFRA),
    }
    for (service, image) in images {
        let cache = ctx.names.cache_tag(service);
        let output = children
            .capture(docker(&["tag", image, &cache]))
            .exit_code(exit::INFRA)?;
        if !output.status.success() {
            log.line(&format!("stack-run: cannot tag {image} as {cache}"));
        }
    }
    Ok(())
}
