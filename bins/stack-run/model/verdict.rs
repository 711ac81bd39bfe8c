//! What status and message an attempt gets, from what happened to it: a
//! pure decision, kept apart from the processes and files that feed it so
//! every way an attempt can end is tested without Docker.

use std::time::Duration;

use shared::results::Status;

/// How an attempt went, as far as its status is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Happened {
    /// Its log or compose file could not be written: nothing was started.
    NotPrepared(String),
    /// The stack did not get ready; `stop` says what stopped it, if a stop did.
    StartFailed {
        message: String,
        stop: Option<StopCause>,
    },
    /// The command ran and exited; `None` when killed by a signal.
    Exited(Option<i32>),
    /// The container the command ran in stopped under it, with this status
    /// (`None` if unknown), whatever the command exited with.
    ContainerStopped(Option<i32>),
    /// stack-run stopped the command.
    Stopped(StopCause),
    /// The command could not be run or waited for.
    RunFailed(String),
}

/// Why stack-run stopped an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopCause {
    /// SIGINT or SIGTERM.
    Signal,
    /// Past `--timeout` (the duration).
    Timeout(Duration),
}

/// The attempt's status, exit code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: Status,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
}

/// Decide an attempt's verdict.
pub fn decide(happened: &Happened) -> Verdict {
    let error = |message: String| Verdict {
        status: Status::Error,
        exit_code: None,
        message: Some(message),
    };
    match happened {
        Happened::NotPrepared(message) | Happened::RunFailed(message) => error(message.clone()),
        Happened::StartFailed {
            message,
            stop: None,
        } => error(format!("the stack could not start: {message}")),
        Happened::StartFailed {
            message,
            stop: Some(cause),
        } => Verdict {
            status: cause.status(),
            exit_code: None,
            message: Some(format!("{} while starting: {message}", cause.words())),
        },
        Happened::Exited(code) => Verdict {
            status: classify(*code),
            exit_code: *code,
            message: explain(*code),
        },
        Happened::ContainerStopped(code) => Verdict {
            status: Status::Error,
            exit_code: *code,
            message: Some(format!(
                "the service's container stopped under the command: {}",
                explain(*code).unwrap_or_else(|| match code {
                    Some(code) => format!("exit status {code}"),
                    None => "it is gone".into(),
                })
            )),
        },
        Happened::Stopped(cause) => Verdict {
            status: cause.status(),
            exit_code: None,
            message: Some(cause.words()),
        },
    }
}

impl StopCause {
    fn status(self) -> Status {
        match self {
            StopCause::Signal => Status::Interrupted,
            StopCause::Timeout(_) => Status::Timeout,
        }
    }

    fn words(self) -> String {
        match self {
            StopCause::Signal => "interrupted".into(),
            StopCause::Timeout(limit) => format!("timed out after {}s", limit.as_secs_f64()),
        }
    }
}

impl Verdict {
    /// A stack that could not be torn down is an error, whatever ran in it:
    /// something of it is left behind.
    pub fn teardown_failed(self, why: &str) -> Verdict {
        Verdict {
            status: Status::Error,
            message: Some(format!("teardown failed: {why}")),
            ..self
        }
    }

    /// Whether people will want to look at the stack: its sidecars' logs are
    /// saved, and `--keep-on-failure` keeps it.
    pub fn is_trouble(&self) -> bool {
        matches!(
            self.status,
            Status::Failed | Status::Error | Status::Timeout
        )
    }

    /// The few words the progress line shows for it.
    pub fn detail(&self) -> String {
        match (self.exit_code, &self.message) {
            (_, Some(message)) => message.clone(),
            (Some(code), None) => format!("exit {code}"),
            (None, None) => String::new(),
        }
    }
}

/// The status from the command's exit status: pytest exits 1 when tests
/// failed; anything else means the tests did not run to the end.
fn classify(code: Option<i32>) -> Status {
    match code {
        Some(0) => Status::Passed,
        Some(1) => Status::Failed,
        _ => Status::Error,
    }
}

/// What a crash's exit status usually means.
fn explain(code: Option<i32>) -> Option<String> {
    let code = code?;
    let meaning = match code {
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
    Some(format!("{meaning} (exit status {code})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(status: Status, exit_code: Option<i32>, message: Option<&str>) -> Verdict {
        Verdict {
            status,
            exit_code,
            message: message.map(str::to_string),
        }
    }

    #[test]
    fn nothing_prepared_is_an_error_in_its_own_words() {
        let happened = Happened::NotPrepared("cannot create out/shard-1/log.txt".into());
        assert_eq!(
            decide(&happened),
            verdict(
                Status::Error,
                None,
                Some("cannot create out/shard-1/log.txt")
            )
        );
    }

    #[test]
    fn a_stack_that_did_not_start_is_an_error() {
        let happened = Happened::StartFailed {
            message: "sidecar db is unhealthy".into(),
            stop: None,
        };
        assert_eq!(
            decide(&happened),
            verdict(
                Status::Error,
                None,
                Some("the stack could not start: sidecar db is unhealthy")
            )
        );
    }

    #[test]
    fn a_start_cut_short_by_a_signal_or_the_timeout_says_so() {
        let start = |stop| Happened::StartFailed {
            message: "compose up was stopped".into(),
            stop: Some(stop),
        };
        assert_eq!(
            decide(&start(StopCause::Signal)),
            verdict(
                Status::Interrupted,
                None,
                Some("interrupted while starting: compose up was stopped")
            )
        );
        assert_eq!(
            decide(&start(StopCause::Timeout(Duration::from_millis(2500)))),
            verdict(
                Status::Timeout,
                None,
                Some("timed out after 2.5s while starting: compose up was stopped")
            )
        );
    }

    #[test]
    fn a_stopped_command_is_interrupted_or_timed_out() {
        assert_eq!(
            decide(&Happened::Stopped(StopCause::Signal)),
            verdict(Status::Interrupted, None, Some("interrupted"))
        );
        assert_eq!(
            decide(&Happened::Stopped(StopCause::Timeout(Duration::from_secs(
                5
            )))),
            verdict(Status::Timeout, None, Some("timed out after 5s"))
        );
    }

    #[test]
    fn exit_zero_passes_and_exit_one_fails_without_a_message() {
        assert_eq!(
            decide(&Happened::Exited(Some(0))),
            verdict(Status::Passed, Some(0), None)
        );
        assert_eq!(
            decide(&Happened::Exited(Some(1))),
            verdict(Status::Failed, Some(1), None)
        );
    }

    #[test]
    fn other_exits_are_errors_explained() {
        let cases = [
            (2, "the test run was interrupted (exit status 2)"),
            (3, "internal error in the test runner (exit status 3)"),
            (
                4,
                "the test runner rejected its command line (exit status 4)",
            ),
            (5, "no tests were collected (exit status 5)"),
            (
                126,
                "the container could not run the command (exit status 126)",
            ),
            (143, "the container was terminated (exit status 143)"),
            (42, "the command crashed (exit status 42)"),
        ];
        for (code, message) in cases {
            assert_eq!(
                decide(&Happened::Exited(Some(code))),
                verdict(Status::Error, Some(code), Some(message))
            );
        }
    }

    #[test]
    fn a_killed_command_is_an_error() {
        assert_eq!(
            decide(&Happened::Exited(Some(137))),
            verdict(
                Status::Error,
                Some(137),
                Some("the container was killed (docker kill or out of memory) (exit status 137)")
            )
        );
        // Killed by a signal, the compose client has no exit code.
        assert_eq!(
            decide(&Happened::Exited(None)),
            verdict(Status::Error, None, None)
        );
    }

    #[test]
    fn a_container_that_stopped_under_the_command_is_an_error_whatever_it_exited_with() {
        // `docker exec` into a container killed before the command started exits 1.
        let killed = decide(&Happened::ContainerStopped(Some(137)));
        assert_eq!(killed.status, Status::Error);
        assert_eq!(killed.exit_code, Some(137));
        assert_eq!(
            killed.message.as_deref(),
            Some(
                "the service's container stopped under the command: the container was \
                 killed (docker kill or out of memory) (exit status 137)"
            )
        );
        assert_eq!(
            decide(&Happened::ContainerStopped(None)).message.as_deref(),
            Some("the service's container stopped under the command: it is gone")
        );
    }

    #[test]
    fn a_command_that_could_not_run_is_an_error() {
        let happened = Happened::RunFailed("cannot run docker-compose: not found".into());
        assert_eq!(
            decide(&happened),
            verdict(
                Status::Error,
                None,
                Some("cannot run docker-compose: not found")
            )
        );
    }

    #[test]
    fn a_failed_teardown_turns_any_verdict_into_an_error() {
        let passed = decide(&Happened::Exited(Some(0)));
        assert_eq!(
            passed.teardown_failed("network in use"),
            verdict(
                Status::Error,
                Some(0),
                Some("teardown failed: network in use")
            )
        );
    }

    #[test]
    fn trouble_and_details() {
        let trouble: Vec<bool> = [0, 1, 5]
            .map(|code| decide(&Happened::Exited(Some(code))).is_trouble())
            .to_vec();
        assert_eq!(trouble, [false, true, true]);
        assert!(decide(&Happened::Stopped(StopCause::Timeout(Duration::ZERO))).is_trouble());
        assert!(!decide(&Happened::Stopped(StopCause::Signal)).is_trouble());
        assert_eq!(decide(&Happened::Exited(Some(1))).detail(), "exit 1");
        assert_eq!(decide(&Happened::Exited(None)).detail(), "");
        assert_eq!(
            decide(&Happened::Stopped(StopCause::Signal)).detail(),
            "interrupted"
        );
    }
}
