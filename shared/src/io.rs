//! Opening inputs and writing outputs, with the path named in every error.
//!
//! `-` means stdin. Output goes to one buffered, locked stdout, or with
//! `-o FILE` to a temporary file beside FILE that is renamed over it only when
//! the tool finished: a failed run leaves FILE as it was (the temporary file
//! is removed when the [`Output`] is dropped uncommitted).

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tempfile::NamedTempFile;

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

/// Read a whole input into a string, naming it in the error, and the line
/// and column of any byte that is not UTF-8.
/// A line longer than [`MAX_LINE`] is an error too, so an input that never
/// ends (`/dev/zero`) stops being read.
pub fn read_to_string(path: &Path) -> anyhow::Result<String> {
    let mut input = open(path)?;
    let mut bytes = Vec::new();
    let mut line_start = 0;
    loop {
        let chunk = input
            .reader
            .fill_buf()
            .with_context(|| format!("cannot read {}", input.name))?;
        if chunk.is_empty() {
            break;
        }
        let taken = chunk.len();
        if let Some(newline) = memchr::memrchr(b'\n', chunk) {
            line_start = bytes.len() + newline + 1;
        }
        bytes.extend_from_slice(chunk);
        input.reader.consume(taken);
        if (bytes.len() - line_start) as u64 > MAX_LINE {
            let line = bytes[..line_start].iter().filter(|&&b| b == b'\n').count() + 1;
            bail!(
                "{}:{line}: a line longer than {MAX_LINE} bytes: not a line of text",
                input.name
            );
        }
    }
    text(&input.name, 1, bytes)
}

/// `bytes` as text, or an error at `name`, the line (counted from `first_line`)
/// and the column of the first byte that is not UTF-8.
fn text(name: &str, first_line: u64, bytes: Vec<u8>) -> anyhow::Result<String> {
    String::from_utf8(bytes).map_err(|error| {
        let bytes = error.as_bytes();
        let valid = error.utf8_error().valid_up_to();
        let before = &bytes[..valid];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |at| at + 1);
        let lines = before.iter().filter(|&&b| b == b'\n').count() as u64;
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        anyhow::anyhow!(
            "{name}:{}:{column}: not UTF-8 text (byte 0x{:02x})",
            first_line + lines,
            bytes[valid]
        )
    })
}

/// The longest line [`Lines`] reads: far above any test id or record, and
/// a bound on memory when the input never ends (`/dev/zero`).
pub const MAX_LINE: u64 = 16 << 20;

/// The lines of a text input, numbered from 1, without their line ends
/// (`\n` or `\r\n`). Unlike [`BufRead::lines`], an error names the input
/// and the line: a line that is not UTF-8 is one, and so is one longer than
/// [`MAX_LINE`].
pub struct Lines<R> {
    name: String,
    reader: R,
    number: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(name: &str, reader: R) -> Lines<R> {
        Lines {
            name: name.to_string(),
            reader,
            number: 0,
            buf: Vec::new(),
        }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    /// The line's number and its text.
    type Item = anyhow::Result<(u64, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.buf.clear();
        self.number += 1;
        let mut line = (&mut self.reader).take(MAX_LINE + 1);
        match line.read_until(b'\n', &mut self.buf) {
            Ok(0) => return None,
            Ok(read) if read as u64 > MAX_LINE => {
                let (name, number) = (&self.name, self.number);
                return Some(Err(anyhow::anyhow!(
                    "{name}:{number}: a line longer than {MAX_LINE} bytes: not a line of text"
                )));
            }
            Ok(_) => {}
            Err(error) => {
                let name = &self.name;
                return Some(Err(error).with_context(|| format!("cannot read {name}")));
            }
        }
        if self.buf.ends_with(b"\n") {
            self.buf.pop();
            if self.buf.ends_with(b"\r") {
                self.buf.pop();
            }
        }
        let line = std::mem::take(&mut self.buf);
        Some(text(&self.name, self.number, line).map(|line| (self.number, line)))
    }
}

/// Where a tool's data goes: stdout, or a file replaced atomically.
pub struct Output {
    writer: BufWriter<Box<dyn Write>>,
    target: Option<Atomic>,
    committed: bool,
}

/// A temporary file that becomes `path` on commit and disappears otherwise.
/// It is created exclusively (`O_EXCL`) under a name no one can predict, in
/// `path`'s folder so the rename stays on one file system: a symlink planted
/// where it will be cannot redirect the output.
struct Atomic {
    temp: NamedTempFile,
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
                committed: false,
            });
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .with_context(|| format!("{} is not a file name", path.display()))?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".tmp")
            // As File::create would: the umask decides.
            .permissions(fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let file = temp
            .as_file()
            .try_clone()
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Output {
            writer: BufWriter::with_capacity(1 << 16, Box::new(file)),
            target: Some(Atomic {
                temp,
                path: path.to_path_buf(),
            }),
            committed: false,
        })
    }

    /// Flush everything and, for a file, move it into place.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let name = self.name();
        self.writer
            .flush()
            .with_context(|| format!("cannot write {name}"))?;
        if let Some(target) = self.target.take() {
            target
                .temp
                .persist(&target.path)
                .map_err(|error| error.error)
                .with_context(|| format!("cannot write {}", target.path.display()))?;
        }
        self.committed = true;
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

/// An output dropped uncommitted (the tool failed) writes none of what it
/// still holds, as BufWriter would on drop: stdout gets no half report
/// beyond what had to go out already.
impl Drop for Output {
    fn drop(&mut self) {
        if !self.committed {
            let writer = std::mem::replace(&mut self.writer, BufWriter::new(Box::new(io::sink())));
            drop(writer.into_parts());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shared-io-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
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
    fn a_planted_symlink_does_not_redirect_the_output() {
        let dir = scratch("planted");
        let victim = dir.join("victim");
        fs::write(&victim, "precious").unwrap();
        // The name the temporary file had when it was predictable.
        let planted = dir.join(format!(".unit.xml.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let path = dir.join("unit.xml");
        let mut out = Output::create(Some(&path)).unwrap();
        out.write_all(b"new").unwrap();
        out.commit().unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let planted_name = planted.file_name().unwrap().to_str().unwrap();
        assert_eq!(names, [planted_name, "unit.xml", "victim"]);
    }

    #[test]
    fn text_that_is_not_utf8_is_placed_at_its_line_and_column() {
        let error = text("ids", 1, b"a\nb\xffc\n".to_vec()).unwrap_err();
        assert_eq!(error.to_string(), "ids:2:2: not UTF-8 text (byte 0xff)");
        let lines: Vec<String> = Lines::new("plan", &b"x\r\ny\n\xc3\xa9\xfe"[..])
            .map(|line| match line {
                Ok((number, text)) => format!("{number} {text}"),
                Err(error) => error.to_string(),
            })
            .collect();
        assert_eq!(
            lines,
            ["1 x", "2 y", "plan:3:2: not UTF-8 text (byte 0xfe)"]
        );
        let mut endless = Lines::new("zero", io::BufReader::new(io::repeat(0)));
        let error = endless.next().unwrap().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("zero:1: a line longer than {MAX_LINE} bytes: not a line of text")
        );
    }

    #[test]
    fn missing_input_names_the_path() {
        let err = open(Path::new("/nonexistent/junit.xml")).err().unwrap();
        assert!(format!("{err:#}").starts_with("cannot open /nonexistent/junit.xml: "));
    }
}
