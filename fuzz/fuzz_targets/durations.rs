//! The durations reader (shared::durations) on any bytes, in any of its
//! formats (pytest-split JSON, JUnit XML, id<TAB>seconds): durations or an
//! error, never a panic; then looked up for the ids the input's own lines
//! would make, which turns them into JUnit keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::durations::Durations;

fuzz_target!(|data: &[u8]| {
    let file = shardstack_fuzz::ScratchFile::new(data);
    let mut durations = Durations::new();
    if durations.read(&file.path).is_err() {
        return;
    }
    let text = String::from_utf8_lossy(data);
    let ids = text.lines().take(16).chain(["t.py::a", "t.py::K::b[x]"]);
    let resolved = durations.resolve(ids);
    assert!(resolved.unused <= durations.len());
    for seconds in resolved.seconds.into_iter().flatten() {
        assert!(seconds.is_finite() && seconds >= 0.0, "{seconds}");
    }
});
