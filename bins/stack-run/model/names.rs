//! The names of what a run creates: compose projects, images, labels.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use shared::contract::labels;

use crate::model::derive::Labels;

/// The names of what this invocation creates.
pub struct Names {
    /// `--prefix`: shared by every run, swept by `--clean`.
    pub prefix: String,
    /// This invocation's own: two runs on one host never share one.
    pub run_id: String,
}

impl Names {
    /// Shard K's first attempt's compose project.
    pub fn project(&self, shard: u32) -> String {
        format!("{}-{}-s{shard}", self.prefix, self.run_id)
    }

    /// Stack K's project with `--stacks`; `generation` counts the stacks
    /// worker K has brought up (a new one after each it took out of service).
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

    /// The project the seed command runs in.
    pub fn seed_project(&self) -> String {
        format!("{}-{}-seed", self.prefix, self.run_id)
    }

    /// The project `--collect` runs in.
    pub fn collect_project(&self) -> String {
        format!("{}-{}-collect", self.prefix, self.run_id)
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

    /// The labels of what belongs to the run but to no shard or stack of it.
    pub fn run_labels(&self) -> Labels {
        vec![
            (labels::PREFIX.to_string(), self.prefix.clone()),
            (labels::RUN.to_string(), self.run_id.clone()),
        ]
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
pub fn run_id() -> String {
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
