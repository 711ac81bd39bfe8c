//! A plan read, written back line by line (shared::plan::write_line for
//! assigned tests, the bare id for the others), and read again: the same
//! entries in the same order.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use shared::plan;

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = plan::read("fuzz.tsv", data) else {
        return;
    };
    let mut written = Vec::new();
    for entry in &entries {
        match entry.shard {
            Some(shard) => plan::write_line(&mut written, shard, &entry.id).unwrap(),
            None => writeln!(written, "{}", entry.id).unwrap(),
        }
    }
    let again = plan::read("written.tsv", written.as_slice())
        .unwrap_or_else(|error| panic!("a written plan does not read back: {error:#}"));
    assert_eq!(entries, again);
});
