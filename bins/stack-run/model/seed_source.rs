//! Where a seeded sidecar's state comes from, as each shard's log says it:
//! which seed, which image, how old, made by whom.

use shared::time;

/// Where a sidecar's state comes from in a seeded run: the seed image, and
/// whether this run made it; each shard's log names it.
pub struct SeedSource {
    pub sidecar: String,
    pub image: String,
    pub key: String,
    /// When the image was made, in seconds since the epoch, if Docker says.
    pub created: Option<u64>,
    /// Made by an earlier run and found under its key.
    pub reused: bool,
}

impl SeedSource {
    /// `stack-run: db starts from seed KEY: image TAG, made …, N ago; …`
    pub fn describe(&self, now: u64) -> String {
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

/// Seconds since the epoch of `2026-12-07T12:01:02.123456789Z`; `None`
/// for anything else (a zone other than UTC, say).
pub fn epoch_seconds(text: &str) -> Option<u64> {
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
