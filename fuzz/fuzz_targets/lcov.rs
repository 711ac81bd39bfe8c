//! The reader of LCOV tracefiles (shared::coverage::lcov) on any bytes: a report or an error, never a panic;
//! the numbers of every file of a report it accepts add up or say they
//! cannot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::coverage::lcov;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = lcov::read("fuzz", data) else {
        return;
    };
    shardstack_fuzz::check_numbers(&report);
});
