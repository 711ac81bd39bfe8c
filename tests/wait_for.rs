//! wait-for against real services: a PostgreSQL held in startup, a Redis
//! loading its dataset, a real HTTP server, closed ports, a black-holed
//! port, names that do not resolve; and what happens after waiting: the
//! command's status, strictness, signals. `compat` runs wait-for-it's own
//! test cases against wait-for installed as `wait-for-it.sh`.

mod compat;
mod services;

use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::util::{Dir, bin, tool};
use services::{HttpServer, Postgres, Redis, Running, black_hole, free_port};

/// The JSON report lines wait-for printed.
fn reports(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The one report of a run with one target.
fn report(stdout: &str) -> Value {
    let mut all = reports(stdout);
    assert_eq!(all.len(), 1, "one report expected:\n{stdout}");
    all.remove(0)
}

fn wait_for() -> Command {
    Command::new(bin("wait-for"))
}

#[test]
fn postgres_is_not_ready_while_starting_up() {
    let postgres = Postgres::start_held();
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", postgres.port);

    // The port accepts connections, but the server refuses to serve them.
    let tcp = tool("wait-for")
        .args([
            "--json",
            "-t",
            "5",
            &format!("tcp://127.0.0.1:{}", postgres.port),
        ])
        .succeeds();
    assert_eq!(report(&tcp.stdout)["ready"], true);
    let starting = tool("wait-for")
        .args(["--json", "-t", "1", &url])
        .run()
        .code(124);
    let starting = report(&starting.stdout);
    assert_eq!(starting["ready"], false);
    assert_eq!(starting["last_error"], "the database system is starting up");

    let mut waiting = Running::start(
        wait_for()
            .args(["--json", "-t", "30", &url, "--", "echo", "migrations ran"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "KILL",
    );
    // Release the server only once wait-for has been refused.
    let refused = postgres.refusals();
    for _ in 0..6000 {
        if postgres.refusals() > refused {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    postgres.release();
    let output = waiting.output();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (report_line, command_output) = stdout.split_once('\n').unwrap();
    let ready = report(report_line);
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["address"], format!("127.0.0.1:{}", postgres.port));
    assert_eq!(ready["last_error"], "the database system is starting up");
    assert_eq!(command_output, "migrations ran\n");

    // Up, but refusing this client: ready, with the server's reason.
    let nosuch = format!("postgres://postgres@127.0.0.1:{}/nosuch", postgres.port);
    let refused = tool("wait-for").args(["--json", &nosuch]).succeeds();
    let refused = report(&refused.stdout);
    assert_eq!(
        refused["note"],
        "FATAL 3D000: database \"nosuch\" does not exist"
    );
    // wait-for ends its sessions properly: nothing for the server to log.
    assert!(
        !postgres
            .log()
            .contains("could not receive data from client")
    );
}

#[test]
fn redis_is_not_ready_while_loading() {
    let redis = Redis::start_loading();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    // A loading Redis answers slowly: a second gets a few answers.
    let loading = tool("wait-for")
        .args(["--json", "-t", "1", &url])
        .run()
        .code(124);
    let loading = report(&loading.stdout);
    assert!(
        loading["last_error"]
            .as_str()
            .unwrap()
            .starts_with("LOADING"),
        "{loading}"
    );
    let ready = tool("wait-for")
        .args(["--json", "-t", "30", &url])
        .succeeds();
    let ready = report(&ready.stdout);
    assert_eq!(ready["ready"], true);
    assert!(ready["last_error"].as_str().unwrap().starts_with("LOADING"));
    assert_eq!(ready["note"], Value::Null);
}

#[test]
fn redis_with_a_password() {
    let redis = Redis::start(&["--requirepass", "s3cret"]);
    let port = redis.port;
    let run = tool("wait-for")
        .args(["--json", "-t", "5"])
        .arg(format!("redis://127.0.0.1:{port}"))
        .arg(format!("redis://:s3cret@127.0.0.1:{port}"))
        .arg(format!("redis://default:wrong@127.0.0.1:{port}"))
        .succeeds();
    let [no_password, right, wrong] = <[Value; 3]>::try_from(reports(&run.stdout)).unwrap();
    // Up, but whether it still loads is behind the password it lacks.
    assert!(no_password["note"].as_str().unwrap().starts_with("NOAUTH"));
    assert_eq!(right["note"], Value::Null);
    assert_eq!(right["target"], format!("redis://:***@127.0.0.1:{port}"));
    assert!(wrong["note"].as_str().unwrap().starts_with("WRONGPASS"));
    assert!(!run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"));
}

#[test]
fn http_server_that_starts_later() {
    let port = free_port();
    let mut waiting = Running::start(
        wait_for()
            .args([
                "-t",
                "30",
                &format!("http://127.0.0.1:{port}/health"),
                "--",
                "echo",
                "up",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "KILL",
    );
    thread::sleep(Duration::from_millis(300));
    let _server = HttpServer::start_on(port);
    assert_eq!(waiting.first_line(), "up");
    let output = waiting.output();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let target = format!("http://127.0.0.1:{port}/health");
    let (waiting, ready) = stderr.split_once('\n').unwrap();
    assert_eq!(waiting, format!("wait-for: waiting for {target} (30 s)"));
    assert!(
        ready.starts_with(&format!("wait-for: {target} is ready after ")),
        "{stderr}"
    );
}

#[test]
fn http_status_decides() {
    let server = HttpServer::start();
    let missing = format!("http://127.0.0.1:{}/missing", server.port);
    let not_found = tool("wait-for")
        .args(["--json", "-t", "0.3", &missing])
        .run()
        .code(124);
    assert_eq!(
        report(&not_found.stdout)["last_error"],
        "HTTP/1.0 404 File not found"
    );
    tool("wait-for")
        .args(["-t", "5", "--status", "404", &missing])
        .succeeds();
    tool("wait-for")
        .args(["-t", "5", &format!("{missing}#status=404")])
        .succeeds();
}

#[test]
fn closed_port_times_out() {
    let port = free_port();
    let run = tool("wait-for")
        .args(["-t", "0.3", &format!("127.0.0.1:{port}")])
        .run()
        .code(124);
    let (waiting, not_ready) = run.stderr.split_once('\n').unwrap();
    assert_eq!(
        waiting,
        format!("wait-for: waiting for 127.0.0.1:{port} (0.3 s)")
    );
    // The time it says is the time it waited: 0.3 s or, on a busy machine, a little more.
    let waited = not_ready
        .strip_prefix(&format!("wait-for: 127.0.0.1:{port} is not ready after "))
        .and_then(|rest| rest.split_once(" s ("))
        .and_then(|(seconds, _)| seconds.parse::<f64>().ok());
    assert!(
        waited.is_some_and(|seconds| seconds >= 0.3),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("): connection refused\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn name_that_does_not_resolve() {
    let run = tool("wait-for")
        .args(["--json", "-t", "0.5", "no-such-host.invalid:80"])
        .run()
        .code(124);
    let error = report(&run.stdout)["last_error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.starts_with("cannot resolve no-such-host.invalid: "),
        "{error}"
    );
}

#[test]
fn black_holed_port_cannot_hang_past_the_timeout() {
    let mut hole = black_hole();
    let port = hole.first_line();
    let run = tool("wait-for")
        .args(["--json", "-t", "1", &format!("127.0.0.1:{port}")])
        .run()
        .code(124);
    let report = report(&run.stdout);
    assert_eq!(report["last_error"], "timed out");
    // The kernel alone would retry the SYN for two minutes.
    assert!(report["ms"].as_u64().unwrap() < 10_000, "{report}");
}

#[test]
fn targets_wait_in_parallel_each_with_its_own_timeout() {
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = open.local_addr().unwrap().to_string();
    let (slow, quick) = (free_port(), free_port());
    let run = tool("wait-for")
        .args(["--json", "-t", "1"])
        .arg(format!("127.0.0.1:{slow}"))
        .arg(format!("tcp://127.0.0.1:{quick}#timeout=0.1"))
        .arg(&open)
        .run()
        .code(124);
    let [slow, quick, open] = <[Value; 3]>::try_from(reports(&run.stdout)).unwrap();
    assert_eq!(
        (slow["ready"].clone(), quick["ready"].clone()),
        (false.into(), false.into())
    );
    assert!(quick["ms"].as_u64() < slow["ms"].as_u64(), "{quick} {slow}");
    assert_eq!(open["ready"], true);
    assert_eq!(open["attempts"], 1);
}

#[test]
fn ipv6_literal() {
    let listener = std::net::TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let run = tool("wait-for")
        .args(["--json", &format!("tcp://[::1]:{port}")])
        .succeeds();
    assert_eq!(report(&run.stdout)["address"], format!("[::1]:{port}"));
}

#[test]
fn unix_socket_and_file() {
    let dir = Dir::new();
    let socket = dir.join("app.sock");
    let file = dir.join("ready");
    let targets = [
        format!("unix://{}", socket.display()),
        format!("file://{}", file.display()),
    ];
    let missing = tool("wait-for")
        .args(["--json", "-t", "0.1"])
        .args(&targets)
        .run()
        .code(124);
    let [socket_report, file_report] = <[Value; 2]>::try_from(reports(&missing.stdout)).unwrap();
    assert_eq!(socket_report["last_error"], "no such file or directory");
    assert_eq!(file_report["last_error"], "no such file");

    let _listener = UnixListener::bind(&socket).unwrap();
    let creator = {
        let file = file.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            std::fs::write(file, "").unwrap();
        })
    };
    let run = tool("wait-for")
        .args(["--json", "-t", "10"])
        .args(&targets)
        .succeeds();
    creator.join().unwrap();
    let [socket_report, file_report] = <[Value; 2]>::try_from(reports(&run.stdout)).unwrap();
    assert_eq!(socket_report["address"], socket.display().to_string());
    assert_eq!(file_report["ready"], true);
}

#[test]
fn command_status_passes_through() {
    let server = HttpServer::start();
    let target = format!("127.0.0.1:{}", server.port);
    tool("wait-for")
        .args(["-q", &target, "--", "sh", "-c", "echo out; exit 7"])
        .run()
        .code(7);
    let quiet = tool("wait-for")
        .args(["-q", &target, "--", "true"])
        .succeeds();
    assert_eq!(quiet.stderr, "");
    tool("wait-for")
        .args([&target, "--", "no-such-command-anywhere"])
        .run()
        .code(127);
}

#[test]
fn a_timeout_never_runs_the_command() {
    let dir = Dir::new();
    let marker = dir.join("ran");
    let run = tool("wait-for")
        .args([
            "-t",
            "0.2",
            &format!("127.0.0.1:{}", free_port()),
            "--",
            "touch",
        ])
        .arg(&marker)
        .run()
        .code(124);
    assert!(
        run.stderr
            .ends_with("wait-for: not running touch: 1 of 1 targets not ready\n")
    );
    assert!(!marker.exists());
}

#[test]
fn bad_targets_are_usage_errors() {
    tool("wait-for").arg("db").run().fails_with(
        2,
        "wait-for: invalid target \"db\": no port: write HOST:PORT",
    );
    tool("wait-for")
        .arg("https://api")
        .run()
        .fails_with(2, "needs TLS");
}

/// Wait until process `pid` runs more than one thread: wait-for catches
/// signals before it starts any.
fn await_threads(pid: &str) {
    let tasks = format!("/proc/{pid}/task");
    for _ in 0..2000 {
        if std::fs::read_dir(&tasks).map_or(0, Iterator::count) > 1 {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
    panic!("process {pid} never started its threads");
}

#[test]
fn a_signal_while_waiting_ends_wait_for_and_not_the_command() {
    let dir = Dir::new();
    let marker = dir.join("ran");
    let mut waiting = Running::start(
        wait_for()
            .args([
                "-t",
                "30",
                &format!("127.0.0.1:{}", free_port()),
                "--",
                "touch",
            ])
            .arg(&marker)
            .stderr(Stdio::null()),
        "KILL",
    );
    await_threads(&waiting.child.id().to_string());
    waiting.signal("TERM");
    assert_eq!(waiting.child.wait().unwrap().code(), Some(143));
    assert!(!marker.exists());
}

#[test]
fn a_signal_ends_wait_for_even_as_pid_1() {
    // The kernel spares a namespace's PID 1 the default signal actions, as
    // in a container: only a caught signal ends it.
    let mut unshare = Running::start(
        Command::new("unshare")
            .args(["--user", "--map-root-user", "--pid", "--fork", "--"])
            .arg(bin("wait-for"))
            .args(["-t", "30", &format!("127.0.0.1:{}", free_port())])
            .stderr(Stdio::null()),
        "KILL",
    );
    let children = format!("/proc/{0}/task/{0}/children", unshare.child.id());
    let mut pid_1 = String::new();
    for _ in 0..2000 {
        pid_1 = std::fs::read_to_string(&children)
            .unwrap()
            .trim()
            .to_owned();
        if !pid_1.is_empty() {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    await_threads(&pid_1);
    let kill = Command::new("kill")
        .args(["-s", "INT", &pid_1])
        .status()
        .unwrap();
    assert!(kill.success());
    // unshare passes on the status of the process it forked.
    assert_eq!(unshare.child.wait().unwrap().code(), Some(130));
}

#[test]
fn the_command_replaces_wait_for_and_gets_its_signals() {
    let server = HttpServer::start();
    let script = "trap 'exit 42' TERM; echo started; while :; do sleep 0.02; done";
    let mut command = Running::start(
        wait_for()
            .args([
                "-q",
                &format!("127.0.0.1:{}", server.port),
                "--",
                "sh",
                "-c",
                script,
            ])
            .stdout(Stdio::piped()),
        "KILL",
    );
    assert_eq!(command.first_line(), "started");
    // The same process now runs sh: wait-for exec'd it.
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", command.child.id())).unwrap();
    assert_eq!(comm.trim(), "sh");
    command.signal("TERM");
    assert_eq!(command.child.wait().unwrap().code(), Some(42));
}

#[test]
fn timeouts_past_the_clock_are_refused_or_mean_forever() {
    for args in [
        &["-t", "1e20", "file:///tmp"][..],
        &["-t", "1e19", "file:///tmp"],
        &["file:///tmp#timeout=1e19"],
        &["-t", "100000000000000000000000", "file:///tmp"],
    ] {
        tool("wait-for")
            .args(args)
            .run()
            .fails_with(2, "is not a duration");
    }
    // In range for the parser, past what the clock can reach: forever,
    // and /tmp is there at once.
    tool("wait-for")
        .args(["-q", "-t", "10000000000000000000", "file:///tmp"])
        .succeeds();
}

#[test]
fn impossible_host_names_are_refused_at_once() {
    let long = format!("{}:80", "a".repeat(300));
    let started = std::time::Instant::now();
    for target in ["a b:80", "a\tb:80", "tcp://a%20b:80", &long] {
        tool("wait-for")
            .args(["-t", "30", target])
            .run()
            .fails_with(2, "wait-for: invalid target");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}
