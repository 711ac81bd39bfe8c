//! Where stack-run's files go: the shard folders under `--out` on the host,
//! the same folders as the service container sees them, and stack-run's own
//! files. The names come from `shared::contract`, which junit-merge and the
//! tests read too.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::model::session::{PLUGIN_LIB, PLUGIN_MODULE, PLUGIN_VENV_MARK};
use anyhow::{Context, bail};
use shared::contract::{BUILD_LOG, RERUN_FOLDER, TESTS_FILE, WORK_FOLDER, shard_folder};

/// Where a shard's folder is mounted in the service container: `{out}`.
pub use crate::model::derive::OUT_MOUNT;

/// The output folder (`--out`) and what goes in it.
pub struct Layout {
    /// `--out` as given: paths in results and messages read like the command line.
    root: PathBuf,
    /// The same, absolute: compose bind-mounts need it.
    absolute_root: PathBuf,
    /// The build's log when it is not `OUT/.stack-run/build.log`: one that
    /// goes when the build succeeds (see [`Layout::with_passing_build_log`]).
    passing_build_log: Option<PathBuf>,
}

impl Layout {
    pub fn new(root: &Path) -> anyhow::Result<Layout> {
        let absolute_root =
            std::path::absolute(root).with_context(|| format!("bad --out {}", root.display()))?;
        Ok(Layout {
            root: root.to_path_buf(),
            absolute_root,
            passing_build_log: None,
        })
    }

    /// The same layout with the build's log at `log`, which the caller
    /// removes when the build succeeds: `--collect` leaves no file but a
    /// failed build's log, and its notes must not name a file that goes.
    pub fn with_passing_build_log(self, log: PathBuf) -> Layout {
        Layout {
            passing_build_log: Some(log),
            ..self
        }
    }

    /// `OUT/shard-K`, on the host.
    pub fn shard_folder(&self, shard: u32) -> PathBuf {
        self.root.join(shard_folder(shard))
    }

    /// `--out`, absolute: a batch stack's container mounts all of it.
    pub fn absolute_root(&self) -> &Path {
        &self.absolute_root
    }

    /// `OUT/shard-K`, absolute: the source of the bind mount at [`OUT_MOUNT`].
    pub fn absolute_shard_folder(&self, shard: u32) -> PathBuf {
        self.absolute_root.join(shard_folder(shard))
    }

    /// `OUT/shard-K/rerun`, on the host: the second attempt's folder.
    pub fn rerun_folder(&self, shard: u32) -> PathBuf {
        self.shard_folder(shard).join(RERUN_FOLDER)
    }

    /// Where stack-run keeps its own files: derived compose files, the build
    /// and seed logs, a batch stack's log, the seed's archives while captured.
    pub fn work_folder(&self) -> PathBuf {
        self.root.join(WORK_FOLDER)
    }

    /// The derived compose file shard K's stack runs from.
    pub fn compose_file(&self, shard: u32) -> PathBuf {
        self.work_folder()
            .join(format!("{}.compose.json", shard_folder(shard)))
    }

    /// The derived compose file of shard K's second attempt: its own, so
    /// that a first stack kept running keeps the file that reaches it.
    pub fn rerun_compose_file(&self, shard: u32) -> PathBuf {
        self.work_folder().join(format!(
            "{}-{RERUN_FOLDER}.compose.json",
            shard_folder(shard)
        ))
    }

    /// The derived compose file of a stack that runs batches, and its log
    /// (start-up and teardown; each batch's command logs to its own folder).
    pub fn stack_files(&self, project_suffix: &str) -> (PathBuf, PathBuf) {
        let folder = self.work_folder();
        (
            folder.join(format!("stack-{project_suffix}.compose.json")),
            folder.join(format!("stack-{project_suffix}.log")),
        )
    }

    /// `--session`'s plugin's folder, absolute: mounted into the containers.
    pub fn plugin_folder(&self) -> PathBuf {
        self.absolute_root.join(WORK_FOLDER).join("plugin")
    }

    /// `OUT/session-S` (`OUT/session-I-S` for `--node I/M`): the sessions
    /// of stack S (`{out}` of their command, where their coverage goes),
    /// each in a numbered folder of its own.
    pub fn session_folder(&self, node: Option<u32>, stack: u32) -> PathBuf {
        self.root.join(session_folder(node, stack))
    }

    /// The ids every session (of node I) collects: the selected batches' tests.
    pub fn session_tests_file(&self, node: Option<u32>) -> PathBuf {
        self.work_folder().join(session_tests_file(node))
    }

    /// Make what `--session` needs: the plugin, the id file every session
    /// collects, and a folder for each of `stacks` stacks' sessions (a folder
    /// holding a previous run's files is an error unless `force`).
    pub fn create_sessions(
        &self,
        plugin: &str,
        ids: &[&String],
        (node, stacks): (Option<u32>, u32),
        force: bool,
    ) -> anyhow::Result<()> {
        let folder_of = |stack| self.session_folder(node, stack);
        let folders: Vec<PathBuf> = (1..=stacks).map(folder_of).collect();
        refuse_busy(&folders, force, "a previous run's sessions")?;
        for dir in &folders {
            if dir.exists() {
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("cannot empty {}", dir.display()))?;
            }
            attempt_folder(dir, &[])?;
        }
        let folder = self.plugin_folder();
        let lib = folder.join(PLUGIN_LIB);
        std::fs::create_dir_all(&lib)
            .with_context(|| format!("cannot create {}", lib.display()))?;
        let (mark, says) = PLUGIN_VENV_MARK;
        let files = [
            (lib.join(format!("{PLUGIN_MODULE}.py")), plugin),
            (folder.join(mark), says),
        ];
        for (file, text) in files {
            std::fs::write(&file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        let tests = self.session_tests_file(node);
        let lines: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        std::fs::write(&tests, lines.join("\n") + "\n")
            .with_context(|| format!("cannot write {}", tests.display()))
    }

    pub fn build_compose_file(&self) -> PathBuf {
        self.work_folder().join("build.compose.json")
    }

    pub fn build_log(&self) -> PathBuf {
        match &self.passing_build_log {
            Some(log) => log.clone(),
            None => self.work_folder().join(BUILD_LOG),
        }
    }

    /// The build's log as a note names it: its path, and that it goes when
    /// the build succeeds if it does.
    pub fn build_log_note(&self) -> String {
        let path = self.build_log().display().to_string();
        match self.passing_build_log {
            Some(_) => format!("{path}, removed if the build succeeds"),
            None => path,
        }
    }

    /// Make the work folder and `OUT/shard-K` for every selected shard, with
    /// its id file. A folder holding a previous run's files is an error
    /// unless `force`, which empties it; folders of other shards are never touched.
    pub fn create(
        &self,
        plan: &BTreeMap<u32, Vec<String>>,
        selected: &[u32],
        force: bool,
    ) -> anyhow::Result<()> {
        let folders: Vec<PathBuf> = selected.iter().map(|&s| self.shard_folder(s)).collect();
        refuse_busy(&folders, force, "results")?;
        let work = self.work_folder();
        std::fs::create_dir_all(&work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        for &shard in selected {
            let dir = self.shard_folder(shard);
            if force && dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("cannot empty {}", dir.display()))?;
            }
            attempt_folder(&dir, &plan[&shard])?;
        }
        Ok(())
    }
}

/// Unless `force`, an error naming every folder of `folders` that is not
/// empty: it holds `what` of a previous run.
fn refuse_busy(folders: &[PathBuf], force: bool, what: &str) -> anyhow::Result<()> {
    let busy: Vec<String> = folders
        .iter()
        .filter(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
        .map(|dir| dir.display().to_string())
        .collect();
    if !busy.is_empty() && !force {
        bail!(
            "{} already hold{} {what}; use --force to replace them, or another --out",
            busy.join(", "),
            if busy.len() == 1 { "s" } else { "" }
        );
    }
    Ok(())
}

/// The name of stack S's sessions' folder: `session-S`, or `session-I-S`
/// for node I, so that nodes sharing an `--out` keep theirs apart.
pub fn session_folder(node: Option<u32>, stack: u32) -> String {
    match node {
        Some(node) => format!("session-{node}-{stack}"),
        None => format!("session-{stack}"),
    }
}

/// The name of the id file every session (of node I) collects, in the
/// work folder.
pub fn session_tests_file(node: Option<u32>) -> String {
    match node {
        Some(node) => format!("session-{node}-tests.txt"),
        None => "session-tests.txt".into(),
    }
}

/// `{tests}`: the id file of an attempt whose folder the container sees at `mounted`.
pub fn mounted_tests_file(mounted: &str) -> String {
    format!("{mounted}/{TESTS_FILE}")
}

/// `{out}` of a second attempt, inside the container.
pub fn mounted_rerun_folder() -> String {
    format!("{OUT_MOUNT}/{RERUN_FOLDER}")
}

/// An attempt's folder, open to the container's user (it may not be ours),
/// holding the ids it runs, one a line.
pub fn attempt_folder(dir: &Path, ids: &[String]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
        .with_context(|| format!("cannot open up {}", dir.display()))?;
    let ids_file = dir.join(TESTS_FILE);
    std::fs::write(&ids_file, ids.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", ids_file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_follow_the_contract() {
        let layout = Layout::new(Path::new("reports")).unwrap();
        assert_eq!(layout.shard_folder(2), Path::new("reports/shard-2"));
        assert_eq!(layout.rerun_folder(2), Path::new("reports/shard-2/rerun"));
        assert!(layout.absolute_shard_folder(2).is_absolute());
        assert_eq!(
            layout.compose_file(3),
            Path::new("reports/.stack-run/shard-3.compose.json")
        );
        assert_eq!(
            mounted_tests_file(&mounted_rerun_folder()),
            "/shardstack/out/rerun/tests.txt"
        );
        assert_eq!(layout.build_log_note(), "reports/.stack-run/build.log");
    }

    #[test]
    fn a_passing_build_log_says_it_goes() {
        let layout = Layout::new(Path::new("scratch"))
            .unwrap()
            .with_passing_build_log("/tmp/build-x.log".into());
        assert_eq!(layout.build_log(), Path::new("/tmp/build-x.log"));
        assert_eq!(
            layout.build_log_note(),
            "/tmp/build-x.log, removed if the build succeeds"
        );
    }

    #[test]
    fn a_busy_folder_is_kept_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path()).unwrap();
        let plan = BTreeMap::from([(1, vec!["a".to_string(), "b".to_string()])]);
        layout.create(&plan, &[1], false).unwrap();
        let ids = dir.path().join("shard-1/tests.txt");
        assert_eq!(std::fs::read_to_string(&ids).unwrap(), "a\nb\n");
        let err = layout.create(&plan, &[1], false).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "shard-1 already holds results; use --force to replace them, or another --out"
            ),
            "{err}"
        );
        std::fs::write(dir.path().join("shard-1/junit.xml"), "old").unwrap();
        layout.create(&plan, &[1], true).unwrap();
        assert!(!dir.path().join("shard-1/junit.xml").exists());
    }
}
