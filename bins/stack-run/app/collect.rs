//! `--collect`: run the command once in the service's container, alone, and
//! pass its stdout on: how a pipeline lists its tests (`pytest
//! --collect-only -q`) with a shard's guarantees.
//!
//! `compose run --rm --no-deps` removes its container but leaves the
//! project's default network and named volumes behind, run after run. Here
//! the command runs in a compose project of its own, derived and labelled as
//! a shard's, holding the service alone (no sidecar, none of their volumes
//! or networks: see `Model::collect_file`), and everything the project made
//! is removed by label afterwards, on a failure or a signal too. Its files
//! (derived compose files, the build log) go to the system's temporary
//! folder, not under --out, and are removed: a collection leaves nothing on
//! disk but what it prints, except a failed build's log
//! (`stack-run-collect-build-*.log`), which the message names.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;
use shared::contract::labels;
use shared::exit::{self, ExitContext, Failure};

use crate::app::cli::Cli;
use crate::app::context::{Context, Runtime};
use crate::engine::docker::{sweep, sweep_settled, untag};
use crate::engine::proc::describe;
use crate::engine::signals;
use crate::engine::subnets;
use crate::model::layout::Layout;
use crate::stack::build::build_and_open;

/// Collect as the command line says; the exit status.
pub fn main(cli: &Cli) -> Result<i32, Failure> {
    let runtime = Runtime::new(1, &[1], None, false);
    // A signal stops the compose client; the sweep below removes the rest.
    let children = Arc::clone(&runtime.children);
    signals::listen(Arc::clone(&runtime.stop), move |_| children.kill_all())
        .context("cannot listen for signals")
        .exit_code(exit::INFRA)?;
    let mut ctx = Context::new(cli, &runtime, 1, None, None)?;
    let scratch = tempfile::Builder::new()
        .prefix("stack-run-collect-")
        .tempdir()
        .context("cannot create a temporary folder")
        .exit_code(exit::INFRA)?;
    // Outside the scratch folder: a failed build's log is kept alone.
    let build_log = tempfile::Builder::new()
        .prefix("stack-run-collect-build-")
        .suffix(".log")
        .tempfile()
        .context("cannot create a temporary file")
        .exit_code(exit::INFRA)?;
    ctx.stacks.layout = Layout::new(scratch.path())
        .exit_code(exit::INFRA)?
        .with_passing_build_log(build_log.path().to_path_buf());
    let work = ctx.stacks.layout.work_folder();
    std::fs::create_dir_all(&work)
        .with_context(|| format!("cannot create {}", work.display()))
        .exit_code(exit::INFRA)?;
    let collected = build_and_run(&ctx);
    let swept = match runtime.stop.requested() {
        true => sweep_settled(&runtime.children, labels::RUN, &ctx.stacks.names.run_id),
        false => sweep(
            &runtime.children,
            labels::RUN,
            &ctx.stacks.names.run_id,
            false,
        ),
    };
    untag(
        &runtime.children,
        &ctx.stacks
            .blueprint
            .images
            .values()
            .cloned()
            .collect::<Vec<_>>(),
    );
    // The build's failure message names its log: that one file stays.
    if let Some(Err(_)) = ctx.stacks.built.outcome() {
        let _ = build_log.keep();
    }
    if let Some(code) = runtime.stop.exit_code() {
        return Ok(code);
    }
    swept
        .context("cannot remove the collection's containers, network and volumes")
        .exit_code(exit::INFRA)?;
    collected
}

/// Build the images, run the command without sidecars, pass its output on.
fn build_and_run(ctx: &Context) -> Result<i32, Failure> {
    build_and_open(&ctx.stacks);
    if let Some(Err(failure)) = ctx.stacks.built.outcome() {
        return Ok(failure.code());
    }
    let project = ctx.stacks.names.collect_project();
    let file = ctx.stacks.layout.work_folder().join("collect.compose.json");
    write_file(ctx, &project, &file).exit_code(exit::INFRA)?;
    let mut cmd = ctx.stacks.blueprint.compose.project(&project, &file);
    cmd.args(["run", "--rm", "-T", "--no-deps"]);
    for (key, value) in &ctx.config.task.env {
        cmd.arg("-e").arg(format!("{key}={value}"));
    }
    cmd.arg(&ctx.stacks.blueprint.service)
        .args(&ctx.config.task.command);
    // `-e` values hidden, as everywhere: they may be secrets.
    let shown = describe(&cmd);
    let output = ctx.runtime.children.capture(cmd).exit_code(exit::INFRA)?;
    let _ = std::io::stderr().write_all(&output.stderr);
    // A closed stdout (`| head`) is not an error; the cleanup still runs.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(&output.stdout)
        .and_then(|()| stdout.flush());
    if ctx.runtime.stop.requested() {
        return Ok(exit::SUCCESS);
    }
    match output.status.code() {
        Some(0) => Ok(exit::SUCCESS),
        code => {
            eprintln!(
                "stack-run: the collection command {}: {shown}",
                code.map_or("was killed".to_string(), |code| format!("exited {code}"))
            );
            Ok(exit::FAILURES)
        }
    }
}

/// Create the networks the service attaches to, labelled as a shard's, and
/// write the project's compose file: the service alone.
fn write_file(ctx: &Context, project: &str, file: &std::path::Path) -> anyhow::Result<()> {
    let stack = &ctx.stacks.blueprint;
    let labels = ctx.stacks.names.run_labels();
    let attached = stack.model.service_networks(&stack.service);
    let networks: Vec<_> = stack
        .networks
        .iter()
        .filter(|(network, _)| attached.contains(&network.name))
        .cloned()
        .collect();
    let placed = subnets::create(
        &ctx.runtime.children,
        &ctx.stacks.subnets,
        ctx.stacks.subnet_pool,
        project,
        &networks,
        &labels,
    )?;
    let derived =
        stack
            .model
            .collect_file(&labels, &stack.images, &stack.service, (project, &placed));
    std::fs::write(file, derived.to_string())
        .with_context(|| format!("cannot write {}", file.display()))
}
