//! `--jobs auto` and `--stacks auto`: how many stacks this host runs at once.
//!
//! The rule: one stack per core, and no more than the memory available
//! holds at [`STACK_MEMORY`] each, at least one. Cores are what the process
//! may use (cgroup quotas and CPU affinity count, as in a CI container);
//! memory is MemAvailable from /proc/meminfo, capped by a cgroup v2 limit.

use std::path::Path;

/// What one stack of a database-backed suite takes: PostgreSQL, Redis, the
/// test runner and compose, measured on the example at 0.6-0.8 GiB, with room.
pub const STACK_MEMORY: u64 = 1 << 30;

/// How many stacks for `cores` cores and `memory` bytes available.
pub fn rule(cores: usize, memory: u64) -> u32 {
    let by_memory = memory / STACK_MEMORY;
    (cores as u64).min(by_memory).clamp(1, u64::from(u32::MAX)) as u32
}

/// The rule on this host, and a line that says how it came out.
pub fn this_host() -> (u32, String) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let memory = available_memory();
    let stacks = rule(cores, memory.unwrap_or(u64::MAX));
    let memory = memory.map_or("unknown memory".to_string(), |bytes| {
        format!("{:.1} GiB available", bytes as f64 / (1u64 << 30) as f64)
    });
    (
        stacks,
        format!("{stacks} at once ({cores} cores, {memory}, 1 GiB a stack)"),
    )
}

/// MemAvailable, or the cgroup's memory limit less its usage when lower.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let host = meminfo_available(&meminfo)?;
    let cgroup = Path::new("/sys/fs/cgroup");
    let limit = read_number(&cgroup.join("memory.max"));
    let used = read_number(&cgroup.join("memory.current")).unwrap_or(0);
    Some(match limit {
        Some(limit) => host.min(limit.saturating_sub(used)),
        None => host,
    })
}

fn meminfo_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A number in a cgroup file; `None` for "max" or no file.
fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_per_core_as_far_as_memory_goes() {
        let gib = 1u64 << 30;
        assert_eq!(rule(2, 24 * gib), 2);
        assert_eq!(rule(64, 24 * gib), 24);
        assert_eq!(rule(8, gib / 2), 1, "never none");
        assert_eq!(rule(64, 256 * gib), 64);
    }

    #[test]
    fn reads_memavailable() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   16000000 kB\n";
        assert_eq!(meminfo_available(text), Some(16_000_000 * 1024));
        assert_eq!(meminfo_available("MemTotal: 1 kB\n"), None);
    }
}
