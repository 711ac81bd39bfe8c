//! Which files to merge: the paths given, the `*.xml` files under the
//! folders given, and stdin saved to a file so it can be read twice.
//!
//! The merge reads every input more than once, which only a regular file
//! allows: what comes through a pipe (stdin, `<(…)`, a FIFO) is saved to a
//! temporary file first, up to [`SPOOL_LIMIT`]; a device (`/dev/zero`, a
//! terminal) is no report and is refused before a byte is read.

use std::collections::HashSet;
use std::fs::{File, FileType};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use shared::junit::model::Counts;
use tempfile::NamedTempFile;
use walkdir::WalkDir;

/// One report to merge.
pub struct Input {
    pub path: PathBuf,
    /// How messages name it.
    pub name: String,
    /// Found in a folder rather than named.
    pub walked: bool,
    /// A digest of the content, the order of the inputs in the output.
    pub digest: u64,
    /// Its counts as the first pass found them.
    pub totals: Counts,
    /// The copy of stdin, deleted when the input is dropped.
    _spool: Option<NamedTempFile>,
}

impl Input {
    fn file(path: PathBuf, walked: bool) -> Input {
        Input {
            name: path.display().to_string(),
            path,
            walked,
            digest: 0,
            totals: Counts::default(),
            _spool: None,
        }
    }
}

/// The inputs the arguments name, each file once. `output`, the file being
/// written, is never an input: a rerun must not merge its own last result.
pub fn gather(args: &[PathBuf], output: Option<&Path>) -> anyhow::Result<Vec<Input>> {
    let output = output.and_then(|path| path.canonicalize().ok());
    let mut seen = HashSet::new();
    let mut inputs = Vec::new();
    let mut add = |input: Input| {
        let key = input
            .path
            .canonicalize()
            .unwrap_or_else(|_| input.path.clone());
        if Some(&key) != output.as_ref() && seen.insert(key) {
            inputs.push(input);
        }
    };
    for arg in args {
        if arg == Path::new("-") {
            add(spool_stdin()?);
        } else if arg.is_dir() {
            let mut found = 0;
            for entry in WalkDir::new(arg).sort_by_file_name() {
                let entry = entry.with_context(|| format!("cannot read {}", arg.display()))?;
                let is_xml = entry
                    .path()
                    .extension()
                    .is_some_and(|ext| ext.eq_ignore_ascii_case("xml"));
                if entry.file_type().is_file() && is_xml {
                    found += 1;
                    add(Input::file(entry.into_path(), true));
                }
            }
            if found == 0 {
                eprintln!("junit-merge: no *.xml files under {}", arg.display());
            }
        } else {
            let file = File::open(arg).with_context(|| format!("cannot open {}", arg.display()))?;
            let name = arg.display().to_string();
            let kind = file
                .metadata()
                .with_context(|| format!("cannot read {name}"))?
                .file_type();
            if kind.is_file() {
                add(Input::file(arg.clone(), false));
            } else {
                refuse_device(&name, kind)?;
                add(Input::spooled(name, file, SPOOL_LIMIT)?);
            }
        }
    }
    Ok(inputs)
}

/// The most a pipe may bring: more is surely not a report (`yes |`), and
/// would fill the temporary folder.
pub const SPOOL_LIMIT: u64 = 1 << 30;

/// Save stdin to a temporary file: the merge reads every input twice.
fn spool_stdin() -> anyhow::Result<Input> {
    let stdin = io::stdin();
    let kind = stdin
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .and_then(|file| file.metadata())
        .context("cannot read <stdin>")?
        .file_type();
    refuse_device("<stdin>", kind)?;
    Input::spooled("<stdin>".into(), stdin.lock(), SPOOL_LIMIT)
}

/// A terminal, `/dev/zero` or a disk holds no report, and some never end.
fn refuse_device(name: &str, kind: FileType) -> anyhow::Result<()> {
    if kind.is_char_device() || kind.is_block_device() {
        bail!("{name} is a device, not a JUnit report");
    }
    Ok(())
}

impl Input {
    /// Save what `reader` brings to a temporary file, named `name` in
    /// messages; more than `limit` bytes is an error.
    fn spooled(name: String, reader: impl Read, limit: u64) -> anyhow::Result<Input> {
        let mut spool = NamedTempFile::new()
            .with_context(|| format!("cannot create a temporary file for {name}"))?;
        let saved = io::copy(&mut reader.take(limit + 1), &mut spool)
            .with_context(|| format!("cannot save {name}"))?;
        if saved > limit {
            bail!("{name} brings more than {limit} bytes: save it to a file first");
        }
        Ok(Input {
            path: spool.path().to_path_buf(),
            name,
            walked: false,
            digest: 0,
            totals: Counts::default(),
            _spool: Some(spool),
        })
    }
}

/// A 64-bit FNV-1a digest of the file's bytes: stable across builds and
/// machines, so the output order is too.
pub fn digest(path: &Path) -> anyhow::Result<u64> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            return Ok(hash);
        }
        for &byte in &buf[..n] {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_is_saved_up_to_the_limit() {
        let report = b"<testsuite/>";
        let input = Input::spooled("<pipe>".into(), &report[..], 12).unwrap();
        assert_eq!(std::fs::read(&input.path).unwrap(), report);
        let Err(error) = Input::spooled("<pipe>".into(), io::repeat(b'<'), 12) else {
            panic!("an endless pipe was saved");
        };
        assert_eq!(
            error.to_string(),
            "<pipe> brings more than 12 bytes: save it to a file first"
        );
    }
}
