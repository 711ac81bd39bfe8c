//! A Cobertura report read, written (coverage::cobertura::write) and read
//! again: the same files with the same numbers, statements (hit counts
//! where the report counts them) and missed exits.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use shardstack_fuzz::{Carries, View};
use shared::coverage::cobertura::{self, Layout};

const CARRIES: Carries = Carries {
    excluded: false,
    taken_arcs: false,
    regions: false,
};

fuzz_target!(|data: &[u8]| {
    let Ok(report) = cobertura::read("fuzz.xml", data) else {
        return;
    };
    let Some(view) = View::of(&report, CARRIES) else {
        return;
    };
    let layout = Layout {
        cwd: Path::new("/work"),
        sources: &[],
    };
    let mut written = Vec::new();
    // The writer refuses names XML cannot carry; the reader may have read
    // them from character references.
    if cobertura::write(&report, &layout, &mut written).is_err() {
        return;
    }
    let text = String::from_utf8_lossy(&written);
    let again = cobertura::read("written.xml", written.as_slice())
        .unwrap_or_else(|error| panic!("{text}\ndoes not read back: {error:#}"));
    assert_eq!(Some(view), View::of(&again, CARRIES), "{text}");
});
