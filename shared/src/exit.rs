//! Exit statuses, shared by every tool so a pipeline or Makefile can branch on them.
//!
//! A status is chosen where the failure happens: code that fails returns a
//! [`Failure`], made with [`ExitContext::exit_code`], and `main` ends with its
//! [`Failure::code`]. There is no default: an `anyhow::Error` does not become
//! a `Failure` by `?`, so a new failure site has to name its status.

use std::error::Error;
use std::fmt;
use std::io::ErrorKind;

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

/// An error with the status the program ends with.
///
/// It is transparent: it shows as the error it holds, and its causes are
/// that error's, so context added around it and `{:#}` read as without it.
#[derive(Debug)]
pub struct Failure {
    code: i32,
    error: anyhow::Error,
}

impl Failure {
    /// `error`, ending the program with `code`, unless a failure inside it
    /// already chose a status: the innermost choice, made where the failure
    /// happened, stays.
    pub fn new(code: i32, error: impl Into<anyhow::Error>) -> Failure {
        let error = error.into();
        let inner = causes(error.as_ref())
            .filter_map(|cause| cause.downcast_ref::<Failure>())
            .last()
            .map(|failure| failure.code);
        Failure {
            code: inner.unwrap_or(code),
            error,
        }
    }

    /// The status to end with.
    pub fn code(&self) -> i32 {
        self.code
    }

    pub fn error(&self) -> &anyhow::Error {
        &self.error
    }

    /// Whether a write to a closed pipe caused it, at any depth: a reader
    /// that stopped reading (`| head`) is not an error.
    pub fn is_broken_pipe(&self) -> bool {
        causes(self.error.as_ref()).any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error.source()
    }
}

/// Every cause of `error`, outermost first, also the error a [`Failure`]
/// holds (which its `source` skips, being shown in its place).
fn causes<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&cause| {
        match cause.downcast_ref::<Failure>() {
            Some(failure) => Some(failure.error.as_ref()),
            None => cause.source(),
        }
    })
}

/// Choose the status an error ends the program with: `read(path).exit_code(exit::USAGE)?`.
pub trait ExitContext<T> {
    fn exit_code(self, code: i32) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> ExitContext<T> for Result<T, E> {
    fn exit_code(self, code: i32) -> Result<T, Failure> {
        self.map_err(|error| Failure::new(code, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_status_is_the_one_given() {
        let failure = Err::<(), _>(anyhow::anyhow!("bad flag"))
            .exit_code(USAGE)
            .unwrap_err();
        assert_eq!(failure.code(), USAGE);
        assert_eq!(failure.to_string(), "bad flag");
    }

    #[test]
    fn the_innermost_status_survives_added_context_and_retagging() {
        let inner = Err::<(), _>(anyhow::anyhow!("compose up failed")).exit_code(INFRA);
        let outer = inner.context("shard 2").exit_code(USAGE).unwrap_err();
        assert_eq!(outer.code(), INFRA);
        assert_eq!(format!("{:#}", outer.error()), "shard 2: compose up failed");
    }

    #[test]
    fn causes_read_through_a_failure() {
        let io = std::io::Error::other("disk full");
        let inner =
            Err::<(), _>(anyhow::Error::new(io).context("cannot write out.xml")).exit_code(INFRA);
        let outer = inner.context("shard 2").exit_code(USAGE).unwrap_err();
        let shown = format!("{:#}", outer.error());
        assert_eq!(shown, "shard 2: cannot write out.xml: disk full");
    }

    #[test]
    fn a_broken_pipe_is_found_inside_failures() {
        let pipe = std::io::Error::from(ErrorKind::BrokenPipe);
        let inner = Err::<(), _>(pipe).exit_code(INFRA);
        let outer = inner
            .context("writing results")
            .exit_code(USAGE)
            .unwrap_err();
        assert!(outer.is_broken_pipe());
        let other = Err::<(), _>(std::io::Error::from(ErrorKind::NotFound))
            .exit_code(USAGE)
            .unwrap_err();
        assert!(!other.is_broken_pipe());
    }
}
