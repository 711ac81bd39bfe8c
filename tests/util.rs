//! The small harness every test module uses: run a real binary, check what it did.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use shared::contract::labels;

/// The path of one of the workspace's binaries, built by cargo for this test run.
pub fn bin(tool: &str) -> &'static str {
    match tool {
        "junit-merge" => env!("CARGO_BIN_EXE_junit-merge"),
        "shard-plan" => env!("CARGO_BIN_EXE_shard-plan"),
        "stack-run" => env!("CARGO_BIN_EXE_stack-run"),
        "cov-merge" => env!("CARGO_BIN_EXE_cov-merge"),
        "wait-for" => env!("CARGO_BIN_EXE_wait-for"),
        "stack-report" => env!("CARGO_BIN_EXE_stack-report"),
        other => panic!("no binary named {other}"),
    }
}

/// A file under `tests/fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// The repository's root folder.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch folder, removed when the test ends.
pub struct Dir(tempfile::TempDir);

impl Dir {
    pub fn new() -> Dir {
        Dir(tempfile::Builder::new()
            .prefix("shardstack-test-")
            .tempdir()
            .unwrap())
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Write `contents` to `name`, creating parent folders.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.join(name)).unwrap()
    }
}

/// A command about to run, with the input it will get on stdin.
pub struct TestCommand {
    cmd: Command,
    stdin: Vec<u8>,
}

/// Start building a run of one of the workspace's binaries.
pub fn tool(name: &str) -> TestCommand {
    TestCommand {
        cmd: Command::new(bin(name)),
        stdin: Vec::new(),
    }
}

/// Start building a run of any program (a tool under another name, say).
pub fn command(program: impl AsRef<OsStr>) -> TestCommand {
    TestCommand {
        cmd: Command::new(program),
        stdin: Vec::new(),
    }
}

impl TestCommand {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Run without this variable, whatever the test's own environment has.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(mut self, input: impl AsRef<[u8]>) -> Self {
        self.stdin = input.as_ref().to_vec();
        self
    }

    /// Run to completion and capture everything.
    pub fn run(mut self) -> Outcome {
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.cmd));
        let mut stdin = child.stdin.take().unwrap();
        let input = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            // The tool may stop reading early; that is its business.
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        let outcome = Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        self.check_written_xml(&outcome);
        outcome
    }

    /// Every XML document (reports, SVG) a tool wrote, on stdout or to
    /// `-o FILE`, must parse: checked after every run, whatever the test.
    fn check_written_xml(&self, outcome: &Outcome) {
        if outcome.code != 0 {
            return;
        }
        if outcome.stdout.trim_start().starts_with('<') {
            assert_well_formed("stdout", &outcome.stdout);
        }
        let args: Vec<&OsStr> = self.cmd.get_args().collect();
        for pair in args.windows(2) {
            if pair[0] == "-o" || pair[0] == "--output" {
                let path = Path::new(pair[1]);
                let path = match self.cmd.get_current_dir() {
                    Some(dir) => dir.join(path),
                    None => path.to_path_buf(),
                };
                if let Ok(text) = std::fs::read_to_string(&path) {
                    if text.trim_start().starts_with('<') {
                        assert_well_formed(&path.display().to_string(), &text);
                    }
                }
            }
        }
    }

    /// Run, expect exit status 0, and return what happened.
    pub fn succeeds(self) -> Outcome {
        self.run().code(0)
    }
}

/// Panic unless `text` is a well-formed XML document: one root, tags that
/// match, names that are XML names, no duplicate attributes, references
/// that resolve, and only characters XML can carry. Checked with quick-xml,
/// not with the reader the tools use, so the tools cannot vouch for
/// themselves.
pub fn assert_well_formed(what: &str, text: &str) {
    use quick_xml::events::Event;
    let fail = |why: String| -> ! { panic!("{what} is not well-formed XML: {why}\n{text}") };
    let is_char = |c: char| matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    let is_name = |name: &[u8]| {
        let name = std::str::from_utf8(name).unwrap_or("");
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_alphanumeric() || "-._:\u{B7}".contains(c))
    };
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let (mut depth, mut roots) = (0usize, 0);
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| fail(format!("at byte {}: {e}", reader.error_position())));
        let opens = matches!(event, Event::Start(_));
        match event {
            Event::Start(tag) | Event::Empty(tag) => {
                roots += usize::from(depth == 0);
                if !is_name(tag.name().as_ref()) {
                    fail(format!("bad element name {:?}", tag.name()));
                }
                for attribute in tag.attributes() {
                    let attribute = attribute.unwrap_or_else(|e| fail(e.to_string()));
                    if !is_name(attribute.key.as_ref()) {
                        fail(format!("bad attribute name {:?}", attribute.key));
                    }
                    let value = attribute
                        .unescape_value()
                        .unwrap_or_else(|e| fail(e.to_string()));
                    if let Some(c) = value.chars().find(|&c| !is_char(c)) {
                        fail(format!("{c:?} in an attribute value"));
                    }
                }
                depth += usize::from(opens);
            }
            Event::End(_) => depth -= 1,
            Event::Text(content) => {
                let content = content.unescape().unwrap_or_else(|e| fail(e.to_string()));
                if depth == 0 && !content.trim().is_empty() {
                    fail(format!("text outside the root: {content:?}"));
                }
                if let Some(c) = content.chars().find(|&c| !is_char(c)) {
                    fail(format!("{c:?} in text"));
                }
            }
            Event::CData(content) => {
                let content = String::from_utf8_lossy(&content).into_owned();
                if let Some(c) = content.chars().find(|&c| !is_char(c)) {
                    fail(format!("{c:?} in CDATA"));
                }
            }
            Event::DocType(_) => fail("a DTD".into()),
            Event::Eof => break,
            _ => {}
        }
    }
    if roots != 1 || depth != 0 {
        fail(format!("{roots} root elements, {depth} left open"));
    }
}

/// What a finished command did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Expect this exit status; on a mismatch, show everything the tool printed.
    pub fn code(self, expected: i32) -> Self {
        assert_eq!(
            self.code, expected,
            "exit status {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Expect an error whose message contains `needle`, and nothing on stdout.
    pub fn fails_with(self, code: i32, needle: &str) -> Self {
        let outcome = self.code(code);
        assert!(
            outcome.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            outcome.stderr
        );
        assert_eq!(outcome.stdout, "", "data on stdout despite the error");
        outcome
    }
}

/// Tests that start Docker stacks hold this lock, so that on a small machine
/// they run one at a time (each starts several containers) and time out less.
/// Without a Docker engine they stop at once and say so, rather than fail
/// somewhere inside a tool.
pub fn docker_lock() -> std::sync::MutexGuard<'static, ()> {
    static ENGINE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let output = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
            .map_err(|e| format!("cannot run docker: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
        }
    });
    if let Err(why) = engine {
        panic!(
            "this test needs a Docker engine, and there is none here ({why}); \
             `make check` runs every test that needs neither Docker nor root"
        );
    }
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The Docker objects of one test's prefix (containers, networks, volumes
/// and images, as `stack-run --clean --prefix` finds them), swept when the
/// guard drops: at the test's end, pass or fail, for a failed assertion
/// unwinds through it. A failing test leaves nothing for the next to trip on.
pub struct Swept(pub String);

impl Swept {
    /// The containers, networks and volumes left with this prefix's label.
    pub fn leftovers(&self) -> Vec<String> {
        leftovers(&self.0)
    }
}

/// The containers, networks and volumes labelled with PREFIX.
pub fn leftovers(prefix: &str) -> Vec<String> {
    let filter = labels::filter(labels::PREFIX, prefix);
    let mut left = Vec::new();
    for listing in [
        &["ps", "-aq"][..],
        &["network", "ls", "-q"],
        &["volume", "ls", "-q"],
    ] {
        let output = Command::new("docker")
            .args(listing)
            .args(["--filter", &filter])
            .output()
            .unwrap();
        assert!(output.status.success(), "docker {listing:?} failed");
        let ids = String::from_utf8_lossy(&output.stdout);
        left.extend(ids.split_whitespace().map(str::to_string));
    }
    left
}

impl Drop for Swept {
    fn drop(&mut self) {
        let _ = Command::new(bin("stack-run"))
            .args(["--clean", "--prefix", &self.0])
            .output();
    }
}

/// The variables of `images/local.env` (POSTGRES_IMAGE, …): compose files
/// pick the images `make images` built with them.
pub fn local_images() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("images/local.env")).unwrap();
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

/// Stop a test that needs the images of `make images` when one is missing.
pub fn require_local_images() {
    for (_, image) in local_images() {
        let found = Command::new("docker")
            .args(["image", "inspect", &image])
            .output()
            .unwrap();
        assert!(
            found.status.success(),
            "no image {image}: run `make images` first"
        );
    }
}

/// Tests that raise the example's own stack (`examples/shop`) hold this: its
/// fixed `container_name` and published port allow one copy per machine, and
/// other test processes (other checkouts, CI) may want it too. The lock is an
/// abstract Unix socket, which the kernel frees when the process dies.
pub fn example_stack_lock() -> std::os::unix::net::UnixListener {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let name = SocketAddr::from_abstract_name(b"shardstack-example-stack").unwrap();
    loop {
        match UnixListener::bind_addr(&name) {
            Ok(held) => return held,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                std::thread::sleep(std::time::Duration::from_millis(500))
            }
            Err(e) => panic!("cannot take the example stack lock: {e}"),
        }
    }
}
