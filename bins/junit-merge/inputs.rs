//! Which files to merge: the paths given, the `*.xml` files under the
//! folders given, and stdin saved to a file so it can be read twice.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
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
            File::open(arg).with_context(|| format!("cannot open {}", arg.display()))?;
            add(Input::file(arg.clone(), false));
        }
    }
    Ok(inputs)
}

/// Save stdin to a temporary file: the merge reads every input twice.
fn spool_stdin() -> anyhow::Result<Input> {
    let mut spool = NamedTempFile::new().context("cannot create a temporary file for stdin")?;
    io::copy(&mut io::stdin().lock(), &mut spool).context("cannot save stdin")?;
    Ok(Input {
        path: spool.path().to_path_buf(),
        name: "<stdin>".into(),
        walked: false,
        digest: 0,
        totals: Counts::default(),
        _spool: Some(spool),
    })
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
