//! Exit statuses, shared by every tool so a pipeline or Makefile can branch on them.
//!
//! Errors default to [`USAGE`]; code that knows better wraps its error in
//! [`Exit`] (see [`ExitContext`]) so `main` ends with the right status.

use std::fmt;

/// The job ran and everything passed.
pub const SUCCESS: i32 = 0;
/// The job ran and found failures: tests failed, coverage under `--fail-under`.
pub const FAILURES: i32 = 1;
/// Bad usage or bad input: a flag, a missing file, a malformed report.
pub const USAGE: i32 = 2;
/// Infrastructure failed: docker or compose failed, a shard crashed.
pub const INFRA: i32 = 3;
/// `wait-for` timed out, as wait-for-it and timeout(1) do.
pub const TIMEOUT: i32 = 124;
/// Interrupted by SIGINT (128 + 2), after cleaning up.
pub const SIGINT: i32 = 130;
/// Terminated by SIGTERM (128 + 15), after cleaning up.
pub const SIGTERM: i32 = 143;

/// An error that knows which status the program should end with.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub error: anyhow::Error,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Exit {}

/// Attach an exit status to an error: `docker_up().exit_code(exit::INFRA)?`.
pub trait ExitContext<T> {
    fn exit_code(self, code: i32) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ExitContext<T> for Result<T, E> {
    fn exit_code(self, code: i32) -> anyhow::Result<T> {
        self.map_err(|error| {
            Exit {
                code,
                error: error.into(),
            }
            .into()
        })
    }
}

/// The status an error ends the program with: the innermost [`Exit`] that
/// wraps it, else [`USAGE`].
pub fn code_of(error: &anyhow::Error) -> i32 {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Exit>())
        .map_or(USAGE, |exit| exit.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn plain_errors_are_usage_errors() {
        assert_eq!(code_of(&anyhow::anyhow!("bad flag")), USAGE);
    }

    #[test]
    fn exit_code_survives_added_context() {
        let err = Err::<(), _>(anyhow::anyhow!("compose up failed"))
            .exit_code(INFRA)
            .context("shard 2")
            .unwrap_err();
        assert_eq!(code_of(&err), INFRA);
        assert_eq!(format!("{err:#}"), "shard 2: compose up failed");
    }
}
