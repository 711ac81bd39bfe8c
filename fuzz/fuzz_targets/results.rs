//! stack-run's results lines (shared::results), read as stack-report reads
//! a results file: line by line, each one a result or an error, never a
//! panic; every result read has times a run can take.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::io::Lines;
use shared::results::{MAX_SECONDS, ShardResult};

fuzz_target!(|data: &[u8]| {
    for line in Lines::new("fuzz.jsonl", data) {
        let Ok((_, line)) = line else { return };
        let Ok(result) = ShardResult::from_json(&line) else {
            continue;
        };
        let _ = result.final_status();
        let attempts = std::iter::once(&result.first).chain(result.rerun.as_ref());
        for attempt in attempts {
            let total = attempt.total_seconds();
            assert!((0.0..=3.0 * MAX_SECONDS).contains(&total), "{total}");
        }
    }
});
