//! Durations written as shard-plan --save-durations writes them
//! (shared::durations::write_json) and read back: every test id has exactly
//! the seconds written, and every shard's session setup too.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use shared::durations::{Durations, Format, write_json};
use shared::setup;

fuzz_target!(|entries: Vec<(String, f64)>| {
    // What shard-plan saves: durations it read or measured, which are
    // finite, not negative, and add up to no more than a plan holds.
    let mut total = 0.0;
    let recorded: BTreeMap<&str, f64> = entries
        .iter()
        .filter(|(_, seconds)| seconds.is_finite() && *seconds >= 0.0)
        .filter(|(_, seconds)| {
            total += seconds;
            total <= shared::planner::MAX_TOTAL_SECONDS
        })
        .map(|(id, seconds)| (id.as_str(), *seconds))
        .collect();
    let mut written = Vec::new();
    write_json(&mut written, &recorded).expect("durations can be written");
    let file = shardstack_fuzz::ScratchFile::new(&written);
    let mut durations = Durations::new();
    let format = durations.read(&file.path).unwrap_or_else(|error| {
        panic!(
            "written durations do not read back: {error:#}\n{}",
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(format, Format::Json);
    // Keys of a shard's session setup go to setups(), the last one read
    // winning; the others are tests.
    let mut setups = BTreeMap::new();
    let mut tests = Vec::new();
    for (&id, &seconds) in &recorded {
        match setup::shard_of_key(id) {
            Some(shard) => {
                setups.insert(shard, seconds);
            }
            None => tests.push((id, Some(seconds))),
        }
    }
    let resolved = durations.resolve(tests.iter().map(|&(id, _)| id));
    let expected: Vec<Option<f64>> = tests.iter().map(|&(_, seconds)| seconds).collect();
    assert_eq!(resolved.seconds, expected);
    assert_eq!(resolved.unused, 0);
    assert_eq!(durations.setups(), &setups);
});
