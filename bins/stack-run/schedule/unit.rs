//! A unit of work: a shard, a batch, or the second attempt at a shard's
//! failed tests; where its files are, and the command it runs.

use std::path::PathBuf;

use shared::contract::shard_folder;
use shared::results::{Attempt, Status};

use crate::model::layout::{Layout, OUT_MOUNT, mounted_rerun_folder, mounted_tests_file};
use crate::model::template::{Vars, expand};
use crate::stack::blueprint::Job;

/// Variables every unit's command gets unless `-e` sets them. Coverage
/// data goes to the unit's folder: with the source tree bind-mounted, every
/// shard would otherwise write the same `.coverage` file.
const DEFAULT_ENV: [(&str, &str); 4] = [
    ("SHARDSTACK_SHARD", "{shard}"),
    ("SHARDSTACK_SHARDS", "{shards}"),
    ("SHARDSTACK_STACK", "{stack}"),
    ("COVERAGE_FILE", "{out}/.coverage"),
];

/// What every unit runs: the command line's template.
pub struct Task {
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// How many shards the plan has (`{shards}`).
    pub shard_count: u32,
}

/// What one attempt runs, and where its files are.
pub struct Unit {
    /// Its number in the plan: the shard's, or the batch's.
    pub shard: u32,
    /// `{stack}`: the stack it runs in, whose progress line it shows on (a
    /// shard's own stack has the shard's number).
    pub stack: u32,
    /// How many tests its id file holds.
    pub test_count: usize,
    /// Its folder on the host, for log.txt and services.log.
    pub folder: PathBuf,
    /// `{out}`: the same folder inside the service container.
    pub mounted_folder: String,
    /// The host folder `compose run` mounts at [`OUT_MOUNT`] (all of
    /// `--out`, for a stack that runs batch after batch); `None` when the
    /// stack's file mounts the unit's own.
    pub run_mount: Option<PathBuf>,
}

impl Unit {
    /// Shard `shard`'s first attempt, at its planned tests, in `OUT/shard-K`.
    pub fn first(layout: &Layout, shard: u32, test_count: usize) -> Unit {
        Unit {
            shard,
            stack: shard,
            test_count,
            folder: layout.shard_folder(shard),
            mounted_folder: OUT_MOUNT.to_string(),
            run_mount: None,
        }
    }

    /// Batch `batch` (in `OUT/shard-K`, as a shard's) on stack `stack`,
    /// which runs batch after batch: its container has all of `--out` at
    /// [`OUT_MOUNT`], so `{out}` is `OUT_MOUNT/shard-K`.
    pub fn batch(layout: &Layout, batch: u32, test_count: usize, stack: u32) -> Unit {
        Unit {
            stack,
            mounted_folder: format!("{OUT_MOUNT}/{}", shard_folder(batch)),
            run_mount: Some(layout.absolute_root().to_path_buf()),
            ..Unit::first(layout, batch, test_count)
        }
    }

    /// The second attempt at shard `shard`'s failed tests, in
    /// `OUT/shard-K/rerun`, shown on line `stack`.
    pub fn rerun(layout: &Layout, shard: u32, test_count: usize, stack: u32) -> Unit {
        Unit {
            shard,
            stack,
            test_count,
            folder: layout.rerun_folder(shard),
            mounted_folder: mounted_rerun_folder(),
            run_mount: None,
        }
    }

    /// Its attempt in `project` before anything ran: no exit code, no time spent.
    pub fn unstarted(&self, project: &str, status: Status, message: Option<String>) -> Attempt {
        Attempt {
            project: project.to_string(),
            status,
            exit_code: None,
            test_count: self.test_count,
            up_seconds: 0.0,
            run_seconds: 0.0,
            down_seconds: 0.0,
            folder: self.folder.display().to_string(),
            message,
        }
    }

    /// `task`'s command for this unit, placeholders filled in, with the
    /// variables it gets.
    pub fn job(&self, task: &Task) -> Job {
        let tests_file = mounted_tests_file(&self.mounted_folder);
        let vars = Vars {
            tests_file: &tests_file,
            out_folder: &self.mounted_folder,
            shard: self.shard,
            shard_count: task.shard_count,
            stack: self.stack,
        };
        job(task, &task.command, &vars, self.run_mount.clone())
    }
}

/// `command` (`task`'s, or made from it) with `vars` filled in, with the
/// variables it gets: stack-run's own (shown in clear) unless `-e` sets
/// them, then `-e`'s.
pub fn job(task: &Task, command: &[String], vars: &Vars, run_mount: Option<PathBuf>) -> Job {
    let unset = |key: &&str| !task.env.iter().any(|(k, _)| k == key);
    let public: Vec<&'static str> = DEFAULT_ENV.iter().map(|(k, _)| *k).filter(unset).collect();
    let defaults = DEFAULT_ENV
        .iter()
        .filter(|(key, _)| public.contains(key))
        .map(|(key, value)| (key.to_string(), expand(value, vars)));
    let given = task
        .env
        .iter()
        .map(|(key, value)| (key.clone(), expand(value, vars)));
    Job {
        command: command.iter().map(|arg| expand(arg, vars)).collect(),
        env: defaults.chain(given).collect(),
        public,
        run_mount,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batchs_job_fills_in_its_folder_and_stack_and_shows_only_stack_runs_values() {
        let layout = Layout::new(std::path::Path::new("/out")).unwrap();
        let task = Task {
            command: vec![
                "pytest".into(),
                "@{tests}".into(),
                "--junitxml={out}/j.xml".into(),
            ],
            env: vec![
                ("COVERAGE_FILE".into(), "/cov/{shard}".into()),
                ("TOKEN".into(), "s3cret".into()),
            ],
            shard_count: 9,
        };
        let job = Unit::batch(&layout, 4, 10, 2).job(&task);
        let folder = format!("{OUT_MOUNT}/shard-4");
        assert_eq!(
            job.command,
            [
                "pytest".to_string(),
                format!("@{folder}/tests.txt"),
                format!("--junitxml={folder}/j.xml")
            ]
        );
        assert_eq!(
            job.env,
            [
                ("SHARDSTACK_SHARD", "4"),
                ("SHARDSTACK_SHARDS", "9"),
                ("SHARDSTACK_STACK", "2"),
                ("COVERAGE_FILE", "/cov/4"),
                ("TOKEN", "s3cret"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(
            job.public,
            ["SHARDSTACK_SHARD", "SHARDSTACK_SHARDS", "SHARDSTACK_STACK"]
        );
        assert_eq!(job.run_mount.as_deref(), Some(std::path::Path::new("/out")));
    }
}
