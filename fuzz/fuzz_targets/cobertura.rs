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
    for file in report.files.values() {
        if let Ok(numbers) = file.numbers(report.meta.precision) {
            assert!(numbers.n_missing <= numbers.n_statements, "{numbers:?}");
            assert!(
                numbers.n_missing_branches <= numbers.n_branches,
                "{numbers:?}"
            );
            let _ = (numbers.pc_covered_str(), numbers.pc_branches_str());
        }
    }
});
