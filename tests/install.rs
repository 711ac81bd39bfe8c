//! The install ways without a Rust toolchain: the wheel (`make wheel`) through
//! pip into a fresh virtualenv, `uv tool install` and `pipx install`, and the
//! static tarball (`make static`). Each puts the six tools on a PATH with the
//! version Cargo.toml gives, static binaries, the man pages and wait-for-it.sh,
//! and the installed tools give on the fixtures what the workspace's give.
//!
//! `make test` builds the wheel and the tarball first (and skips that when they
//! are up to date); run alone, these tests take `dist/`'s and fail when it has
//! none for this version, or one older than the sources.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::util::{Dir, command, fixture, root, tool};

const TOOLS: &[&str] = &[
    "junit-merge",
    "shard-plan",
    "stack-run",
    "cov-merge",
    "wait-for",
    "stack-report",
];

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The newest modification time of the files the binaries are built from.
fn newest_source() -> SystemTime {
    let mut paths = vec![
        root().join("Cargo.toml"),
        root().join("Cargo.lock"),
        root().join("man"),
    ];
    paths.extend(["bins", "shared"].map(|dir| root().join(dir)));
    paths
        .iter()
        .flat_map(walkdir::WalkDir::new)
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.metadata().unwrap().modified().unwrap())
        .max()
        .unwrap()
}

/// The one file in `dist/` named `shardstack-VERSION<rest>` ending in `suffix`,
/// built after the last change to the sources.
fn artifact(rest: &str, suffix: &str, make: &str) -> PathBuf {
    let prefix = format!("shardstack-{VERSION}{rest}");
    let found: Vec<PathBuf> = std::fs::read_dir(root().join("dist"))
        .into_iter()
        .flatten()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(suffix)
        })
        .collect();
    let [path] = &found[..] else {
        panic!("want one dist/{prefix}*{suffix}, found {found:?}: run `{make}`");
    };
    let built = path.metadata().unwrap().modified().unwrap();
    assert!(
        built >= newest_source(),
        "{} is older than the sources: run `{make}`",
        path.display()
    );
    path.clone()
}

fn wheel() -> PathBuf {
    artifact("-", ".whl", "make wheel")
}

fn tarball() -> PathBuf {
    artifact("-", "-linux.tar.gz", "make static")
}

/// Whether an ELF file asks for a program interpreter (the dynamic loader):
/// a static binary has no PT_INTERP program header.
fn has_interpreter(path: &Path) -> bool {
    let elf = std::fs::read(path).unwrap();
    assert_eq!(
        &elf[..5],
        b"\x7fELF\x02",
        "{}: not a 64-bit ELF",
        path.display()
    );
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == 3 // PT_INTERP
    })
}

/// Every tool in `bin` answers `--version` with Cargo's version and is
/// static, wait-for-it.sh is wait-for under wait-for-it's command line, and
/// the man pages in `man1` are those in `man/`.
fn check_installed(bin: &Path, man1: &Path) {
    for name in TOOLS {
        let path = bin.join(name);
        let version = command(&path).arg("--version").succeeds().stdout;
        assert_eq!(
            version.trim(),
            format!("{name} {VERSION}"),
            "{}",
            path.display()
        );
        assert!(!has_interpreter(&path), "{} is not static", path.display());
    }
    // Every page in man/, so that a new tool's page is not left out of the wheel.
    for entry in std::fs::read_dir(root().join("man")).unwrap() {
        let source = entry.unwrap().path();
        let page = man1.join(source.file_name().unwrap());
        let installed =
            std::fs::read(&page).unwrap_or_else(|e| panic!("no man page {}: {e}", page.display()));
        assert!(
            installed == std::fs::read(&source).unwrap(),
            "{} differs from {}",
            page.display(),
            source.display()
        );
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let outcome = command(bin.join("wait-for-it.sh"))
        .args([&target, "-t", "5", "--", "echo", "ran"])
        .succeeds();
    assert_eq!(outcome.stdout, "ran\n");
    assert!(
        outcome
            .stderr
            .contains(&format!("wait-for-it.sh: {target} is available after")),
        "not wait-for-it's messages: {}",
        outcome.stderr
    );
}

/// A small pipeline on the fixtures (plan, merge the shards' JUnit and
/// coverage, summarize) gives from `bin` what the workspace's binaries give.
fn check_pipeline(bin: &Path) {
    let collected = std::fs::read(fixture("shard-plan/collect.txt")).unwrap();
    let coverage = ["cart", "pricing", "stock"]
        .map(|part| fixture(&format!("cov-merge/coverage-7.10.7/{part}.json")));
    let runs: Vec<(&str, Vec<PathBuf>, &[u8])> = vec![
        (
            "shard-plan",
            vec![
                "--shards".into(),
                "3".into(),
                "--durations".into(),
                fixture("shard-plan/durations.json"),
            ],
            &collected,
        ),
        (
            "junit-merge",
            vec![
                fixture("junit-merge/pytest/xunit2-shard-1.xml"),
                fixture("junit-merge/pytest/xunit2-shard-2.xml"),
            ],
            b"",
        ),
        (
            "cov-merge",
            ["--format".into(), "cobertura".into()]
                .into_iter()
                .chain(coverage)
                .collect(),
            b"",
        ),
        (
            "stack-report",
            vec![
                "--results".into(),
                fixture("stack-report/results.jsonl"),
                "--junit".into(),
                fixture("stack-report/unit.xml"),
            ],
            b"",
        ),
    ];
    for (name, args, stdin) in runs {
        let expected = tool(name).args(&args).stdin(stdin).succeeds().stdout;
        assert!(!expected.is_empty(), "{name} printed nothing");
        let installed = command(bin.join(name))
            .args(&args)
            .stdin(stdin)
            .succeeds()
            .stdout;
        assert!(installed == expected, "the installed {name} differs");
    }
}

#[test]
fn pip_installs_the_wheel_into_a_virtualenv() {
    let wheel = wheel();
    let dir = Dir::new();
    let venv = dir.join("venv");
    command("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .succeeds();
    command(venv.join("bin/pip"))
        .args([
            "install",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
        ])
        .arg(&wheel)
        .succeeds();
    check_installed(&venv.join("bin"), &venv.join("share/man/man1"));
    check_pipeline(&venv.join("bin"));
    // The session plugin, in the environment's site-packages (it imports
    // pytest, which this environment has not: read it, do not import it).
    let purelib = command(venv.join("bin/python"))
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .succeeds()
        .stdout;
    let installed = Path::new(purelib.trim()).join("shardstack_session.py");
    let carried = root().join("packaging/pytest/shardstack_session.py");
    assert!(
        std::fs::read(&installed).ok() == std::fs::read(&carried).ok(),
        "{} differs from {}",
        installed.display(),
        carried.display()
    );
}

/// Where uv and pipx keep their tools, links and caches: inside the scratch folder.
fn tool_homes(dir: &Dir) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("UV_TOOL_DIR", dir.join("uv/tools")),
        ("UV_TOOL_BIN_DIR", dir.join("bin")),
        ("UV_CACHE_DIR", dir.join("uv/cache")),
        ("UV_PYTHON_INSTALL_DIR", dir.join("uv/python")),
        ("UV_PYTHON_DOWNLOADS", "never".into()),
        ("UV_NO_CONFIG", "1".into()),
        ("PIPX_HOME", dir.join("pipx")),
        ("PIPX_BIN_DIR", dir.join("bin")),
        ("PIPX_MAN_DIR", dir.join("man")),
        ("PIP_NO_INDEX", "1".into()),
        ("PIP_DISABLE_PIP_VERSION_CHECK", "1".into()),
        ("XDG_CACHE_HOME", dir.join("cache")),
    ]
}

#[test]
fn uv_tool_install_puts_the_tools_on_path() {
    let wheel = wheel();
    let dir = Dir::new();
    tool_homes(&dir)
        .into_iter()
        .fold(command("uv"), |cmd, (key, value)| cmd.env(key, value))
        .args(["tool", "install", "--offline", "--python", "python3"])
        .arg(&wheel)
        .succeeds();
    // uv links the executables; the man pages stay in the tool's environment.
    check_installed(
        &dir.join("bin"),
        &dir.join("uv/tools/shardstack/share/man/man1"),
    );
    check_pipeline(&dir.join("bin"));
}

#[test]
fn pipx_install_puts_the_tools_and_man_pages_on_path() {
    let wheel = wheel();
    let dir = Dir::new();
    tool_homes(&dir)
        .into_iter()
        .fold(command("pipx"), |cmd, (key, value)| cmd.env(key, value))
        .arg("install")
        .arg(&wheel)
        .succeeds();
    check_installed(&dir.join("bin"), &dir.join("man/man1"));
    check_pipeline(&dir.join("bin"));
}

#[test]
fn the_static_tarball_is_a_prefix_of_static_binaries() {
    let tarball = tarball();
    let dir = Dir::new();
    let prefix = dir.join("prefix");
    std::fs::create_dir(&prefix).unwrap();
    // As `curl -L … | tar xz -C ~/.local --strip-components=1` installs it.
    command("tar")
        .args(["xz", "--strip-components=1", "-C"])
        .arg(&prefix)
        .stdin(std::fs::read(&tarball).unwrap())
        .succeeds();
    assert_eq!(
        std::fs::read_link(prefix.join("bin/wait-for-it.sh")).unwrap(),
        Path::new("wait-for")
    );
    for doc in ["README.md", "LICENSE"] {
        assert!(
            prefix.join("share/doc/shardstack").join(doc).is_file(),
            "no {doc}"
        );
    }
    check_installed(&prefix.join("bin"), &prefix.join("share/man/man1"));
    check_pipeline(&prefix.join("bin"));
}
