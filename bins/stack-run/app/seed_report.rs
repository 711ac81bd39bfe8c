//! The seed's account: what `--seed` cost and gave, where people look.
//!
//! Seeding can take minutes before the first shard starts; a run that says
//! nothing of it reads as shards that took long to start, and a shard that
//! found its database ready cannot tell why. So seeding gets its own results
//! line (time and outcome, before any shard's), and every shard's or
//! batch's log says which seed its sidecars started from and how old it is.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use shared::exit::Failure;
use shared::results::{SeedResult, Status};
use shared::time;

use crate::app::context::Context;
use crate::engine::docker::docker;
use crate::engine::proc::Log;
use crate::schedule::seed::{Seed, SeedOutcome};

/// Where a sidecar's state comes from in a seeded run: the seed image, and
/// whether this run made it; each shard's log names it.
pub struct SeedSource {
    sidecar: String,
    image: String,
    key: String,
    /// When the image was made, in seconds since the epoch, if Docker says.
    created: Option<u64>,
    /// Made by an earlier run and found under its key.
    reused: bool,
}

/// Seed the sidecars (see `seed`) and account for it: its results line on
/// stdout, the sources the shards' logs name.
pub fn seed_and_report(ctx: &Context, seed: &Seed) -> Result<(), Failure> {
    let started_seconds = ctx.runtime.started.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut outcome = SeedOutcome::default();
    let seeded = crate::schedule::seed::seed(ctx, seed, &mut outcome);
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
    let _ = ctx.runtime.seed_sources.set(sources);
    let _ = ctx.runtime.seeds.set(images);
    Ok(())
}

/// Say in a shard's (or batch's, or stack's) log which seed each sidecar
/// started from; nothing in a run without one.
pub fn note_seed_sources(ctx: &Context, log: &Log) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for source in ctx.runtime.seed_sources.get().into_iter().flatten() {
        log.line(&source.describe(now));
    }
}

impl SeedSource {
    /// `stack-run: db starts from seed KEY: image TAG, made …, N ago; …`
    fn describe(&self, now: u64) -> String {
        let made = match self.created {
            Some(created) => format!(
                "made {} ({} ago)",
                utc(created),
                age(now.saturating_sub(created))
            ),
            None => "made at a time Docker does not say".into(),
        };
        let by = match self.reused {
            true => "found under its key: made by an earlier run",
            false => "made by this run",
        };
        format!(
            "stack-run: {} starts from seed {}: image {}, {made}; {by}",
            self.sidecar, self.key, self.image
        )
    }
}

/// When `image` was made, from Docker's `Created` (RFC 3339, UTC).
fn created(ctx: &Context, image: &str) -> Option<u64> {
    let cmd = docker(&["image", "inspect", "--format", "{{.Created}}", image]);
    let output = ctx.runtime.children.capture(cmd).ok()?;
    if !output.status.success() {
        return None;
    }
    epoch_seconds(String::from_utf8_lossy(&output.stdout).trim())
}

/// Seconds since the epoch of `2026-12-07T12:01:02.123456789Z`; `None`
/// for anything else (a zone other than UTC, say).
fn epoch_seconds(text: &str) -> Option<u64> {
    time::parse_iso(text.strip_suffix('Z')?).map(|us| us / 1_000_000)
}

/// `2026-12-07 12:01:02 UTC`, from seconds since the epoch.
fn utc(epoch: u64) -> String {
    let iso = time::format_iso(epoch * 1_000_000);
    format!("{} {} UTC", &iso[..10], &iso[11..19])
}

/// An age as people read it: `42 s`, `3 min`, `5 h 12 min`, `2 days 4 h`.
fn age(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86_400 => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{} days {} h", seconds / 86_400, seconds % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_creation_time_reads_and_prints_back() {
        let created = epoch_seconds("2026-12-07T12:01:02.123456789Z").unwrap();
        assert_eq!(created, 1_796_644_862);
        assert_eq!(utc(created), "2026-12-07 12:01:02 UTC");
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(epoch_seconds("2026-12-07T12:01:02+01:00"), None);
        assert_eq!(epoch_seconds("yesterday"), None);
    }

    #[test]
    fn a_shard_log_names_the_seed_its_image_and_its_age() {
        let source = SeedSource {
            sidecar: "db".into(),
            image: "ci-seed-db:0a1b2c3d4e5f6789".into(),
            key: "0a1b2c3d4e5f6789".into(),
            created: Some(1_796_644_862),
            reused: true,
        };
        assert_eq!(
            source.describe(1_796_644_862 + 3 * 86_400 + 7200 + 5),
            "stack-run: db starts from seed 0a1b2c3d4e5f6789: image ci-seed-db:0a1b2c3d4e5f6789, \
             made 2026-12-07 12:01:02 UTC (3 days 2 h ago); found under its key: made by an earlier run"
        );
        assert_eq!(age(59), "59 s");
        assert_eq!(age(3 * 60 + 12), "3 min");
        assert_eq!(age(5 * 3600 + 12 * 60), "5 h 12 min");
    }
}
