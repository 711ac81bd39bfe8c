//! wait-for installed as `wait-for-it.sh` (a symlink, as `make install`
//! makes it), run through the cases of wait-for-it's own test suite
//! (test/wait-for-it.py upstream), checking the same messages, output and
//! exit statuses; then the cases that suite leaves out: strict and quiet
//! modes, no timeout, unknown arguments.

use std::net::TcpListener;

use super::services::free_port;
use crate::util::{Dir, Outcome, bin, command};

const MISSING_ARGS: &str = "Error: you need to provide a host and port to test.";

/// wait-for under wait-for-it's name, in a scratch folder.
struct WaitForIt {
    dir: Dir,
}

impl WaitForIt {
    fn new() -> WaitForIt {
        let dir = Dir::new();
        std::os::unix::fs::symlink(bin("wait-for"), dir.join("wait-for-it.sh")).unwrap();
        WaitForIt { dir }
    }

    /// Run with `args`, split on whitespace as the upstream suite's shlex does.
    fn run(&self, args: &str) -> Outcome {
        command(self.dir.join("wait-for-it.sh"))
            .args(args.split_whitespace())
            .run()
    }
}

/// A listening port, as the upstream suite's `open_local_port` makes one.
fn open_port() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn no_args() {
    let run = WaitForIt::new().run("").code(1);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with(MISSING_ARGS), "{}", run.stderr);
    assert!(run.stderr.contains("\nUsage:\n"), "{}", run.stderr);
}

#[test]
fn help() {
    let run = WaitForIt::new().run("--help").code(1);
    assert!(
        run.stderr.starts_with(
            "Usage:\n    wait-for-it.sh host:port [-s] [-t timeout] [-- command args]\n"
        )
    );
}

#[test]
fn no_port() {
    let run = WaitForIt::new().run("--host=localhost").code(1);
    assert!(run.stderr.starts_with(MISSING_ARGS), "{}", run.stderr);
}

#[test]
fn no_host() {
    let run = WaitForIt::new().run("--port=80").code(1);
    assert!(run.stderr.starts_with(MISSING_ARGS), "{}", run.stderr);
}

#[test]
fn host_port() {
    let (_listener, port) = open_port();
    let run = WaitForIt::new()
        .run(&format!("--host=localhost --port={port} --timeout=1"))
        .code(0);
    assert_eq!(
        run.stderr,
        format!(
            "wait-for-it.sh: waiting 1 seconds for localhost:{port}\n\
             wait-for-it.sh: localhost:{port} is available after 0 seconds\n"
        )
    );
}

#[test]
fn combined_host_port() {
    let (_listener, port) = open_port();
    let run = WaitForIt::new()
        .run(&format!("localhost:{port} --timeout=1"))
        .code(0);
    assert!(
        run.stderr.starts_with(&format!(
            "wait-for-it.sh: waiting 1 seconds for localhost:{port}\n"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn port_failure_with_timeout() {
    let port = free_port();
    let run = WaitForIt::new()
        .run(&format!("localhost:{port} --timeout=1"))
        .code(124);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "wait-for-it.sh: waiting 1 seconds for localhost:{port}\n\
             wait-for-it.sh: timeout occurred after waiting 1 seconds for localhost:{port}\n"
        )
    );
}

#[test]
fn command_execution() {
    let (_listener, port) = open_port();
    let run = WaitForIt::new()
        .run(&format!("localhost:{port} -- echo CMD OUTPUT"))
        .code(0);
    assert_eq!(run.stdout, "CMD OUTPUT\n");
    assert!(
        run.stderr.ends_with(&format!(
            "wait-for-it.sh: localhost:{port} is available after 0 seconds\n"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn failed_command_execution() {
    let (_listener, port) = open_port();
    let run = WaitForIt::new().run(&format!("localhost:{port} -- ls not_real_file"));
    assert_eq!(run.code, 2, "ls's own status");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.ends_with("No such file or directory\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn command_after_connection_failure() {
    let port = free_port();
    let run = WaitForIt::new()
        .run(&format!("localhost:{port} --timeout=1 -- echo CMD OUTPUT"))
        .code(0);
    assert_eq!(run.stdout, "CMD OUTPUT\n");
    assert!(
        run.stderr.contains(&format!(
            "timeout occurred after waiting 1 seconds for localhost:{port}\n"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn strict_mode_refuses_the_command() {
    let port = free_port();
    let run = WaitForIt::new()
        .run(&format!(
            "-h localhost -p {port} -t 1 -s -- echo CMD OUTPUT"
        ))
        .code(124);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .ends_with("wait-for-it.sh: strict mode, refusing to execute subprocess\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn quiet_mode_prints_nothing() {
    let (_listener, port) = open_port();
    let run = WaitForIt::new()
        .run(&format!("-q localhost:{port} -- echo hi"))
        .code(0);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("hi\n", ""));
}

#[test]
fn zero_timeout_waits_without_one() {
    let (_listener, port) = open_port();
    let run = WaitForIt::new()
        .run(&format!("localhost:{port} -t 0"))
        .code(0);
    assert!(
        run.stderr.starts_with(&format!(
            "wait-for-it.sh: waiting for localhost:{port} without a timeout\n"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn what_wait_for_it_does_not_take() {
    let wait_for_it = WaitForIt::new();
    for (args, error) in [
        ("localhost:80 --timeout 5", "Unknown argument: --timeout\n"),
        ("localhost:80 -t5", "Unknown argument: -t5\n"),
        ("--host localhost -p 80", "Unknown argument: --host\n"),
    ] {
        let run = wait_for_it.run(args).code(1);
        assert!(
            run.stderr.starts_with(&format!("{error}Usage:\n")),
            "{args}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_timeout_past_the_clock_waits_without_one() {
    let run = WaitForIt::new()
        .run("-t 18446744073709551615 file:///tmp")
        .code(0);
    assert!(
        run.stderr.contains("file:///tmp is available"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_impossible_host_is_a_usage_error_at_once() {
    let run = WaitForIt::new().run("-t 30 -h a%20b -p 80").code(1);
    assert!(run.stderr.starts_with("Error: "), "{}", run.stderr);
    assert!(
        run.stderr.contains("a host name has letters"),
        "{}",
        run.stderr
    );
}
