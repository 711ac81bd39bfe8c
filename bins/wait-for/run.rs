//! wait-for's own command line at work: wait for every target, report, and
//! exec the command when all are ready.

use std::ffi::OsString;
use std::io::{self, ErrorKind, Write};
use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::Context;
use shared::exit;

use crate::cli::{CANNOT_RUN, Cli, NOT_FOUND};
use crate::target::Target;
use crate::wait::{self, Report};

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let targets = cli
        .targets
        .iter()
        .map(|text| Target::parse(text, &cli.statuses))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let timeout = wait::nonzero(cli.timeout);
    if !cli.quiet {
        let waiting: Vec<String> = targets
            .iter()
            .map(|target| match wait::limit(target, timeout) {
                Some(limit) => format!("{} ({} s)", target.shown, limit.as_secs_f64()),
                None => format!("{} (no timeout)", target.shown),
            })
            .collect();
        eprintln!("wait-for: waiting for {}", waiting.join(", "));
    }
    let reports = wait::wait_all(&targets, timeout, |target, report| {
        if !report.ready {
            eprintln!("wait-for: {}", not_ready_message(target, report));
        } else if !cli.quiet {
            eprintln!("wait-for: {}", ready_message(target, report));
        }
    });
    if cli.json {
        let mut out = io::stdout().lock();
        for (target, report) in targets.iter().zip(&reports) {
            writeln!(out, "{}", json(target, report))?;
        }
        out.flush().context("writing the report")?;
    }
    let not_ready = reports.iter().filter(|report| !report.ready).count();
    if not_ready > 0 {
        if let Some(program) = cli.command.first() {
            eprintln!(
                "wait-for: not running {}: {not_ready} of {} targets not ready",
                program.to_string_lossy(),
                reports.len()
            );
        }
        return Ok(exit::TIMEOUT);
    }
    if cli.command.is_empty() {
        return Ok(exit::SUCCESS);
    }
    Ok(exec("wait-for", &cli.command))
}

fn ready_message(target: &Target, report: &Report) -> String {
    let mut message = format!(
        "{} is ready after {} ms ({} {})",
        target.shown,
        report.elapsed.as_millis(),
        report.attempts,
        plural(report.attempts, "attempt")
    );
    if let Some(note) = &report.note {
        message.push_str(&format!("; the server refuses this client: {note}"));
    }
    message
}

fn not_ready_message(target: &Target, report: &Report) -> String {
    format!(
        "{} is not ready after {:.1} s ({} {}): {}",
        target.shown,
        report.elapsed.as_secs_f64(),
        report.attempts,
        plural(report.attempts, "attempt"),
        report.last_error.as_deref().unwrap_or("no attempt made")
    )
}

fn plural(count: u32, word: &str) -> String {
    if count == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

fn json(target: &Target, report: &Report) -> serde_json::Value {
    serde_json::json!({
        "target": target.shown,
        "ready": report.ready,
        "address": report.address,
        "attempts": report.attempts,
        "ms": report.elapsed.as_millis() as u64,
        "last_error": report.last_error,
        "note": report.note,
    })
}

/// Replace this process with `command`, so signals reach it directly and
/// its exit status is ours. Returns only when it could not be started,
/// with the status a shell gives for that.
pub fn exec(name: &str, command: &[OsString]) -> i32 {
    let Some((program, args)) = command.split_first() else {
        return exit::SUCCESS;
    };
    let error = Command::new(program).args(args).exec();
    eprintln!(
        "{name}: cannot run {}: {}",
        program.to_string_lossy(),
        crate::net::describe(&error)
    );
    if error.kind() == ErrorKind::NotFound {
        NOT_FOUND
    } else {
        CANNOT_RUN
    }
}
