//! coverage.py's "human" order of names: digit runs compare as numbers, so
//! `file2` comes before `file10`.

use std::cmp::Ordering;

/// A sort key: alternating text and number chunks, then the whole name.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanKey {
    chunks: Vec<Chunk>,
    whole: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Chunk {
    Text(String),
    Number(String),
}

impl Ord for Chunk {
    fn cmp(&self, other: &Chunk) -> Ordering {
        match (self, other) {
            (Chunk::Number(a), Chunk::Number(b)) => {
                let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
                a.len().cmp(&b.len()).then_with(|| a.cmp(b))
            }
            (Chunk::Text(a), Chunk::Text(b)) => a.cmp(b),
            (Chunk::Text(_), Chunk::Number(_)) => Ordering::Less,
            (Chunk::Number(_), Chunk::Text(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Chunk {
    fn partial_cmp(&self, other: &Chunk) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub fn human_key(name: &str) -> HumanKey {
    // Like Python's re.split(r"(\d+)"): text first (maybe empty), then
    // alternating numbers and text, ending with text.
    let mut chunks = vec![Chunk::Text(String::new())];
    for c in name.chars() {
        let digit = c.is_ascii_digit();
        match chunks.last_mut() {
            Some(Chunk::Number(n)) if digit => n.push(c),
            Some(Chunk::Text(t)) if !digit => t.push(c),
            _ if digit => chunks.push(Chunk::Number(c.to_string())),
            _ => chunks.push(Chunk::Text(c.to_string())),
        }
    }
    if matches!(chunks.last(), Some(Chunk::Number(_))) {
        chunks.push(Chunk::Text(String::new()));
    }
    HumanKey {
        chunks,
        whole: name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_as_numbers() {
        let mut names = vec![
            "pkg/file10.py",
            "pkg/file2.py",
            "pkg/File.py",
            "pkg2",
            "pkg",
        ];
        names.sort_by_key(|n| human_key(n));
        // As Python compares lists: "pkg" < "pkg/File.py", so pkg2 sorts early.
        let expected = [
            "pkg",
            "pkg2",
            "pkg/File.py",
            "pkg/file2.py",
            "pkg/file10.py",
        ];
        assert_eq!(names, expected);
    }
}
