//! The one way every tool ends: a status code, and at most one error line.

use std::process::ExitCode;

use crate::exit::{self, Failure};

/// Run a tool's `run` and turn its outcome into the process exit status.
///
/// An error prints once, as `tool: message: cause`, and ends the program
/// with the status its failure site chose. A closed stdout (the reader was
/// `head`) is not an error: the tool ends quietly with success.
pub fn run(tool: &str, run: impl FnOnce() -> Result<i32, Failure>) -> ExitCode {
    let code = match run() {
        Ok(code) => code,
        Err(failure) if failure.is_broken_pipe() => exit::SUCCESS,
        Err(failure) => {
            eprintln!("{tool}: {:#}", failure.error());
            failure.code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}
