//! One attempt at a shard's tests, in a stack of its own: the sidecars up
//! and ready, the command run, the stack torn down, whatever happened in
//! between. `lifecycle` makes the attempts; `verdict` decides how each went.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::contract::{LOG_FILE, SERVICES_LOG, labels, shard_folder};
use shared::results::{Attempt, Status};

use crate::app::context::Context;
use crate::engine::docker::sweep;
use crate::engine::proc::{Ended, Log, describe, describe_showing};
use crate::engine::signals::Stop;
use crate::engine::subnets;
use crate::model::derive::Labels;
use crate::model::layout::{OUT_MOUNT, mounted_rerun_folder, mounted_tests_file};
use crate::model::template::{Vars, expand};
use crate::model::verdict::{self, Happened, StopCause, Verdict};
use crate::stack::ready;
use crate::stack::resident::{Mount, Resident};

/// Variables every shard's command gets unless `-e` sets them. Coverage
/// data goes to the shard's folder: with the source tree bind-mounted, every
/// shard would otherwise write the same `.coverage` file.
const DEFAULT_ENV: [(&str, &str); 4] = [
    ("SHARDSTACK_SHARD", "{shard}"),
    ("SHARDSTACK_SHARDS", "{shards}"),
    ("SHARDSTACK_STACK", "{stack}"),
    ("COVERAGE_FILE", "{out}/.coverage"),
];

/// What an attempt runs, and where.
pub struct Spec {
    pub shard: u32,
    /// `{stack}`: the stack it runs in, whose progress line it shows on (a
    /// shard's own stack has the shard's number).
    pub stack: u32,
    pub project: String,
    /// How many tests its id file holds.
    pub test_count: usize,
    /// Its folder on the host, for log.txt and services.log.
    pub folder: PathBuf,
    /// `{out}`: the same folder inside the service container.
    pub mounted_folder: String,
    /// `{tests}`: its id file inside the service container.
    pub mounted_tests_file: String,
    /// The host folder `compose run` mounts at [`OUT_MOUNT`]: all of `--out`,
    /// for a stack that runs batch after batch. `None` when the file mounts it.
    pub run_mount: Option<PathBuf>,
}

impl Spec {
    /// The shard's first attempt, at its planned tests, in `OUT/shard-K`.
    pub fn first(ctx: &Context, shard: u32, test_count: usize) -> Spec {
        Spec {
            shard,
            stack: shard,
            project: ctx.names.project(shard),
            test_count,
            folder: ctx.layout.shard_folder(shard),
            mounted_folder: OUT_MOUNT.to_string(),
            mounted_tests_file: mounted_tests_file(OUT_MOUNT),
            run_mount: None,
        }
    }

    /// Batch `batch` (`OUT/shard-K` as a shard's) in stack `stack`'s project,
    /// which runs batch after batch: its container has all of `--out` at
    /// [`OUT_MOUNT`], so `{out}` is `OUT_MOUNT/shard-K`.
    pub fn batch(ctx: &Context, batch: u32, test_count: usize, stack: u32, project: &str) -> Spec {
        let mounted_folder = format!("{OUT_MOUNT}/{}", shard_folder(batch));
        Spec {
            stack,
            project: project.to_string(),
            mounted_tests_file: mounted_tests_file(&mounted_folder),
            mounted_folder,
            run_mount: Some(ctx.layout.absolute_root().to_path_buf()),
            ..Spec::first(ctx, batch, test_count)
        }
    }

    /// Its result before anything ran: no exit code, no time spent.
    pub fn unstarted(&self, status: Status, message: Option<String>) -> Attempt {
        Attempt {
            project: self.project.clone(),
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

    /// The second attempt at the tests that failed, in `OUT/shard-K/rerun`.
    pub fn rerun(ctx: &Context, shard: u32, test_count: usize, stack: u32) -> Spec {
        let mounted_folder = mounted_rerun_folder();
        Spec {
            shard,
            stack,
            project: ctx.names.rerun_project(shard),
            test_count,
            folder: ctx.layout.rerun_folder(shard),
            mounted_tests_file: mounted_tests_file(&mounted_folder),
            mounted_folder,
            run_mount: None,
        }
    }
}

/// When an attempt must stop: a signal, or its `--timeout` passed.
pub struct Limits<'a> {
    stop: &'a Stop,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl Limits<'_> {
    /// The limits of what starts now: `--timeout` from now, and any signal.
    pub fn from_now(ctx: &Context) -> Limits<'_> {
        Limits {
            stop: &ctx.runtime.stop,
            timeout: ctx.config.timeout,
            deadline: ctx.config.timeout.map(|timeout| Instant::now() + timeout),
        }
    }

    pub fn reached(&self) -> bool {
        self.stop.requested() || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Why, once reached.
    pub fn cause(&self) -> StopCause {
        if self.stop.requested() {
            StopCause::Signal
        } else {
            StopCause::Timeout(self.timeout.unwrap_or_default())
        }
    }
}

/// Run one attempt, its id file already written, and say how it went.
pub fn run(ctx: &Context, spec: &Spec) -> Attempt {
    let mut attempt = spec.unstarted(Status::Error, None);
    let (log, file) = match prepare(ctx, spec) {
        Ok(prepared) => prepared,
        Err(message) => {
            // Networks made before the failure go too.
            let _ = tear_down(ctx, &spec.project);
            settle(
                &mut attempt,
                verdict::decide(&Happened::NotPrepared(message)),
            );
            return attempt;
        }
    };
    let happened = start_and_run(ctx, spec, &file, &log, &mut attempt);
    let verdict = verdict::decide(&happened);
    log.line(&format!(
        "stack-run: shard {} {}{}",
        spec.shard,
        verdict.status,
        verdict
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    ));
    let verdict = end(ctx, spec, &file, &log, verdict, &mut attempt);
    ctx.runtime
        .progress
        .state(spec.stack, verdict.status.as_str(), &verdict.detail(), true);
    settle(&mut attempt, verdict);
    attempt
}

pub fn settle(attempt: &mut Attempt, verdict: Verdict) {
    attempt.status = verdict.status;
    attempt.exit_code = verdict.exit_code;
    attempt.message = verdict.message;
}

/// The attempt's log and derived compose file (its networks created).
fn prepare(ctx: &Context, spec: &Spec) -> Result<(Log, PathBuf), String> {
    let log = Log::create(&spec.folder.join(LOG_FILE)).map_err(|err| format!("{err:#}"))?;
    crate::app::seed_report::note_seed_sources(ctx, &log);
    let file = ctx.layout.compose_file(spec.shard);
    let labels = ctx.names.shard_labels(spec.shard);
    let out = ctx.layout.absolute_shard_folder(spec.shard);
    log.timed("networks created", || {
        derive_file(ctx, &spec.project, &labels, Some(&out), &file)
    })?;
    Ok((log, file))
}

/// Create `project`'s networks (see `subnets`) and write its derived
/// compose file to `file`. What was created before a failure is left to
/// the caller's teardown.
pub fn derive_file(
    ctx: &Context,
    project: &str,
    labels: &Labels,
    out: Option<&Path>,
    file: &Path,
) -> Result<(), String> {
    let stack = &ctx.stack;
    let placed = subnets::create(
        &ctx.runtime.children,
        &ctx.runtime.subnets,
        ctx.config.subnet_pool,
        project,
        &stack.networks,
        labels,
    )
    .map_err(|err| format!("{err:#}"))?;
    // Seeded sidecars start from their seed's image.
    let mut images = stack.images.clone();
    images.extend(
        ctx.runtime
            .seeds
            .get()
            .into_iter()
            .flatten()
            .map(|(s, i)| (s.clone(), i.clone())),
    );
    let derived = stack
        .model
        .shard_file(labels, &images, &stack.service, out, (project, &placed));
    std::fs::write(file, derived.to_string())
        .map_err(|err| format!("cannot write {}: {err}", file.display()))
}

/// Start the stack and run the command in it, timing both.
fn start_and_run(
    ctx: &Context,
    spec: &Spec,
    file: &Path,
    log: &Log,
    attempt: &mut Attempt,
) -> Happened {
    let start = Instant::now();
    let limits = Limits::from_now(ctx);
    ctx.runtime.progress.state(
        spec.stack,
        "starting",
        &ctx.stack.sidecars.join(", "),
        false,
    );
    let started = bring_up(
        ctx,
        &spec.project,
        file,
        log,
        &limits,
        Some(Mount::FromFile),
    );
    attempt.up_seconds = start.elapsed().as_secs_f64();
    let resident = match started {
        Ok(resident) => resident,
        Err(message) => {
            let stop = limits.reached().then(|| limits.cause());
            return Happened::StartFailed { message, stop };
        }
    };
    ctx.runtime.progress.state(spec.stack, "running", "", false);
    run_in_stack(ctx, spec, resident.as_ref(), file, log, &limits, attempt)
}

/// Run `spec`'s command in the stack that is up: `docker exec`ed in its
/// `resident` container, else by `compose run` from `file`.
pub fn run_in_stack(
    ctx: &Context,
    spec: &Spec,
    resident: Option<&Resident>,
    file: &Path,
    log: &Log,
    limits: &Limits,
    attempt: &mut Attempt,
) -> Happened {
    let Some(resident) = resident else {
        return run_command(ctx, spec, command(ctx, spec, file), log, limits, attempt);
    };
    let happened = run_command(ctx, spec, resident.command(ctx, spec), log, limits, attempt);
    match happened {
        Happened::Exited(code) if code != Some(0) => match resident.stopped(ctx) {
            Some(status) => Happened::ContainerStopped(status),
            None => happened,
        },
        // Killing `docker exec` leaves its command running inside, in a
        // stack `--keep-on-failure` may keep: the container goes with it.
        // (A signal tears every stack down.)
        Happened::Stopped(StopCause::Timeout(_)) => {
            resident.kill(ctx, log);
            happened
        }
        _ => happened,
    }
}

/// Run `spec`'s command (`command` or a resident's) in the stack that is
/// up, timing it; its output goes to `log` and to the stack's live line.
fn run_command(
    ctx: &Context,
    spec: &Spec,
    (cmd, shown): (std::process::Command, String),
    log: &Log,
    limits: &Limits,
    attempt: &mut Attempt,
) -> Happened {
    let running = Instant::now();
    let line = spec.stack;
    let progress = Arc::clone(&ctx.runtime.progress);
    let on_line = Arc::new(move |text: &str| progress.output(line, text));
    log.line(&format!("stack-run: $ {shown}"));
    let ended = ctx
        .runtime
        .children
        .run_logged(cmd, log, on_line, || limits.reached());
    attempt.run_seconds = running.elapsed().as_secs_f64();
    log.took("command ran", attempt.run_seconds);
    match ended {
        Ok(Ended::Exited(status)) => Happened::Exited(status.code()),
        Ok(Ended::Stopped) => Happened::Stopped(limits.cause()),
        Err(err) => Happened::RunFailed(format!("{err:#}")),
    }
}

/// Save what people need to look into trouble, then keep the stack
/// (`--keep-on-failure`) or tear it down; the verdict after that.
fn end(
    ctx: &Context,
    spec: &Spec,
    file: &Path,
    log: &Log,
    verdict: Verdict,
    attempt: &mut Attempt,
) -> Verdict {
    if verdict.is_trouble() && !ctx.stack.sidecars.is_empty() {
        save_service_logs(ctx, &spec.project, file, &spec.folder);
    }
    if verdict.is_trouble() && ctx.config.keep_on_failure {
        keep(ctx, spec, file);
        return verdict;
    }
    ctx.runtime
        .progress
        .state(spec.stack, "stopping", "", false);
    let (torn_down, seconds) = tear_down(ctx, &spec.project);
    attempt.down_seconds = seconds;
    match torn_down {
        Ok(()) => {
            log.took("torn down", seconds);
            verdict
        }
        Err(err) => {
            log.line(&format!("stack-run: teardown failed: {err}"));
            verdict.teardown_failed(&err)
        }
    }
}

/// Remove everything of compose project `project`; how it went, and how long it took.
pub fn tear_down(ctx: &Context, project: &str) -> (Result<(), String>, f64) {
    let down = Instant::now();
    let swept = sweep(
        &ctx.runtime.children,
        labels::COMPOSE_PROJECT,
        project,
        false,
    );
    let outcome = swept.map(|_| ()).map_err(|err| format!("{err:#}"));
    if outcome.is_ok() {
        ctx.runtime.subnets.release(project);
    }
    (outcome, down.elapsed().as_secs_f64())
}

/// Leave the stack running, and say how to reach and remove it.
pub fn keep(ctx: &Context, spec: &Spec, file: &Path) {
    let compose = &ctx.stack.compose;
    let reach = format!(
        "{} -p {} -f {} --project-directory {}",
        compose.name(),
        spec.project,
        file.display(),
        compose.project_directory().display()
    );
    ctx.runtime.progress.note(&format!(
        "shard {}: stack {} left running; reach it with `{reach} ps` \
         (or exec, logs), remove it with `{reach} down -v` or `stack-run --clean --prefix {}`",
        spec.shard, spec.project, ctx.names.prefix
    ));
    ctx.runtime
        .kept
        .store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Get the stack ready for the command: the sidecars up and ready, the image
/// built, and, if asked for with what it mounts, the service's resident
/// container started while the sidecars get ready.
pub fn bring_up(
    ctx: &Context,
    project: &str,
    file: &Path,
    log: &Log,
    limits: &Limits,
    resident: Option<Mount>,
) -> Result<Option<Resident>, String> {
    let stack = &ctx.stack;
    let image_ready = || log.timed("image ready", || wait_for_build(ctx, limits));
    // A sidecar built by this run needs its image first; others start while it builds.
    let image_first = stack
        .sidecars
        .iter()
        .any(|name| stack.images.contains_key(name));
    if image_first {
        image_ready()?;
    }
    if !stack.sidecars.is_empty() {
        up(ctx, project, file, log, limits)?;
    }
    std::thread::scope(|scope| {
        // It needs the image, not the sidecars: it starts while they get ready.
        let resident = resident.map(|mount| {
            scope.spawn(move || {
                wait_for_build(ctx, limits).ok()?;
                Resident::start(ctx, project, file, mount, log)
            })
        });
        let ready = if stack.sidecars.is_empty() {
            Ok(())
        } else {
            wait_ready(ctx, project, log, limits)
        };
        let resident =
            resident.and_then(|thread| thread.join().expect("the resident start panicked"));
        ready?;
        if !image_first {
            image_ready()?;
        }
        Ok(resident)
    })
}

fn wait_for_build(ctx: &Context, limits: &Limits) -> Result<(), String> {
    match ctx.runtime.built.wait(|| limits.reached()) {
        None => Err("stopped while the image was building".into()),
        Some(Err(failure)) => Err(format!(
            "the image could not be built: {:#}",
            failure.error()
        )),
        Some(Ok(())) => Ok(()),
    }
}

/// `compose up -d` the sidecars.
fn up(ctx: &Context, project: &str, file: &Path, log: &Log, limits: &Limits) -> Result<(), String> {
    let children = &ctx.runtime.children;
    let mut cmd = ctx.stack.compose.project(project, file);
    cmd.args(["up", "-d", "--no-build"])
        .args(&ctx.stack.sidecars);
    log.line(&format!("stack-run: $ {}", describe(&cmd)));
    let starting = Instant::now();
    match children.run_logged(cmd, log, Arc::new(|_: &str| {}), || limits.reached()) {
        Ok(Ended::Exited(status)) if status.success() => {}
        Ok(Ended::Exited(status)) => {
            return Err(format!("compose up failed ({status}), see {LOG_FILE}"));
        }
        Ok(Ended::Stopped) => return Err("compose up was stopped".into()),
        Err(err) => return Err(format!("{err:#}")),
    }
    log.took("sidecars up", starting.elapsed().as_secs_f64());
    Ok(())
}

/// Wait until the sidecars that are up are ready.
fn wait_ready(ctx: &Context, project: &str, log: &Log, limits: &Limits) -> Result<(), String> {
    let ready_by = Instant::now() + ctx.config.ready_timeout;
    let ready_by = limits
        .deadline
        .map_or(ready_by, |deadline| deadline.min(ready_by));
    let waiting = Instant::now();
    let ready = ready::wait(ctx, project, ready_by, || limits.reached());
    match &ready {
        Ok(()) => log.took("sidecars ready", waiting.elapsed().as_secs_f64()),
        Err(err) => log.line(&format!("stack-run: {err:#}")),
    }
    ready.map_err(|err| format!("{err:#}"))
}

/// `compose run --rm -T --no-deps -e … SERVICE COMMAND…`, placeholders
/// filled, and the same command line to log, `-e` values hidden (they may be secrets).
pub fn command(ctx: &Context, spec: &Spec, file: &Path) -> (std::process::Command, String) {
    let mut cmd = ctx.stack.compose.project(&spec.project, file);
    cmd.args(["run", "--rm", "-T", "--no-deps"]);
    if let Some(folder) = &spec.run_mount {
        cmd.arg("-v")
            .arg(format!("{}:{OUT_MOUNT}", folder.display()));
    }
    with_command(ctx, spec, cmd, std::slice::from_ref(&ctx.stack.service))
}

/// `runner` (`compose run` or `docker exec` with its options) completed with
/// the variables `spec`'s command gets, `target` (what runs it) and the
/// command, placeholders filled in; and how to show it, `-e` values hidden.
pub fn with_command(
    ctx: &Context,
    spec: &Spec,
    mut runner: std::process::Command,
    target: &[String],
) -> (std::process::Command, String) {
    let vars = Vars {
        tests_file: &spec.mounted_tests_file,
        out_folder: &spec.mounted_folder,
        shard: spec.shard,
        shard_count: ctx.config.shard_count,
        stack: spec.stack,
    };
    let env = &ctx.config.env;
    // The defaults' values are stack-run's own: shown in clear.
    let mut defaults = Vec::new();
    for (key, value) in DEFAULT_ENV {
        if !env.iter().any(|(k, _)| k == key) {
            runner
                .arg("-e")
                .arg(format!("{key}={}", expand(value, &vars)));
            defaults.push(key);
        }
    }
    for (key, value) in env {
        runner
            .arg("-e")
            .arg(format!("{key}={}", expand(value, &vars)));
    }
    runner
        .args(target)
        .args(ctx.config.command.iter().map(|arg| expand(arg, &vars)));
    let shown = describe_showing(&runner, &defaults);
    (runner, shown)
}

/// `compose logs` of the whole stack, to services.log in `folder`.
pub fn save_service_logs(ctx: &Context, project: &str, file: &Path, folder: &Path) {
    let mut cmd = ctx.stack.compose.project(project, file);
    cmd.args(["logs", "--no-color", "--timestamps"]);
    let text = match ctx.runtime.children.capture(cmd) {
        Ok(output) => [output.stdout, output.stderr].concat(),
        Err(err) => format!("stack-run: cannot read the sidecars' logs: {err:#}\n").into_bytes(),
    };
    let _ = std::fs::write(folder.join(SERVICES_LOG), text);
}
