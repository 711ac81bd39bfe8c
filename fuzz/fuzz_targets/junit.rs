//! The JUnit reader (shared::junit::read) on any bytes: events, counts and
//! test cases, or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::junit::read::{Event, Reader, has_junit_root};

fuzz_target!(|data: &[u8]| {
    let file = shardstack_fuzz::ScratchFile::new(data);
    let _ = has_junit_root(&file.path, "fuzz.xml");
    let Ok(mut reader) = Reader::open(&file.path, "fuzz.xml") else {
        return;
    };
    loop {
        match reader.next_event() {
            Ok(Some(Event::Case(case))) => {
                let _ = (case.outcome(), case.counts());
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(error) => {
                let _ = error.to_string();
                return;
            }
        }
    }
    let _ = reader.tally().disagreement(&reader.totals());
});
