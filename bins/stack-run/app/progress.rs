//! What people watch on stderr while shards run.
//!
//! On a terminal: one live line per shard (state, elapsed time, and the test
//! runner's progress when it prints one, like pytest's `[ 42%]`), redrawn in
//! place. Elsewhere (a CI log, `CI` set, a file): one timestamped line per
//! change of state, which reads well after the fact.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::model::report::Report;

/// A shard's line.
struct Line {
    shard: u32,
    state: String,
    /// When the shard started, and when it ended.
    started: Option<Instant>,
    ended: Option<Instant>,
    detail: String,
}

struct Board {
    lines: Vec<Line>,
    /// How many lines the last redraw printed, to move back over them.
    drawn: usize,
    /// After `finish`, nothing is redrawn any more.
    finished: bool,
}

/// Where a message printed above the live lines goes.
#[derive(Clone, Copy)]
enum Target {
    Stdout,
    Stderr,
}

pub struct Progress {
    live: bool,
    /// What a line is: `shard`, or `stack` when stacks run batches.
    unit: &'static str,
    /// Set by a second signal: what follows would report the kill, not the run.
    silent: AtomicBool,
    shards: u32,
    board: Mutex<Board>,
}

impl Progress {
    /// A line for each of `selected` of `shards` `unit`s (shards, or stacks);
    /// live lines when `may_draw`, stderr is a terminal and no CI is set.
    pub fn new(unit: &'static str, shards: u32, selected: &[u32], may_draw: bool) -> Arc<Progress> {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let live = may_draw && std::io::stderr().is_terminal() && !ci && !dumb;
        let lines = selected
            .iter()
            .map(|&shard| Line {
                shard,
                state: "waiting".into(),
                started: None,
                ended: None,
                detail: String::new(),
            })
            .collect();
        let progress = Arc::new(Progress {
            live,
            unit,
            silent: AtomicBool::new(false),
            shards,
            board: Mutex::new(Board {
                lines,
                drawn: 0,
                finished: false,
            }),
        });
        if live {
            let ticker = Arc::downgrade(&progress);
            thread::spawn(move || {
                while let Some(progress) = ticker.upgrade() {
                    progress.redraw(None);
                    drop(progress);
                    thread::sleep(Duration::from_millis(500));
                }
            });
        }
        progress
    }

    /// A shard moved to a new state; `done` when it is its last.
    pub fn state(&self, shard: u32, state: &str, detail: &str, done: bool) {
        if self.silenced() {
            return;
        }
        {
            let mut board = self.lock();
            if let Some(line) = board.lines.iter_mut().find(|l| l.shard == shard) {
                let now = Instant::now();
                line.started.get_or_insert(now);
                if done {
                    line.ended = Some(now);
                }
                line.state = state.to_string();
                line.detail = detail.to_string();
            }
        }
        if self.live {
            self.redraw(None);
        } else {
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            };
            let unit = self.unit;
            self.note(&format!("{unit} {shard}/{}: {state}{detail}", self.shards));
        }
    }

    /// A line of the test runner's output: keep its progress marker, if any.
    pub fn output(&self, shard: u32, line: &str) {
        let Some(percent) = runner_progress(line) else {
            return;
        };
        let mut board = self.lock();
        if let Some(line) = board.lines.iter_mut().find(|l| l.shard == shard) {
            line.detail = percent.to_string();
        }
    }

    /// A message of its own, above the live lines or timestamped.
    pub fn note(&self, text: &str) {
        if self.silenced() {
            return;
        }
        if self.live {
            self.redraw(Some((&format!("stack-run: {text}"), Target::Stderr)));
        } else {
            eprintln!("{} stack-run: {text}", clock());
        }
    }

    /// A warning, above the live lines or as a line of its own:
    /// `stack-run: warning: TEXT`.
    pub fn warn(&self, text: &str) {
        if self.silenced() {
            return;
        }
        let line = format!("stack-run: warning: {text}");
        match self.live {
            true => self.redraw(Some((&line, Target::Stderr))),
            false => eprintln!("{line}"),
        }
    }

    /// A line of data for stdout; above the live lines when they share a terminal.
    pub fn print(&self, line: &str) -> std::io::Result<()> {
        if self.silenced() {
            return Ok(());
        }
        if self.live && std::io::stdout().is_terminal() {
            self.redraw(Some((line, Target::Stdout)));
            return Ok(());
        }
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")?;
        stdout.flush()
    }

    /// Print nothing more, neither progress nor result lines.
    pub fn silence(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }

    fn silenced(&self) -> bool {
        self.silent.load(Ordering::SeqCst)
    }

    /// Draw the lines one last time and leave them in place.
    pub fn finish(&self) {
        self.redraw(None);
        self.lock().finished = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn redraw(&self, message: Option<(&str, Target)>) {
        let mut board = self.lock();
        if !self.live || board.finished {
            if let Some((text, target)) = message {
                write_to(target, &format!("{text}\n"));
            }
            return;
        }
        // Back over the old lines, clear them, and write what goes above.
        let mut text = String::new();
        if board.drawn > 0 {
            text.push_str(&format!("\x1b[{}F\x1b[J", board.drawn));
        }
        if let Some((message, target)) = message {
            write_to(Target::Stderr, &text);
            text.clear();
            write_to(target, &format!("{message}\n"));
        }
        let now = Instant::now();
        for line in &board.lines {
            let elapsed = match line.started {
                Some(started) => {
                    let secs = line.ended.unwrap_or(now).duration_since(started).as_secs();
                    format!("{}:{:02}", secs / 60, secs % 60)
                }
                None => String::new(),
            };
            text.push_str(&format!(
                "  {} {:>2}/{}  {:<12} {:>5}  {}\n",
                self.unit, line.shard, self.shards, line.state, elapsed, line.detail
            ));
        }
        board.drawn = board.lines.len();
        write_to(Target::Stderr, &text);
    }
}

fn write_to(target: Target, text: &str) {
    let _ = match target {
        Target::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
        Target::Stderr => {
            let mut err = std::io::stderr().lock();
            err.write_all(text.as_bytes()).and_then(|()| err.flush())
        }
    };
}

/// pytest's progress marker at the end of a line: `tests/a.py ....  [ 42%]`.
fn runner_progress(line: &str) -> Option<&str> {
    let line = line.trim_end();
    let start = line.rfind('[')?;
    let marker = &line[start..];
    let inside = marker.strip_prefix('[')?.strip_suffix("%]")?;
    inside.trim().parse::<u32>().ok()?;
    Some(marker)
}

/// The time of day in UTC, `HH:MM:SS`.
fn clock() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

impl Report for Progress {
    fn state(&self, line: u32, state: &str, detail: &str, done: bool) {
        Progress::state(self, line, state, detail, done);
    }

    fn output(&self, line: u32, text: &str) {
        Progress::output(self, line, text);
    }

    fn note(&self, text: &str) {
        Progress::note(self, text);
    }

    fn warn(&self, text: &str) {
        Progress::warn(self, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_pytest_progress_markers() {
        assert_eq!(
            runner_progress("tests/test_a.py ....F.    [ 42%]"),
            Some("[ 42%]")
        );
        assert_eq!(runner_progress("........ [100%]\r"), Some("[100%]"));
        assert_eq!(runner_progress("test_x[param] PASSED"), None);
        assert_eq!(runner_progress("Creating network"), None);
    }
}
