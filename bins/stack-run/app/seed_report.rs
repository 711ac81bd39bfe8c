//! The seed's account: what `--seed` cost and gave, where people look.
//!
//! Seeding can take minutes before the first shard starts; a run that says
//! nothing of it reads as shards that took long to start, and a shard that
//! found its database ready cannot tell why. So seeding gets its own results
//! line (time and outcome, before any shard's), and every shard's or
//! batch's log says which seed its sidecars started from and how old it is.

use std::time::Instant;

use shared::exit::Failure;
use shared::results::{SeedResult, Status};

use crate::app::context::Context;
use crate::engine::docker::image_field;
use crate::model::seed_source::{SeedSource, epoch_seconds};
use crate::schedule::seed::{Seed, SeedOutcome};
use crate::stack::Seeds;

/// Seed the sidecars (see `seed`) and account for it: its results line on
/// stdout, the sources the shards' logs name.
pub fn seed_and_report(ctx: &Context, seed: &Seed) -> Result<(), Failure> {
    let started_seconds = ctx.runtime.started.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut outcome = SeedOutcome::default();
    let seeded = crate::schedule::seed::seed(&ctx.seeding(), seed, &mut outcome);
    let seconds = start.elapsed().as_secs_f64();
    let (status, images, message) = match &seeded {
        Ok(images) => (Status::Passed, images.clone(), None),
        Err(failure) => {
            let status = match ctx.runtime.stop.requested() {
                true => Status::Interrupted,
                false => Status::Error,
            };
            (
                status,
                Default::default(),
                Some(format!("{:#}", failure.error())),
            )
        }
    };
    let line = SeedResult {
        seed: outcome.key.clone(),
        status,
        reused: outcome.reused,
        started_seconds,
        seconds,
        images,
        log: outcome.log.as_ref().map(|log| log.display().to_string()),
        message,
    };
    // A closed stdout is not an error: the shards' lines find it closed too.
    let _ = ctx.runtime.progress.print(&line.to_line());
    let images = seeded?;
    let key = outcome.key.unwrap_or_default();
    let sources = images
        .iter()
        .map(|(sidecar, image)| SeedSource {
            sidecar: sidecar.clone(),
            image: image.clone(),
            key: key.clone(),
            created: created(ctx, image),
            reused: outcome.reused,
        })
        .collect();
    let _ = ctx.stacks.seeds.set(Seeds { images, sources });
    Ok(())
}

/// When `image` was made, from Docker's `Created` (RFC 3339, UTC).
fn created(ctx: &Context, image: &str) -> Option<u64> {
    epoch_seconds(&image_field(&ctx.runtime.children, image, "{{.Created}}")?)
}
