//! An LCOV tracefile read, written (coverage::lcov::write) and read again:
//! the same files with the same numbers, hit counts, and taken and missed
//! exits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardstack_fuzz::{Carries, View};
use shared::coverage::lcov;

const CARRIES: Carries = Carries {
    excluded: false,
    taken_arcs: true,
    regions: false,
};

fuzz_target!(|data: &[u8]| {
    let Ok(report) = lcov::read("fuzz.info", data) else {
        return;
    };
    // LCOV has no escaping: the writer turns control characters in a file
    // name into `?`, as coverage.py does.
    if report
        .files
        .keys()
        .any(|name| name.contains(char::is_control))
    {
        return;
    }
    let Some(view) = View::of(&report, CARRIES) else {
        return;
    };
    let mut written = Vec::new();
    lcov::write(&report, &mut written).expect("a report whose numbers add up can be written");
    let text = String::from_utf8_lossy(&written);
    let again = lcov::read("written.info", written.as_slice())
        .unwrap_or_else(|error| panic!("{text}\ndoes not read back: {error:#}"));
    assert_eq!(Some(view), View::of(&again, CARRIES), "{text}");
});
