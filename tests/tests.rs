//! The integration tests: one binary, one module per tool, each driving the
//! real binaries on real files and, where the tool needs them, real services.

mod util;

mod architecture;
mod batches;
mod cov_merge;
mod example;
mod flaky;
mod github_example;
mod github_runner;
mod hygiene;
mod images;
mod install;
mod junit_merge;
mod man;
mod pipeline;
mod scale;
mod seeding;
mod session_plugin;
mod sessions;
mod shard_plan;
mod signals;
mod stack_report;
mod stack_run;
mod wait_for;
