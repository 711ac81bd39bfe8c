//! The plan: which shard runs which test.
//!
//! One test per line, `SHARD<TAB>TEST_ID`, shards numbered from 1, grouped by
//! shard, collection order inside a shard. Readers also take bare ids (one
//! shard, or "not assigned"), so a plain list of tests is a plan too.

use std::io::{BufRead, Write};

use anyhow::{Context, bail};

/// One planned test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based shard number; `None` for a bare id.
    pub shard: Option<u32>,
    pub id: String,
}

/// Read a plan, naming `name` and the line in every error.
pub fn read(name: &str, reader: impl BufRead) -> anyhow::Result<Vec<Entry>> {
    let numbered = read_numbered(name, reader)?;
    Ok(numbered.into_iter().map(|(_, entry)| entry).collect())
}

/// Read a plan, each entry with its line's number (from 1): a reader's
/// later message can point at the line that planned an id.
pub fn read_numbered(name: &str, reader: impl BufRead) -> anyhow::Result<Vec<(u64, Entry)>> {
    let mut entries = Vec::new();
    for line in crate::io::Lines::new(name, reader) {
        let (number, line) = line?;
        if line.trim().is_empty() {
            continue;
        }
        let entry = parse_line(&line).with_context(|| format!("{name}:{number}"))?;
        entries.push((number, entry));
    }
    Ok(entries)
}

/// Parse one non-blank line: `SHARD<TAB>ID` or a bare id.
pub fn parse_line(line: &str) -> anyhow::Result<Entry> {
    // Ids go into JUnit XML, which cannot carry control characters.
    if let Some(c) = line
        .chars()
        .find(|&c| !crate::xml::is_xml_char(c) || c == '\r')
    {
        bail!("{c:?} in a plan line: not part of a test id");
    }
    let Some((shard, id)) = line.split_once('\t') else {
        return Ok(Entry {
            shard: None,
            id: line.to_string(),
        });
    };
    let shard: u32 = match shard.parse() {
        Ok(n) if n >= 1 => n,
        _ => bail!("shard number {shard:?} is not a whole number from 1 up"),
    };
    if id.is_empty() {
        bail!("shard {shard} has an empty test id");
    }
    Ok(Entry {
        shard: Some(shard),
        id: id.to_string(),
    })
}

/// Write one plan line.
pub fn write_line(out: &mut impl Write, shard: u32, id: &str) -> std::io::Result<()> {
    // Plans run to a million lines: plain byte writes, no formatting machinery.
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    let mut rest = shard;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.write_all(&digits[start..])?;
    out.write_all(b"\t")?;
    out.write_all(id.as_bytes())?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_shards_and_bare_ids() {
        let text = "1\ttests/a.py::t\n\n2\ttests/b.py::t[x\ty]\ntests/c.py::t\r\n";
        let entries = read("plan.tsv", text.as_bytes()).unwrap();
        let shards: Vec<_> = entries.iter().map(|e| (e.shard, e.id.as_str())).collect();
        assert_eq!(
            shards,
            [
                (Some(1), "tests/a.py::t"),
                (Some(2), "tests/b.py::t[x\ty]"),
                (None, "tests/c.py::t")
            ]
        );
    }

    #[test]
    fn written_lines_read_back() {
        let mut out = Vec::new();
        for (shard, id) in [(1, "t.py::a"), (10, "t.py::b[1]"), (4_294_967_295, "c")] {
            write_line(&mut out, shard, id).unwrap();
        }
        assert_eq!(out, b"1\tt.py::a\n10\tt.py::b[1]\n4294967295\tc\n");
        let entries = read("plan.tsv", out.as_slice()).unwrap();
        assert_eq!(entries[2].shard, Some(u32::MAX));
    }

    #[test]
    fn bad_shard_names_file_and_line() {
        let err = read("plan.tsv", "1\ta\nzero\tb\n".as_bytes()).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "plan.tsv:2: shard number \"zero\" is not a whole number from 1 up"
        );
    }
}
