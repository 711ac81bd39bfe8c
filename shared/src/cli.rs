//! The one way every tool ends: a status code, and at most one error line.

use std::io::ErrorKind;
use std::process::ExitCode;

use crate::exit;

/// Run a tool's `run` and turn its outcome into the process exit status.
///
/// An error prints once, as `tool: message: cause`. A closed stdout (the
/// reader was `head`) is not an error: the tool ends quietly with success.
pub fn run(tool: &str, run: impl FnOnce() -> anyhow::Result<i32>) -> ExitCode {
    let code = match run() {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => exit::SUCCESS,
        Err(err) => {
            eprintln!("{tool}: {err:#}");
            exit::code_of(&err)
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

/// Whether the error, at any depth, is a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}
