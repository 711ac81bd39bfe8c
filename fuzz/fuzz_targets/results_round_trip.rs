//! A results line read, written (ShardResult::to_line) and read again: the
//! same result, its times rounded to the millisecond as written, and the
//! written line a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::results::ShardResult;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(result) = ShardResult::from_json(line) else {
        return;
    };
    let written = result.to_line();
    let again = ShardResult::from_json(&written)
        .unwrap_or_else(|error| panic!("{written} does not read back: {error:#}"));
    assert_eq!(again.to_line(), written);
    assert_eq!(rounded(result), again, "{written}");
});

/// The result as written: times to the millisecond.
fn rounded(mut result: ShardResult) -> ShardResult {
    let round = |seconds: f64| (seconds * 1000.0).round() / 1000.0;
    let attempts = std::iter::once(&mut result.first).chain(result.rerun.as_mut());
    for attempt in attempts {
        attempt.up_seconds = round(attempt.up_seconds);
        attempt.run_seconds = round(attempt.run_seconds);
        attempt.down_seconds = round(attempt.down_seconds);
    }
    result.started_seconds = result.started_seconds.map(round);
    result
}
