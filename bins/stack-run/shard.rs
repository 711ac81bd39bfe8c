//! One shard's life: sidecars up and ready, the command run, the stack torn
//! down, whatever happened in between.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::results::{ShardResult, Status};

use crate::derive::OUT_MOUNT;
use crate::proc::{Ended, Log, describe};
use crate::ready;
use crate::run::Run;
use crate::sweep::{PROJECT_LABEL, sweep};
use crate::template::{Vars, expand};

/// Variables every shard's command gets unless `-e` sets them. Coverage
/// data goes to the shard's folder: with the source tree bind-mounted, every
/// shard would otherwise write the same `.coverage` file.
const DEFAULT_ENV: [(&str, &str); 3] = [
    ("SHARDSTACK_SHARD", "{shard}"),
    ("SHARDSTACK_SHARDS", "{shards}"),
    ("COVERAGE_FILE", "{out}/.coverage"),
];

/// The id file's path inside the service container.
pub fn tests_path() -> String {
    format!("{OUT_MOUNT}/tests.txt")
}

/// One go at a shard's tests: the first, or the rerun of its failures in a
/// fresh stack (see `rerun.rs`).
pub struct Attempt {
    pub project: String,
    /// The host folder for its log.txt and services.log.
    pub dir: PathBuf,
    /// `{tests}` and `{out}`, paths inside the service container.
    pub tests: String,
    pub out: String,
}

impl Attempt {
    pub fn first(run: &Run, shard: u32) -> Attempt {
        Attempt {
            project: run.project(shard),
            dir: run.shard_dir(shard),
            tests: tests_path(),
            out: OUT_MOUNT.to_string(),
        }
    }
}

/// Run shard `shard` (its id file already written) and say how it went.
pub fn run_shard(run: &Run, shard: u32, tests: usize) -> ShardResult {
    run_attempt(run, shard, tests, &Attempt::first(run, shard))
}

/// Run one attempt at shard `shard`, its id file already written.
pub fn run_attempt(run: &Run, shard: u32, tests: usize, attempt: &Attempt) -> ShardResult {
    let project = attempt.project.clone();
    let mut result = ShardResult {
        shard,
        shards: run.shards,
        project: project.clone(),
        status: Status::Error,
        exit_code: None,
        tests,
        up_seconds: 0.0,
        run_seconds: 0.0,
        down_seconds: 0.0,
        out: attempt.dir.display().to_string(),
        message: None,
        started_seconds: Some(run.started.elapsed().as_secs_f64()),
        rerun: None,
    };
    let log = match Log::create(&attempt.dir.join("log.txt")) {
        Ok(log) => log,
        Err(err) => {
            result.message = Some(format!("{err:#}"));
            return result;
        }
    };
    let file = run.compose_file(shard);
    let derived = run.model.shard_file(
        &run.labels(Some(shard)),
        &run.images,
        &run.service,
        &run.absolute_shard_dir(shard),
    );
    if let Err(err) = std::fs::write(&file, derived.to_string()) {
        result.message = Some(format!("cannot write {}: {err}", file.display()));
        return result;
    }

    let start = Instant::now();
    let deadline = run.timeout.map(|timeout| start + timeout);
    let timed_out = || deadline.is_some_and(|deadline| Instant::now() >= deadline);
    let stop_now = || run.stop.requested() || timed_out();
    // Why a shard that was stopped stopped.
    let stopped = || {
        if run.stop.requested() {
            (Status::Interrupted, "interrupted".to_string())
        } else {
            (
                Status::Timeout,
                format!("timed out after {}", seconds(run.timeout)),
            )
        }
    };

    run.progress
        .state(shard, "starting", &run.sidecars.join(", "), false);
    let up = start_sidecars(run, &project, &file, &log, deadline, &stop_now);
    result.up_seconds = start.elapsed().as_secs_f64();
    match up {
        Err(message) if stop_now() => {
            let (status, why) = stopped();
            result.status = status;
            result.message = Some(format!("{why} while starting: {message}"));
        }
        Err(message) => {
            result.status = Status::Error;
            result.message = Some(format!("the stack could not start: {message}"));
        }
        Ok(()) => {
            run.progress.state(shard, "running", "", false);
            let started = Instant::now();
            let progress = Arc::clone(&run.progress);
            let on_line = Arc::new(move |line: &str| progress.output(shard, line));
            let (cmd, shown) = run_command(run, attempt, &file, shard);
            log.line(&format!("stack-run: $ {shown}"));
            let ended = run.children.run_logged(cmd, &log, on_line, stop_now);
            result.run_seconds = started.elapsed().as_secs_f64();
            match ended {
                Ok(Ended::Exited(status)) => {
                    result.exit_code = status.code();
                    result.status = classify(status.code());
                    result.message = explain(status.code());
                }
                Ok(Ended::Stopped) => {
                    let (status, why) = stopped();
                    result.status = status;
                    result.message = Some(why);
                }
                Err(err) => result.message = Some(format!("{err:#}")),
            }
        }
    }
    log.line(&format!(
        "stack-run: shard {shard} {}{}",
        result.status,
        result
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    ));

    let troubled = matches!(
        result.status,
        Status::Failed | Status::Error | Status::Timeout
    );
    if troubled && !run.sidecars.is_empty() {
        save_service_logs(run, &project, &file, &attempt.dir);
    }
    if troubled && run.keep_on_failure {
        let compose = format!(
            "{} -p {project} -f {} --project-directory {}",
            run.compose.name(),
            file.display(),
            run.compose.project_directory().display()
        );
        run.progress.note(&format!(
            "shard {shard}: stack {project} left running; reach it with `{compose} ps` \
             (or exec, logs), remove it with `{compose} down -v` or `stack-run --clean --prefix {}`",
            run.prefix
        ));
        run.kept.store(true, std::sync::atomic::Ordering::SeqCst);
    } else {
        run.progress.state(shard, "stopping", "", false);
        let down = Instant::now();
        if let Err(err) = sweep(&run.children, PROJECT_LABEL, &project, false) {
            log.line(&format!("stack-run: teardown failed: {err:#}"));
            result.status = Status::Error;
            result.message = Some(format!("teardown failed: {err:#}"));
        }
        result.down_seconds = down.elapsed().as_secs_f64();
    }
    let detail = match (result.exit_code, &result.message) {
        (_, Some(message)) => message.clone(),
        (Some(code), None) => format!("exit {code}"),
        (None, None) => String::new(),
    };
    run.progress
        .state(shard, result.status.as_str(), &detail, true);
    result
}

/// Get the stack ready for the command: the sidecars up and ready, the image built.
fn start_sidecars(
    run: &Run,
    project: &str,
    file: &std::path::Path,
    log: &Log,
    deadline: Option<Instant>,
    stop_now: &dyn Fn() -> bool,
) -> Result<(), String> {
    // A sidecar built by this run needs its image first; others start while it builds.
    if run
        .sidecars
        .iter()
        .any(|name| run.images.contains_key(name))
    {
        wait_for_build(run, stop_now)?;
    }
    if !run.sidecars.is_empty() {
        up(run, project, file, log, deadline, stop_now)?;
    }
    wait_for_build(run, stop_now)
}

fn wait_for_build(run: &Run, stop_now: &dyn Fn() -> bool) -> Result<(), String> {
    match run.built.wait(stop_now) {
        None => Err("stopped while the image was building".into()),
        Some(Err(err)) => Err(format!("the image could not be built: {err}")),
        Some(Ok(())) => Ok(()),
    }
}

/// `compose up -d` the sidecars, then wait until they are ready.
fn up(
    run: &Run,
    project: &str,
    file: &std::path::Path,
    log: &Log,
    deadline: Option<Instant>,
    stop_now: &dyn Fn() -> bool,
) -> Result<(), String> {
    let mut cmd = run.compose.project(project, file);
    cmd.args(["up", "-d", "--no-build"]).args(&run.sidecars);
    log.line(&format!("stack-run: $ {}", describe(&cmd)));
    match run
        .children
        .run_logged(cmd, log, Arc::new(|_: &str| {}), stop_now)
    {
        Ok(Ended::Exited(status)) if status.success() => {}
        Ok(Ended::Exited(status)) => {
            return Err(format!("compose up failed ({status}), see log.txt"));
        }
        Ok(Ended::Stopped) => return Err("compose up was stopped".into()),
        Err(err) => return Err(format!("{err:#}")),
    }
    let ready_by = Instant::now() + run.ready_timeout;
    let ready_by = deadline.map_or(ready_by, |deadline| deadline.min(ready_by));
    let ready = ready::wait(&run.children, project, ready_by, stop_now);
    match &ready {
        Ok(()) => log.line("stack-run: sidecars ready"),
        Err(err) => log.line(&format!("stack-run: {err:#}")),
    }
    ready.map_err(|err| format!("{err:#}"))
}

/// `compose run --rm -T --no-deps -e … SERVICE COMMAND…`, placeholders
/// filled, and the same command line to log, `-e` values hidden (they may be secrets).
pub fn run_command(
    run: &Run,
    attempt: &Attempt,
    file: &std::path::Path,
    shard: u32,
) -> (std::process::Command, String) {
    let vars = Vars {
        tests: &attempt.tests,
        out: &attempt.out,
        shard,
        shards: run.shards,
    };
    let mut cmd = run.compose.project(&attempt.project, file);
    cmd.args(["run", "--rm", "-T", "--no-deps"]);
    let mut shown = describe(&cmd);
    for (key, value) in DEFAULT_ENV {
        if !run.env.iter().any(|(k, _)| k == key) {
            let pair = format!("{key}={}", expand(value, &vars));
            shown.push_str(&format!(" -e {pair}"));
            cmd.arg("-e").arg(pair);
        }
    }
    for (key, value) in &run.env {
        cmd.arg("-e").arg(format!("{key}={}", expand(value, &vars)));
        shown.push_str(&format!(" -e {key}=…"));
    }
    let args: Vec<String> = run.command.iter().map(|arg| expand(arg, &vars)).collect();
    cmd.arg(&run.service).args(&args);
    shown.push_str(&format!(" {} {}", run.service, args.join(" ")));
    (cmd, shown)
}

/// The shard's status from its command's exit status: pytest exits 1 when
/// tests failed; anything else means the tests did not run to the end.
pub fn classify(code: Option<i32>) -> Status {
    match code {
        Some(0) => Status::Passed,
        Some(1) => Status::Failed,
        _ => Status::Error,
    }
}

/// What a crash's exit status usually means.
fn explain(code: Option<i32>) -> Option<String> {
    let meaning = match code? {
        0 | 1 => return None,
        2 => "the test run was interrupted",
        3 => "internal error in the test runner",
        4 => "the test runner rejected its command line",
        5 => "no tests were collected",
        125..=127 => "the container could not run the command",
        137 => "the container was killed (docker kill or out of memory)",
        143 => "the container was terminated",
        _ => "the command crashed",
    };
    Some(format!("{meaning} (exit status {})", code?))
}

/// `compose logs` of the whole stack, to services.log in `dir`.
fn save_service_logs(run: &Run, project: &str, file: &std::path::Path, dir: &std::path::Path) {
    let mut cmd = run.compose.project(project, file);
    cmd.args(["logs", "--no-color", "--timestamps"]);
    let path: PathBuf = dir.join("services.log");
    let text = match run.children.capture(cmd) {
        Ok(output) => [output.stdout, output.stderr].concat(),
        Err(err) => format!("stack-run: cannot read the sidecars' logs: {err:#}\n").into_bytes(),
    };
    let _ = std::fs::write(path, text);
}

fn seconds(duration: Option<Duration>) -> String {
    duration.map_or("?".into(), |d| format!("{}s", d.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exit_one_is_a_test_failure() {
        assert_eq!(classify(Some(0)), Status::Passed);
        assert_eq!(classify(Some(1)), Status::Failed);
        for crash in [Some(2), Some(3), Some(4), Some(5), Some(137), None] {
            assert_eq!(classify(crash), Status::Error, "{crash:?}");
        }
    }

    #[test]
    fn crashes_are_explained() {
        assert_eq!(explain(Some(1)), None);
        assert_eq!(
            explain(Some(137)).unwrap(),
            "the container was killed (docker kill or out of memory) (exit status 137)"
        );
    }
}
