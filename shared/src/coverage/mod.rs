//! Coverage reports: one model, a reader and writer per format, and the merge.
//!
//! cov-merge reads every shard's report into [`model::Report`], merges them
//! the way `coverage combine` does ([`merge`]), and writes the result in the
//! format CI needs. The model is coverage.py's own view of a file (statements,
//! branch exits, which were missed), so a merge of coverage.py reports gives
//! exactly what coverage.py would have reported for all shards together.

pub mod cobertura;
pub mod docstrings;
pub mod json;
pub mod lcov;
pub mod merge;
pub mod model;
pub mod sort;
pub mod text;

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, bail};

pub use model::Report;

/// Named as the writer where an input did not name its coverage.py version.
pub const PRODUCER: &str = concat!("cov-merge ", env!("CARGO_PKG_VERSION"));

/// The report formats, as the inputs' content shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    Json,
    Cobertura,
    Lcov,
}

/// Read the report at `path` (`-` is stdin), whatever its format.
pub fn read(path: &Path) -> anyhow::Result<(Format, Report)> {
    let mut input = crate::io::open(path)?;
    let format = detect(&input.name, &mut input.reader)?;
    let report = match format {
        Format::Json => json::read(&input.name, input.reader),
        Format::Cobertura => cobertura::read(&input.name, input.reader),
        Format::Lcov => lcov::read(&input.name, input.reader),
    }?;
    Ok((format, report))
}

/// Tell the format from the first bytes that are not blank, without consuming them.
pub fn detect(name: &str, reader: &mut dyn BufRead) -> anyhow::Result<Format> {
    loop {
        let buf = reader
            .fill_buf()
            .with_context(|| format!("cannot read {name}"))?;
        let Some(&first) = buf.first() else {
            bail!("{name}: empty file, not a coverage report");
        };
        let skip = if buf.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            buf.iter().take_while(|b| b.is_ascii_whitespace()).count()
        };
        if skip > 0 {
            reader.consume(skip);
            continue;
        }
        return match first {
            b'{' => Ok(Format::Json),
            b'<' => Ok(Format::Cobertura),
            b'A'..=b'Z' => Ok(Format::Lcov),
            _ => bail!(
                "{name}: not a coverage report (expected coverage.py JSON, Cobertura XML or LCOV)"
            ),
        };
    }
}
