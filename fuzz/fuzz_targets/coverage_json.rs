//! The reader of coverage.py's JSON report (shared::coverage::json) on any bytes: a report or an error, never a panic;
//! the numbers of every file of a report it accepts add up or say they
//! cannot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::coverage::json;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = json::read("fuzz", data) else {
        return;
    };
    shardstack_fuzz::check_numbers(&report);
});
