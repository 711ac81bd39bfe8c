//! stack-run's results lines (shared::results), read as stack-report reads
//! a results file: line by line, each one a result or an error, never a
//! panic; every result read (a shard's or the seed's) has times a run can
//! take, and a seed's line reads back as written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::io::Lines;
use shared::results::{MAX_SECONDS, ResultLine};

fuzz_target!(|data: &[u8]| {
    for line in Lines::new("fuzz.jsonl", data) {
        let Ok((_, line)) = line else { return };
        let result = match ResultLine::from_json(&line) {
            Ok(ResultLine::Shard(result)) => result,
            Ok(ResultLine::Seed(seed)) => {
                let end = seed.started_seconds + seed.seconds;
                assert!((0.0..=2.0 * MAX_SECONDS).contains(&end), "{end}");
                let written = seed.to_line();
                let again = ResultLine::from_json(&written)
                    .unwrap_or_else(|error| panic!("{written} does not read back: {error:#}"));
                assert!(matches!(again, ResultLine::Seed(_)), "{written}");
                continue;
            }
            Err(_) => continue,
        };
        let _ = result.final_status();
        let attempts = std::iter::once(&result.first).chain(result.rerun.as_ref());
        for attempt in attempts {
            let total = attempt.total_seconds();
            assert!((0.0..=3.0 * MAX_SECONDS).contains(&total), "{total}");
        }
    }
});
