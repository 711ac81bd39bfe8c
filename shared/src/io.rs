//! Opening inputs and writing outputs, with the path named in every error.
//!
//! `-` means stdin. Output goes to one buffered, locked stdout, or with
//! `-o FILE` to a temporary file beside FILE that is renamed over it only when
//! the tool finished: a failed run leaves FILE as it was.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A readable input and the name to use for it in messages.
pub struct Input {
    pub name: String,
    pub reader: Box<dyn BufRead>,
}

/// Open `path` for reading; `-` is stdin.
pub fn open(path: &Path) -> anyhow::Result<Input> {
    if path == Path::new("-") {
        return Ok(Input {
            name: "<stdin>".into(),
            reader: Box::new(BufReader::new(io::stdin())),
        });
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Input {
        name: path.display().to_string(),
        reader: Box::new(BufReader::with_capacity(1 << 16, file)),
    })
}

/// Read a whole input into a string, naming it in the error.
pub fn read_to_string(path: &Path) -> anyhow::Result<String> {
    let mut input = open(path)?;
    let mut text = String::new();
    input
        .reader
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", input.name))?;
    Ok(text)
}

/// Where a tool's data goes: stdout, or a file replaced atomically.
pub struct Output {
    writer: BufWriter<Box<dyn Write>>,
    target: Option<Atomic>,
}

/// A temporary file that becomes `path` on commit and disappears otherwise.
struct Atomic {
    temp: PathBuf,
    path: PathBuf,
}

impl Output {
    /// Stdout when `path` is `None` or `-`, else an atomic file at `path`.
    pub fn create(path: Option<&Path>) -> anyhow::Result<Output> {
        let Some(path) = path.filter(|p| *p != Path::new("-")) else {
            let stdout: Box<dyn Write> = Box::new(io::stdout().lock());
            return Ok(Output {
                writer: BufWriter::with_capacity(1 << 16, stdout),
                target: None,
            });
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .with_context(|| format!("{} is not a file name", path.display()))?;
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file =
            File::create(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
        Ok(Output {
            writer: BufWriter::with_capacity(1 << 16, Box::new(file)),
            target: Some(Atomic {
                temp,
                path: path.to_path_buf(),
            }),
        })
    }

    /// Flush everything and, for a file, move it into place.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let name = self.name();
        self.writer
            .flush()
            .with_context(|| format!("cannot write {name}"))?;
        if let Some(target) = self.target.take() {
            fs::rename(&target.temp, &target.path)
                .with_context(|| format!("cannot write {}", target.path.display()))?;
        }
        Ok(())
    }

    fn name(&self) -> String {
        self.target
            .as_ref()
            .map_or("<stdout>".into(), |t| t.path.display().to_string())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl Drop for Atomic {
    fn drop(&mut self) {
        // Only reached when the output was not committed: leave no half file.
        let _ = fs::remove_file(&self.temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shared-io-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn uncommitted_output_leaves_the_old_file() {
        let dir = scratch("uncommitted");
        let path = dir.join("unit.xml");
        fs::write(&path, "old").unwrap();
        let mut out = Output::create(Some(&path)).unwrap();
        out.write_all(b"half").unwrap();
        drop(out);
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "temporary file left behind"
        );
    }

    #[test]
    fn committed_output_replaces_the_file() {
        let dir = scratch("committed");
        let path = dir.join("unit.xml");
        fs::write(&path, "old").unwrap();
        let mut out = Output::create(Some(&path)).unwrap();
        out.write_all(b"new").unwrap();
        out.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    }

    #[test]
    fn missing_input_names_the_path() {
        let err = open(Path::new("/nonexistent/junit.xml")).err().unwrap();
        assert!(format!("{err:#}").starts_with("cannot open /nonexistent/junit.xml: "));
    }
}
