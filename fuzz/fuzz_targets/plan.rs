//! The plan reader (shared::plan) on any bytes: entries or an error naming
//! the line, never a panic; every entry it accepts is one a plan can hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::plan;

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = plan::read("fuzz.tsv", data) else {
        return;
    };
    for entry in entries {
        assert!(
            !entry.id.is_empty() && !entry.id.contains('\n'),
            "{entry:?}"
        );
        assert_ne!(entry.shard, Some(0), "shards count from 1");
    }
});
