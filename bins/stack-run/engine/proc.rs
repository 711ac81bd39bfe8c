//! Child processes: docker and compose, started so that stack-run alone decides
//! when they stop.
//!
//! Each child gets its own process group, so the Ctrl-C a terminal sends to
//! stack-run's group does not reach compose half-way through: stack-run tears
//! down in order instead. Every live group is registered, so a second signal
//! can kill them all at once.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use rustix::process::{Pid, Signal, kill_process_group};

/// The process groups of the children still running.
#[derive(Default)]
pub struct Children {
    groups: Mutex<HashSet<u32>>,
}

impl Children {
    /// Kill every registered child with its process group.
    pub fn kill_all(&self) {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        for group in groups.iter() {
            kill_group(*group);
        }
    }

    fn spawn(&self, cmd: &mut Command) -> anyhow::Result<Child> {
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot run {}", describe(cmd)))?;
        self.register(&child);
        Ok(child)
    }

    fn register(&self, child: &Child) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(child.id());
    }

    fn forget(&self, pid: u32) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&pid);
    }

    /// Start a command that runs alongside (its stdio as `cmd` sets it,
    /// stdin none); [`Children::reap`] it once it ends.
    pub fn start(&self, mut cmd: Command) -> anyhow::Result<Child> {
        cmd.stdin(Stdio::null());
        self.spawn(&mut cmd)
    }

    /// Wait for a child [`Children::start`]ed, ended or killed.
    pub fn reap(&self, mut child: Child) {
        let _ = child.wait();
        self.forget(child.id());
    }

    /// Run a short command to completion and capture its output.
    pub fn capture(&self, cmd: Command) -> anyhow::Result<Output> {
        self.capture_with(cmd, Stdio::null(), Stdio::piped())
    }

    /// Run a command to completion reading `stdin` (an archive, say), its
    /// output captured.
    pub fn capture_fed(&self, cmd: Command, stdin: File) -> anyhow::Result<Output> {
        self.capture_with(cmd, Stdio::from(stdin), Stdio::piped())
    }

    /// Run a command to completion, its stdout written to `file` (an archive,
    /// say), its stderr captured.
    pub fn capture_into(&self, cmd: Command, file: File) -> anyhow::Result<Output> {
        self.capture_with(cmd, Stdio::null(), Stdio::from(file))
    }

    fn capture_with(
        &self,
        mut cmd: Command,
        stdin: Stdio,
        stdout: Stdio,
    ) -> anyhow::Result<Output> {
        cmd.stdin(stdin).stdout(stdout).stderr(Stdio::piped());
        let child = self.spawn(&mut cmd)?;
        let pid = child.id();
        let output = child.wait_with_output();
        self.forget(pid);
        output.with_context(|| format!("cannot run {}", describe(&cmd)))
    }

    /// Run a command, its stdout and stderr appended line by line to `log` and
    /// shown to `on_line`; poll `stop` and kill the command when it says so.
    pub fn run_logged(
        &self,
        mut cmd: Command,
        log: &Log,
        on_line: Arc<dyn Fn(&str) + Send + Sync>,
        stop: impl Fn() -> bool,
    ) -> anyhow::Result<Ended> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.spawn(&mut cmd)?;
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|stream| {
            let log = log.clone();
            let on_line = on_line.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).split(b'\n') {
                    let Ok(line) = line else { break };
                    let line = String::from_utf8_lossy(&line);
                    let line = line.trim_end_matches('\r');
                    log.line(line);
                    on_line(line);
                }
            })
        })
        .collect();
        let ended = loop {
            if let Some(status) = child.try_wait().context("cannot wait for a child")? {
                break Ended::Exited(status);
            }
            if stop() {
                kill_group(child.id());
                let _ = child.wait();
                break Ended::Stopped;
            }
            thread::sleep(Duration::from_millis(100));
        };
        self.forget(child.id());
        for reader in readers {
            let _ = reader.join();
        }
        Ok(ended)
    }
}

/// A command running alongside, in a thread of its own, logged as
/// [`Children::run_logged`] logs (a pytest session serving batch after batch).
pub struct Background {
    thread: Option<thread::JoinHandle<anyhow::Result<Ended>>>,
    kill: Arc<std::sync::atomic::AtomicBool>,
}

impl Background {
    /// Start `cmd`, its output appended to `log`.
    pub fn start(children: &Arc<Children>, cmd: Command, log: Log) -> Background {
        let kill = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (children, killed) = (Arc::clone(children), Arc::clone(&kill));
        let quiet = Arc::new(|_: &str| {});
        let thread = thread::spawn(move || {
            let stop = || killed.load(std::sync::atomic::Ordering::SeqCst);
            children.run_logged(cmd, &log, quiet, stop)
        });
        Background {
            thread: Some(thread),
            kill,
        }
    }

    /// Whether it has ended (or could not start).
    pub fn ended(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Wait for it to end; how it ended, `None` when it was killed, could
    /// not be run, or was waited for already.
    pub fn wait(&mut self) -> Option<ExitStatus> {
        match self.thread.take()?.join() {
            Ok(Ok(Ended::Exited(status))) => Some(status),
            _ => None,
        }
    }

    /// Kill it (its process group: the local `docker exec`, not what runs
    /// in the container) and wait for it.
    pub fn kill(&mut self) {
        self.kill.store(true, std::sync::atomic::Ordering::SeqCst);
        self.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a logged command ended.
#[derive(Debug)]
pub enum Ended {
    Exited(ExitStatus),
    /// Killed because `stop` said so.
    Stopped,
}

pub fn kill_group(group: u32) {
    if let Some(pid) = i32::try_from(group).ok().and_then(Pid::from_raw) {
        // The group may be gone already; that is what we wanted.
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

/// A command line as people would type it, for messages and logs: every
/// `-e NAME=VALUE` shown as `-e NAME=…`, since a value passed that way may
/// be a secret. Every command line stack-run prints goes through here.
pub fn describe(cmd: &Command) -> String {
    describe_showing(cmd, &[])
}

/// [`describe`], with the values of the variables named in `public` (those
/// stack-run sets itself, never one of the user's) in clear.
pub fn describe_showing(cmd: &Command, public: &[&str]) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    let mut names_a_variable = false;
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        let word = match arg.split_once('=') {
            Some((name, _)) if names_a_variable && !public.contains(&name) => format!("{name}=…"),
            _ => arg.into_owned(),
        };
        names_a_variable = matches!(word.as_str(), "-e" | "--env");
        words.push(word);
    }
    words.join(" ")
}

/// A shard's log file, shared by the threads that write to it.
#[derive(Clone)]
pub struct Log(Arc<Mutex<File>>);

impl Log {
    pub fn create(path: &std::path::Path) -> anyhow::Result<Log> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Log(Arc::new(Mutex::new(file))))
    }

    /// Append one line; a full disk must not stop a teardown, so errors are ignored.
    pub fn line(&self, line: &str) {
        let mut file = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(file, "{line}");
    }

    /// Note how long a step of a stack's life took: `stack-run: WHAT in S s`,
    /// the lines bench/startup/run adds up.
    pub fn took(&self, what: &str, seconds: f64) {
        self.line(&format!("stack-run: {what} in {seconds:.2} s"));
    }

    /// Run `step`; when it succeeds, note how long it took.
    pub fn timed<T, E>(&self, what: &str, step: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let started = Instant::now();
        let outcome = step();
        if outcome.is_ok() {
            self.took(what, started.elapsed().as_secs_f64());
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_hide_every_env_value_but_the_public_ones() {
        let mut cmd = Command::new("docker");
        cmd.args(["exec", "-e", "TOKEN=s3cret", "--env", "PASS=a=b", "-e"])
            .args(["SHARDSTACK_SHARD=2", "box", "tox", "-e", "py311", "X=1"]);
        assert_eq!(
            describe_showing(&cmd, &["SHARDSTACK_SHARD"]),
            "docker exec -e TOKEN=… --env PASS=… -e SHARDSTACK_SHARD=2 box tox -e py311 X=1"
        );
        assert!(describe(&cmd).contains("-e SHARDSTACK_SHARD=… box"));
    }
}
