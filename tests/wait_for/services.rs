//! Real services for wait-for to wait on: PostgreSQL and Redis from
//! Debian's packages and Python's HTTP server, each on a free loopback port
//! in a scratch folder, stopped when the test ends (even when it fails).

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::util::{Dir, bin};

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Block until `target` is ready, using wait-for itself.
pub fn await_ready(target: &str) {
    let status = Command::new(bin("wait-for"))
        .args(["-q", "-t", "30", target])
        .status()
        .unwrap();
    assert!(status.success(), "{target} never came up");
}

/// A process that is stopped with `signal` and reaped when dropped.
pub struct Running {
    pub child: Child,
    signal: &'static str,
}

impl Running {
    pub fn start(command: &mut Command, signal: &'static str) -> Running {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        Running { child, signal }
    }

    /// Signal the process, without waiting for it.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {signal} {pid} failed");
    }

    /// Wait for the process to end and collect what it printed on the
    /// streams that are piped (and not taken yet).
    pub fn output(&mut self) -> Output {
        let mut stdout = Vec::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            pipe.read_to_end(&mut stdout).unwrap();
        }
        let mut stderr = Vec::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_end(&mut stderr).unwrap();
        }
        let status = self.child.wait().unwrap();
        Output {
            status,
            stdout,
            stderr,
        }
    }

    /// The first line the process prints on stdout (it must be piped).
    pub fn first_line(&mut self) -> String {
        let stdout = self.child.stdout.take().expect("stdout is not piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(self.signal);
            let _ = self.child.wait();
        }
    }
}

/// Whether the tests run as root, as CI does: PostgreSQL refuses to.
fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A command run as the `postgres` user when we are root, else as we are.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--clear-groups",
                "--",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// The newest PostgreSQL server programs Debian's packages installed.
fn postgres_bin(program: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (apt-get install postgresql)")
        .map(|entry| entry.unwrap().path())
        .collect();
    versions.sort_by_key(|path| {
        path.file_name()
            .and_then(|n| n.to_str()?.parse::<u32>().ok())
    });
    versions
        .last()
        .expect("no PostgreSQL version")
        .join("bin")
        .join(program)
}

/// A PostgreSQL server held in startup: archive recovery whose
/// `restore_command` waits while the `hold` file exists, so the server
/// answers "the database system is starting up" until [`Postgres::release`].
pub struct Postgres {
    pub port: u16,
    // Fields drop in order: the server stops before its folder goes.
    _server: Running,
    dir: Dir,
}

impl Postgres {
    pub fn start_held() -> Postgres {
        let dir = Dir::new();
        if is_root() {
            let owner = |field: &str| {
                let out = Command::new("id")
                    .args([field, "postgres"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse::<u32>()
                    .unwrap()
            };
            std::os::unix::fs::chown(dir.path(), Some(owner("-u")), Some(owner("-g"))).unwrap();
        }
        let data = dir.join("data");
        let initdb = as_postgres(&postgres_bin("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "--no-instructions",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(initdb.success(), "initdb failed");
        let hold = dir.write("hold", "");
        // Written by the server's owner, as PostgreSQL wants its files.
        let signal_file = as_postgres(Path::new("touch"))
            .arg(data.join("recovery.signal"))
            .status()
            .unwrap();
        assert!(signal_file.success());
        let port = free_port();
        let restore = format!(
            "restore_command=while [ -e {} ]; do sleep 0.02; done; false",
            hold.display()
        );
        let server = Running::start(
            as_postgres(&postgres_bin("postgres"))
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-k"])
                .arg(dir.path())
                .args(["-c", "listen_addresses=127.0.0.1", "-c", &restore])
                .stderr(std::fs::File::create(dir.join("log")).unwrap()),
            // Immediate shutdown: the data is thrown away anyway.
            "QUIT",
        );
        await_ready(&format!("tcp://127.0.0.1:{port}"));
        Postgres {
            port,
            dir,
            _server: server,
        }
    }

    /// What the server has logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap()
    }

    /// How many connections the server has refused as starting up.
    pub fn refusals(&self) -> usize {
        self.log()
            .matches("FATAL:  the database system is starting up")
            .count()
    }

    /// Let the held startup go on: recovery ends and the server accepts connections.
    pub fn release(&self) {
        std::fs::remove_file(self.dir.join("hold")).unwrap();
    }
}

/// A Redis server on a free port, with `args` added to its command line.
pub struct Redis {
    pub port: u16,
    _server: Running,
    dir: Dir,
}

impl Redis {
    pub fn start(args: &[&str]) -> Redis {
        Redis::start_in(Dir::new(), args)
    }

    fn start_in(dir: Dir, args: &[&str]) -> Redis {
        let port = free_port();
        let server = Running::start(
            Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
                .arg(dir.path())
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(args)
                .stdout(std::fs::File::create(dir.join("log")).unwrap()),
            "KILL",
        );
        await_ready(&format!("tcp://127.0.0.1:{port}"));
        Redis {
            port,
            dir,
            _server: server,
        }
    }

    /// A Redis server still loading its dataset for three seconds or more: it
    /// answers every command with LOADING until then.
    pub fn start_loading() -> Redis {
        let first = Redis::start(&["--enable-debug-command", "local"]);
        first.cli(&["DEBUG", "POPULATE", "3000"]);
        first.cli(&["SAVE"]);
        let dir = Redis::stop(first);
        Redis::start_in(
            dir,
            &[
                // A millisecond per key, and answering clients every KiB read.
                "--key-load-delay",
                "1000",
                "--loading-process-events-interval-bytes",
                "1024",
            ],
        )
    }

    pub fn cli(&self, args: &[&str]) {
        let status = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "redis-cli {args:?} failed");
    }

    /// Stop the server, keeping its folder (and the dataset saved in it).
    fn stop(self) -> Dir {
        let Redis { dir, _server, .. } = self;
        drop(_server);
        dir
    }
}

/// Python's HTTP server, serving a folder with a `health` file.
pub struct HttpServer {
    pub port: u16,
    _server: Running,
    _dir: Dir,
}

impl HttpServer {
    /// Start on `port` without waiting for it to listen.
    pub fn start_on(port: u16) -> HttpServer {
        let dir = Dir::new();
        dir.write("health", "ok\n");
        let server = Running::start(
            Command::new("python3")
                .args([
                    "-m",
                    "http.server",
                    "--bind",
                    "127.0.0.1",
                    &port.to_string(),
                ])
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "KILL",
        );
        HttpServer {
            port,
            _dir: dir,
            _server: server,
        }
    }

    pub fn start() -> HttpServer {
        let server = HttpServer::start_on(free_port());
        await_ready(&format!("tcp://127.0.0.1:{}", server.port));
        server
    }
}

/// A loopback port that accepts no connection and refuses none: its listen
/// queue is full, so a connect hangs, as to an address that drops packets.
pub fn black_hole() -> Running {
    let script = "
import socket, time
server = socket.socket()
server.bind(('127.0.0.1', 0))
server.listen(0)
queued = []
for _ in range(3):
    client = socket.socket()
    client.settimeout(0.2)
    try:
        client.connect(server.getsockname())
    except OSError:
        pass
    queued.append(client)
print(server.getsockname()[1], flush=True)
time.sleep(60)
";
    Running::start(
        Command::new("python3")
            .args(["-c", script])
            .stdout(Stdio::piped()),
        "KILL",
    )
}
