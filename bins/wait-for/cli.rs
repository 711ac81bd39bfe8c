//! The command line of wait-for. (Invoked as `wait-for-it.sh`, it parses
//! wait-for-it's command line instead: see `compat.rs`.)

use std::ffi::OsString;
use std::time::Duration;

use clap::Parser;
use shared::exit;
use shared::help::{Example, after_help};

/// Wait until services are really ready, then run a command.
///
/// Every target is waited for at once, each until its own timeout. Attempts
/// start a millisecond apart and back off to 10 ms, every address a name
/// resolves to (IPv4 and IPv6) is tried, and each attempt gives up in time,
/// so an unreachable address cannot hang past the timeout.
///
/// When is a service ready? TCP, unix: a connection is accepted. PostgreSQL:
/// the server answers a startup message with an authentication request, not
/// with error 57P03 ("the database system is starting up", or in recovery,
/// or shutting down). Redis: PING is answered PONG (after AUTH when the URL
/// has a password), not LOADING, BUSY or MASTERDOWN. HTTP: a GET answers
/// 2xx or a --status code. File: the path exists. A server that answers but
/// refuses this client (no such database, NOAUTH because the URL has no
/// password, a wrong password) is up: it counts as ready, and the refusal is
/// shown as a note, since waiting will not change it. Without the password,
/// Redis cannot tell whether it is still loading: give it in the URL.
///
/// Once every target is ready the command replaces wait-for (signals reach
/// it directly) and its exit status is wait-for's. If a target is not ready
/// in time, the command is not run and wait-for exits with 124. Interrupted
/// while waiting (SIGINT, SIGTERM, even as a container's PID 1), it exits
/// with 130 or 143 and does not run the command either.
///
/// Installed as `wait-for-it.sh` (as `make install` does), wait-for takes
/// wait-for-it's command line instead, prints its messages and exits with
/// its statuses, so scripts that call wait-for-it need no change. There it
/// also takes a URL in place of host:port, and refuses a port or timeout
/// that is not a number at once (status 1) rather than waiting on it.
#[derive(Parser, Debug)]
#[command(name = "wait-for", version, after_long_help = after_help(EXAMPLES, EXIT_STATUS))]
pub struct Cli {
    /// What to wait for: HOST:PORT, tcp://HOST:PORT,
    /// postgres://[USER@]HOST[:PORT][/DATABASE], redis://[[USER]:PASSWORD@]HOST[:PORT],
    /// http://HOST[:PORT][/PATH], unix:///PATH or file:///PATH. A target may end
    /// with #timeout=SECONDS (its own timeout) or #status=CODE
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Give up after this long: seconds, or a number with ms, s, m or h; 0 waits forever
    #[arg(short, long, value_name = "SECONDS", default_value = "15", value_parser = shared::timeout::parse)]
    pub timeout: Duration,

    /// Also count this HTTP status as ready (2xx always is); repeatable
    #[arg(long = "status", value_name = "CODE", value_parser = clap::value_parser!(u16).range(100..600))]
    pub statuses: Vec<u16>,

    /// Print a JSON report per target on stdout, one object a line: target,
    /// ready, address, attempts, ms, last_error, note
    #[arg(long)]
    pub json: bool,

    /// Print nothing on stderr unless a target is not ready in time
    #[arg(short, long)]
    pub quiet: bool,

    /// The command to run, after `--`, once every target is ready
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// The command could not be started: not executable.
pub const CANNOT_RUN: i32 = 126;
/// The command could not be started: not found.
pub const NOT_FOUND: i32 = 127;

pub const EXAMPLES: &[Example] = &[
    Example {
        about: "Start the tests once PostgreSQL and Redis are really ready",
        command: "wait-for postgres://app@db/app redis://cache -- pytest",
    },
    Example {
        about: "Wait up to a minute for a health endpoint, 10 s for a port",
        command: "wait-for -t 60 http://api:8000/health 'broker:5672#timeout=10'",
    },
    Example {
        about: "Report how long each target took, as JSON lines",
        command: "wait-for --json db:5432 cache:6379",
    },
    Example {
        about: "As a drop-in for wait-for-it (make install links it so)",
        command: "wait-for-it.sh db:5432 -t 30 --strict -- ./manage.py migrate",
    },
];

pub const EXIT_STATUS: &[(i32, &str)] = &[
    (
        exit::SUCCESS,
        "every target is ready (with a command: the command's own status)",
    ),
    (
        exit::FAILURES,
        "as wait-for-it.sh: usage error (wait-for-it's status for it)",
    ),
    (exit::USAGE, "usage error: a bad option or target"),
    (
        exit::TIMEOUT,
        "a target was not ready in time; the command was not run (as wait-for-it.sh: unless --strict, it is run and its status is returned)",
    ),
    (CANNOT_RUN, "the command could not be run"),
    (NOT_FOUND, "the command was not found"),
    (exit::SIGINT, "interrupted by SIGINT while waiting"),
    (exit::SIGTERM, "terminated by SIGTERM while waiting"),
];
