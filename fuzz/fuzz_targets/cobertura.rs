//! The reader of Cobertura XML (shared::coverage::cobertura) on any bytes: a report or an error, never a panic;
//! the numbers of every file of a report it accepts add up or say they
//! cannot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::coverage::cobertura;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = cobertura::read("fuzz", data) else {
        return;
    };
    shardstack_fuzz::check_numbers(&report);
});
