//! The names more than one program relies on: the tools, and the tests that
//! check them.
//!
//! stack-run lays out its output folder and labels what it creates; junit-merge
//! finds second attempts by their folder, `--clean` and the tests find
//! containers by their labels. Each name is written once, here, so a rename
//! cannot leave one reader behind.

/// Shard K's artifact folder under stack-run's `--out`: `shard-K` (`{out}` in
/// the container).
pub fn shard_folder(shard: u32) -> String {
    format!("shard-{shard}")
}

/// A shard's planned test ids, one a line, in its folder (`{tests}`).
pub const TESTS_FILE: &str = "tests.txt";

/// A shard's whole output, in its folder.
pub const LOG_FILE: &str = "log.txt";

/// The sidecars' logs, in a shard's folder when the shard did not pass.
pub const SERVICES_LOG: &str = "services.log";

/// The folder, inside a shard's, of `--rerun-failed`'s second attempt: the
/// JUnit reports in it are second attempts to junit-merge, not more tests.
pub const RERUN_FOLDER: &str = "rerun";

/// stack-run's own files under `--out`: derived compose files, the build log.
pub const WORK_FOLDER: &str = ".stack-run";

/// The build's log, in [`WORK_FOLDER`].
pub const BUILD_LOG: &str = "build.log";

/// What a stack's resident service container idles in until a command is
/// `docker exec`ed in it: seconds any `sleep` reads (GNU's, busybox's), 68
/// years. The tests tell an idle container from a running command by it.
pub const IDLE_COMMAND: [&str; 2] = ["sleep", "2147483647"];

/// The labels on the containers, networks, volumes and images stack-run creates.
pub mod labels {
    /// `--prefix`: what `stack-run --clean` sweeps by.
    pub const PREFIX: &str = "io.shardstack.prefix";
    /// One stack-run invocation: swept at its end.
    pub const RUN: &str = "io.shardstack.run";
    /// The shard a stack belongs to.
    pub const SHARD: &str = "io.shardstack.shard";
    /// The stack, of `stack-run --stacks N`, that runs batch after batch.
    pub const STACK: &str = "io.shardstack.stack";
    /// Compose's own label for a project: one attempt's stack.
    pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
    /// Compose's label for a service's containers.
    pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";
    /// Compose's label on `compose run` containers (`True`): where the command runs.
    pub const COMPOSE_ONEOFF: &str = "com.docker.compose.oneoff";

    /// docker's `--filter` for what carries the label `key` with `value`.
    pub fn filter(key: &str, value: impl std::fmt::Display) -> String {
        format!("label={key}={value}")
    }
}
