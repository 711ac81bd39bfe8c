//! A coverage.py JSON report read, written (coverage::json::write) and read
//! again: the same files with the same numbers, statements, excluded lines,
//! taken and missed exits, and (format 3) regions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardstack_fuzz::{Carries, View};
use shared::coverage::json;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = json::read("fuzz.json", data) else {
        return;
    };
    // Regions are written for every file or none (as coverage.py does).
    let regions = report.meta.json_format.is_none_or(|format| format >= 3)
        && report.files.values().all(|file| !file.regions.is_empty());
    let carries = Carries {
        excluded: true,
        taken_arcs: true,
        regions,
    };
    let Some(view) = View::of(&report, carries) else {
        return;
    };
    let mut written = Vec::new();
    json::write(&report, &mut written).expect("a report whose numbers add up can be written");
    let text = String::from_utf8_lossy(&written);
    let again = json::read("written.json", written.as_slice())
        .unwrap_or_else(|error| panic!("{text}\ndoes not read back: {error:#}"));
    assert_eq!(Some(view), View::of(&again, carries), "{text}");
});
