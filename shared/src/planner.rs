//! Splitting a suite into shards that finish together.
//!
//! The wall time of a sharded run is that of its slowest shard, so the plan
//! aims for the smallest longest shard. Tests are first given a duration
//! ([`estimate`] fills in the ones never recorded from their neighbours), then
//! gathered into the units that must run together ([`group`]), then dealt out
//! by [`Balancer`]: longest unit first onto the least loaded shard, followed by
//! a few moves and swaps between the fullest and the emptiest shard while they
//! shorten the longest one.
//!
//! Every CI node computes its plan on its own, so the result must not depend
//! on the order the tests came in: durations are whole nanoseconds (sums do
//! not depend on the order they are added in) and every tie is broken by the
//! unit's id, then by the shard's number.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

use rustc_hash::FxHashMap as HashMap;

/// Which tests must share a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    /// Every test on its own: the finest balance.
    Test,
    /// The tests of one top-level class together (class fixtures, Django
    /// `setUpClass`); tests outside classes on their own.
    Class,
    /// The tests of one file together (module fixtures); `file` is the same.
    #[value(alias = "file")]
    Module,
}

/// Where the parts of a node id end, found in one pass:
/// `t.py::A::B::test_c[1]` is in file `t.py`, top-level class `t.py::A`,
/// class `t.py::A::B`, function `t.py::A::B::test_c`.
struct Parts<'a> {
    id: &'a str,
    /// The end of the file: the first `::`.
    file: usize,
    /// The end of the top-level and of the innermost class, if in one.
    classes: Option<(usize, usize)>,
    /// The end of the function: the parameters start there. Parameters may
    /// hold anything, `::` included, so they are cut off first.
    function: usize,
}

impl<'a> Parts<'a> {
    fn of(id: &'a str) -> Parts<'a> {
        let function = id.find('[').unwrap_or(id.len());
        let head = &id.as_bytes()[..function];
        let (mut first, mut second, mut last) = (None, None, None);
        let mut colons = memchr::memchr_iter(b':', head);
        while let Some(colon) = colons.next() {
            if head.get(colon + 1) != Some(&b':') {
                continue;
            }
            colons.next();
            if first.is_none() {
                first = Some(colon);
            } else if second.is_none() {
                second = Some(colon);
            }
            last = Some(colon);
        }
        Parts {
            id,
            file: first.unwrap_or(function),
            classes: second.zip(last),
            function,
        }
    }

    fn function(&self) -> &'a str {
        &self.id[..self.function]
    }

    fn module(&self) -> &'a str {
        &self.id[..self.file]
    }

    fn innermost_class(&self) -> Option<&'a str> {
        self.classes.map(|(_, inner)| &self.id[..inner])
    }

    fn outermost_class(&self) -> Option<&'a str> {
        self.classes.map(|(outer, _)| &self.id[..outer])
    }

    /// The neighbourhoods [`estimate`] looks in, the closest first: the
    /// function, the class, the file.
    fn neighbourhoods(&self) -> [Option<&'a str>; 3] {
        [
            Some(self.function()),
            self.innermost_class(),
            Some(self.module()),
        ]
    }
}

/// Durations for every test, recorded or estimated.
#[derive(Debug, PartialEq)]
pub struct Estimates {
    pub seconds: Vec<f64>,
    /// How many of them were estimated.
    pub estimated: usize,
}

/// Fill in the tests without a recorded duration from their closest known
/// neighbours: the median of the other parametrizations of the same
/// function, else of the same class, else of the same file, else of every
/// known test, else one second.
pub fn estimate(ids: &[&str], known: &[Option<f64>]) -> Estimates {
    let unknown: Vec<usize> = (0..ids.len()).filter(|&i| known[i].is_none()).collect();
    // Gather known durations only for the neighbourhoods an unknown test is in.
    let mut neighbours: [HashMap<&str, Vec<f64>>; 3] = Default::default();
    for &i in &unknown {
        for (level, key) in Parts::of(ids[i]).neighbourhoods().iter().enumerate() {
            if let Some(key) = key {
                neighbours[level].entry(key).or_default();
            }
        }
    }
    let mut everyone = Vec::new();
    if !unknown.is_empty() {
        for (id, seconds) in ids.iter().zip(known) {
            let Some(seconds) = *seconds else { continue };
            everyone.push(seconds);
            // Widest first: a test in no wanted file is in no wanted class or function.
            let keys = Parts::of(id).neighbourhoods();
            for level in (0..3).rev() {
                match keys[level].and_then(|key| neighbours[level].get_mut(key)) {
                    Some(found) => found.push(seconds),
                    None if level == 2 => break,
                    None => {}
                }
            }
        }
    }
    let medians: Vec<HashMap<&str, f64>> = neighbours
        .into_iter()
        .map(|level| {
            level
                .into_iter()
                .filter_map(|(key, mut values)| Some((key, median(&mut values)?)))
                .collect()
        })
        .collect();
    let fallback = median(&mut everyone).unwrap_or(1.0);
    let mut seconds: Vec<f64> = known.iter().map(|s| s.unwrap_or(fallback)).collect();
    for &i in &unknown {
        let keys = Parts::of(ids[i]).neighbourhoods();
        let nearest = keys
            .iter()
            .zip(&medians)
            .find_map(|(key, medians)| key.and_then(|key| medians.get(key).copied()));
        seconds[i] = nearest.unwrap_or(fallback);
    }
    Estimates {
        seconds,
        estimated: unknown.len(),
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let (len, mid) = (values.len(), values.len() / 2);
    let (lower, middle, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let middle = *middle;
    Some(if len % 2 == 1 {
        middle
    } else {
        // The largest of the lower half is the other middle value.
        let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + middle) / 2.0
    })
}

/// The most seconds a plan's tests may add up to (about 31 years): in
/// nanoseconds, sums of any part of a plan stay far inside `u64`.
pub const MAX_TOTAL_SECONDS: f64 = 1e9;

/// Whether `seconds` (recorded or estimated) add up to no more than
/// [`MAX_TOTAL_SECONDS`]; the planner's sums rely on it.
pub fn check_total(seconds: &[f64]) -> Result<(), String> {
    let total: f64 = seconds.iter().sum();
    if total <= MAX_TOTAL_SECONDS {
        Ok(())
    } else {
        Err(format!(
            "the test durations add up to {total:e} s, more than shard-plan plans ({MAX_TOTAL_SECONDS:e} s, about 31 years)"
        ))
    }
}

/// Seconds as whole nanoseconds, the unit every sum is made in.
pub fn nanos(seconds: f64) -> u64 {
    (seconds * 1e9).round() as u64
}

/// Nanoseconds back to seconds, for people.
pub fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// The suite cut into units that run together.
#[derive(Debug)]
pub struct Units<'a> {
    /// What names each unit (a test id, class or file): unique, so it breaks ties.
    pub keys: Vec<&'a str>,
    /// Each unit's predicted nanoseconds, at least 1 so that even free
    /// tests spread out instead of piling onto the first shard.
    pub weights: Vec<u64>,
    /// Each unit's number of tests.
    pub tests: Vec<usize>,
    /// The unit of each test, in input order.
    pub unit_of: Vec<u32>,
}

/// Gather the tests into units.
pub fn group<'a>(ids: &[&'a str], seconds: &[f64], by: GroupBy) -> Units<'a> {
    let key = |id: &'a str| -> &'a str {
        match by {
            GroupBy::Test => id,
            GroupBy::Class => Parts::of(id).outermost_class().unwrap_or(id),
            GroupBy::Module => Parts::of(id).module(),
        }
    };
    let mut units = Units {
        keys: Vec::new(),
        weights: Vec::new(),
        tests: Vec::new(),
        unit_of: Vec::with_capacity(ids.len()),
    };
    let mut index: HashMap<&str, u32> = HashMap::default();
    for (&id, &seconds) in ids.iter().zip(seconds) {
        let key = key(id);
        // Test ids are unique, so each test is its own unit without a lookup.
        let unit = if by == GroupBy::Test {
            None
        } else {
            index.get(key).copied()
        };
        let unit = unit.unwrap_or_else(|| {
            let unit = units.keys.len() as u32;
            units.keys.push(key);
            units.weights.push(0);
            units.tests.push(0);
            if by != GroupBy::Test {
                index.insert(key, unit);
            }
            unit
        });
        units.weights[unit as usize] += nanos(seconds);
        units.tests[unit as usize] += 1;
        units.unit_of.push(unit);
    }
    for weight in &mut units.weights {
        *weight = (*weight).max(1);
    }
    units
}

/// More shards were asked for than there are units to fill them.
#[derive(Debug, PartialEq)]
pub struct TooManyShards {
    pub shards: u32,
    pub units: usize,
}

impl fmt::Display for TooManyShards {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let units = match self.units {
            1 => "is only 1 unit".to_string(),
            n => format!("are only {n} units"),
        };
        write!(
            f,
            "{} shards asked for, but there {units} to share out and no shard may be empty",
            self.shards
        )
    }
}

impl std::error::Error for TooManyShards {}

/// One shard's predicted share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    pub nanos: u64,
    pub tests: usize,
    pub units: usize,
}

/// Which shard runs which test.
#[derive(Debug, PartialEq)]
pub struct Plan {
    /// The 1-based shard of every test, in input order.
    pub shard_of: Vec<u32>,
    pub shards: Vec<Load>,
}

impl Plan {
    /// The predicted wall time: the longest shard.
    pub fn longest(&self) -> u64 {
        self.shards.iter().map(|s| s.nanos).max().unwrap_or(0)
    }
}

/// A hash that is the same on every machine and every run, so every CI node
/// scrambles ties alike: FNV-1a, then SplitMix64's finaliser, so that the
/// last bytes (where neighbouring ids differ) move the high bits too.
fn stable_hash(text: &str) -> u64 {
    let fnv = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut z = fnv;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How [`Balancer::batches`] sizes the batches of a queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchRule {
    /// Guided self-scheduling: each batch holds 1/(`share` × `stacks`) of
    /// the time still unplanned, and never less than `floor` nanoseconds
    /// (what starting a batch costs must stay small beside it). Early batches
    /// are long, the last ones short, so the stacks end close together.
    /// shard-plan uses [`GUIDED_SHARE`]; `bench/sim` compares others.
    Guided { stacks: u32, share: u32, floor: u64 },
    /// This many batches, their sizes shrinking in steps: N, N-1, ... 1 parts.
    Count(u32),
}

/// The guided rule's divisor per stack: 2 ("factoring") hedges against
/// durations that are off, at the price of more batches than plain guided
/// self-scheduling's 1.
pub const GUIDED_SHARE: u32 = 2;

/// The guided rule's floor in seconds unless told otherwise (shard-plan's
/// `--min-batch`): starting a batch in a running stack costs a few seconds
/// (compose run, the runner's start-up); ten keeps that small.
pub const DEFAULT_MIN_BATCH: f64 = 10.0;

/// `--batches auto` with no duration recorded at all cuts this many batches
/// a stack. Every test is then estimated at the same second, so a floor in
/// seconds says nothing of real time; bench/sim found 4 a stack ahead of the
/// guided rule both on generated 5,000-test suites and on the example, whose
/// batches pay 2.5 s each for pytest's start.
pub const BLIND_BATCHES_PER_STACK: u32 = 4;

impl BatchRule {
    /// What `--batches auto` cuts for `stacks` stacks: the guided rule with
    /// [`GUIDED_SHARE`] and `floor`; when no duration was recorded (`blind`),
    /// [`BLIND_BATCHES_PER_STACK`] batches a stack (one a unit, if fewer).
    pub fn auto(stacks: u32, floor: u64, blind: bool, units: usize) -> BatchRule {
        if blind && units > 0 {
            let units = u32::try_from(units).unwrap_or(u32::MAX);
            return BatchRule::Count(stacks.saturating_mul(BLIND_BATCHES_PER_STACK).min(units));
        }
        BatchRule::Guided {
            stacks,
            share: GUIDED_SHARE,
            floor,
        }
    }

    /// Batch `batch`'s target nanoseconds, opened with `remaining` of `total` unplanned.
    fn target(self, batch: u32, remaining: u64, total: u64) -> u64 {
        match self {
            BatchRule::Guided {
                stacks,
                share,
                floor,
            } => (remaining / (u64::from(share.max(1)) * u64::from(stacks.max(1)))).max(floor),
            BatchRule::Count(count) => {
                let (count, batch) = (u128::from(count), u128::from(batch));
                let parts = count * (count + 1) / 2;
                (u128::from(total) * (count - batch + 1) / parts) as u64
            }
        }
    }

    /// Whether batch `batch` may open at all.
    fn may_open(self, batch: u32) -> bool {
        match self {
            BatchRule::Guided { .. } => true,
            BatchRule::Count(count) => batch <= count,
        }
    }

    /// Whether batch `batch` must close with `left` units still to place:
    /// every batch still to come needs one.
    fn must_close(self, batch: u32, left: usize) -> bool {
        match self {
            BatchRule::Guided { .. } => false,
            BatchRule::Count(count) => left <= (count - batch) as usize,
        }
    }
}

/// Deals units out to shards; sorts them once for any number of shards.
pub struct Balancer<'u, 'a> {
    units: &'u Units<'a>,
    /// Units longest first, ties by key: the order they are dealt in.
    order: Vec<u32>,
    /// Each unit's place in `order`, to break ties later on.
    rank: Vec<u32>,
}

/// How many rounds of moves and swaps [`Balancer::plan`] tries at most, so
/// that huge suites (where dealing alone is already within a hair of the
/// optimum) stay fast.
const MAX_IMPROVEMENTS: usize = 1000;

/// Each round looks at up to every unit; this caps the rounds times the units.
const IMPROVEMENT_BUDGET: usize = 20_000_000;

impl<'u, 'a> Balancer<'u, 'a> {
    pub fn new(units: &'u Units<'a>) -> Self {
        let mut order: Vec<u32> = (0..units.keys.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            units.weights[b]
                .cmp(&units.weights[a])
                .then_with(|| units.keys[a].cmp(units.keys[b]))
        });
        let mut rank = vec![0; order.len()];
        for (place, &unit) in order.iter().enumerate() {
            rank[unit as usize] = place as u32;
        }
        Balancer { units, order, rank }
    }

    pub fn units(&self) -> usize {
        self.order.len()
    }

    /// The longest unit's nanoseconds: no plan can be shorter.
    pub fn longest_unit(&self) -> u64 {
        self.order
            .first()
            .map_or(0, |&u| self.units.weights[u as usize])
    }

    /// All units' nanoseconds together.
    pub fn total(&self) -> u64 {
        self.units.weights.iter().sum()
    }

    /// No plan on `shards` shards can have a shorter longest shard than this.
    pub fn lower_bound(&self, shards: u32) -> u64 {
        self.longest_unit()
            .max(self.total().div_ceil(u64::from(shards.max(1))))
    }

    /// The plan on `shards` shards, none of them empty.
    pub fn plan(&self, shards: u32) -> Result<Plan, TooManyShards> {
        if shards == 0 || shards as usize > self.units() {
            return Err(TooManyShards {
                shards,
                units: self.units(),
            });
        }
        let mut shard_of_unit = self.deal(shards);
        self.improve(shards, &mut shard_of_unit);
        let mut loads = vec![
            Load {
                nanos: 0,
                tests: 0,
                units: 0,
            };
            shards as usize
        ];
        for (unit, &shard) in shard_of_unit.iter().enumerate() {
            let load = &mut loads[shard as usize];
            load.nanos += self.units.weights[unit];
            load.tests += self.units.tests[unit];
            load.units += 1;
        }
        Ok(Plan {
            shard_of: self
                .units
                .unit_of
                .iter()
                .map(|&unit| shard_of_unit[unit as usize] + 1)
                .collect(),
            shards: loads,
        })
    }

    /// The plan on the fewest shards whose longest shard takes at most
    /// `target` nanoseconds, up to `max_shards` (and never more shards than
    /// units). When even that is not enough, the plan on that many shards.
    pub fn auto(&self, target: u64, max_shards: u32) -> Result<Plan, TooManyShards> {
        let most = max_shards.min(self.units().try_into().unwrap_or(u32::MAX));
        let fewest = self.total().div_ceil(target.max(1)).max(1);
        let fewest = u32::try_from(fewest).unwrap_or(u32::MAX).min(most);
        for shards in fewest..most {
            let plan = self.plan(shards)?;
            if plan.longest() <= target {
                return Ok(plan);
            }
        }
        self.plan(most.max(1))
    }

    /// The suite cut into batches for a queue: units longest first, batch
    /// sizes shrinking as `rule` says, so that stacks taking the batches in
    /// order, each as it comes free, finish together. Batch 1 is taken first.
    pub fn batches(&self, rule: BatchRule) -> Result<Plan, TooManyShards> {
        if let BatchRule::Count(count) = rule {
            if count == 0 || count as usize > self.units() {
                return Err(TooManyShards {
                    shards: count,
                    units: self.units(),
                });
            }
        }
        let total = self.total();
        let mut batch_of_unit = vec![0u32; self.units()];
        let mut loads: Vec<Load> = Vec::new();
        // The open batch's target, set when it opens.
        let mut target = 0;
        let mut remaining = total;
        for (placed, &unit) in self.queue_order().iter().enumerate() {
            let opened = loads.len() as u32;
            let close = loads.last().is_none_or(|load| {
                load.nanos >= target || rule.must_close(opened, self.units() - placed)
            });
            if close && rule.may_open(opened + 1) {
                loads.push(Load {
                    nanos: 0,
                    tests: 0,
                    units: 0,
                });
                target = rule.target(opened + 1, remaining, total);
            }
            let weight = self.units.weights[unit as usize];
            let load = loads.last_mut().expect("a batch is open");
            load.nanos += weight;
            load.tests += self.units.tests[unit as usize];
            load.units += 1;
            batch_of_unit[unit as usize] = loads.len() as u32;
            remaining -= weight;
        }
        Ok(Plan {
            shard_of: self
                .units
                .unit_of
                .iter()
                .map(|&unit| batch_of_unit[unit as usize])
                .collect(),
            shards: loads,
        })
    }

    /// The order units join batches: longest first, as for shards, but equal
    /// ones in an order scrambled by a hash of their key. Equal weights mean
    /// estimates (no durations), and tests next to each other by id are often
    /// alike (one slow module, one slow parametrization): consecutive units
    /// fill one batch, so in id order they would pile into the same one.
    fn queue_order(&self) -> Vec<u32> {
        let mut order = self.order.clone();
        let weights = &self.units.weights;
        order.sort_by_cached_key(|&unit| {
            let key = self.units.keys[unit as usize];
            (Reverse(weights[unit as usize]), stable_hash(key), key)
        });
        order
    }

    /// Longest unit first onto the least loaded shard (lowest number on ties).
    fn deal(&self, shards: u32) -> Vec<u32> {
        let mut shard_of_unit = vec![0; self.units()];
        let mut heap: BinaryHeap<Reverse<(u64, u32)>> =
            (0..shards).map(|shard| Reverse((0, shard))).collect();
        for &unit in &self.order {
            let Reverse((load, shard)) = heap.pop().expect("at least one shard");
            shard_of_unit[unit as usize] = shard;
            heap.push(Reverse((load + self.units.weights[unit as usize], shard)));
        }
        shard_of_unit
    }

    /// Shorten the longest shard by moving one unit from it to the least
    /// loaded shard, or swapping a unit of each, while that helps.
    fn improve(&self, shards: u32, shard_of_unit: &mut [u32]) {
        let weights = &self.units.weights;
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); shards as usize];
        let mut loads = vec![0u64; shards as usize];
        for &unit in &self.order {
            let shard = shard_of_unit[unit as usize] as usize;
            members[shard].push(unit);
            loads[shard] += weights[unit as usize];
        }
        let bound = self.lower_bound(shards);
        let rounds = MAX_IMPROVEMENTS.min(IMPROVEMENT_BUDGET / self.units().max(1));
        for _ in 0..rounds {
            let full = (0..shards as usize)
                .max_by_key(|&s| (loads[s], Reverse(s)))
                .expect("at least one shard");
            let empty = (0..shards as usize)
                .min_by_key(|&s| (loads[s], s))
                .expect("at least one shard");
            // Within a ten-thousandth of the best possible: not worth more work.
            if loads[full] - bound <= bound / 10_000 {
                return;
            }
            let gap = loads[full] - loads[empty];
            let Some((from, to)) = self.best_exchange(&members[full], &members[empty], gap) else {
                return;
            };
            let moved = weights[from as usize] - to.map_or(0, |unit| weights[unit as usize]);
            loads[full] -= moved;
            loads[empty] += moved;
            shard_of_unit[from as usize] = empty as u32;
            members[full].retain(|&unit| unit != from);
            members[empty].push(from);
            if let Some(to) = to {
                shard_of_unit[to as usize] = full as u32;
                members[empty].retain(|&unit| unit != to);
                members[full].push(to);
            }
        }
    }

    /// The unit of `full` to move to `empty` (and the unit of `empty` to take
    /// back, if any) that brings both closest to half the `gap`; `None` when
    /// no exchange makes the fuller of the two shorter.
    fn best_exchange(&self, full: &[u32], empty: &[u32], gap: u64) -> Option<(u32, Option<u32>)> {
        let weights = &self.units.weights;
        // Taking nothing back is a plain move.
        let mut back: Vec<Option<u32>> = std::iter::once(None)
            .chain(empty.iter().copied().map(Some))
            .collect();
        let weight = |unit: Option<u32>| unit.map_or(0, |u| weights[u as usize]);
        let rank = |unit: Option<u32>| unit.map_or(0, |u| self.rank[u as usize] + 1);
        back.sort_unstable_by_key(|&unit| (weight(unit), rank(unit)));
        let mut best: Option<(u64, u32, u32, u32, Option<u32>)> = None;
        for &from in full {
            let given = weights[from as usize];
            // The exchange moves `given - taken`; ideally half the gap.
            let ideal = given.saturating_sub(gap / 2);
            let at = back.partition_point(|&unit| weight(unit) < ideal);
            for &to in back[at.saturating_sub(1)..(at + 1).min(back.len())].iter() {
                let taken = weight(to);
                if taken >= given || given - taken >= gap {
                    continue;
                }
                let moved = given - taken;
                let miss = (2 * moved).abs_diff(gap);
                let candidate = (miss, self.rank[from as usize], rank(to), from, to);
                if best.is_none_or(|b| (b.0, b.1, b.2) > (candidate.0, candidate.1, candidate.2)) {
                    best = Some(candidate);
                }
            }
        }
        best.map(|(_, _, _, from, to)| (from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of pseudo-random numbers (xorshift), so tests
    /// can shuffle and generate suites without a dependency.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn shuffle<T>(&mut self, items: &mut [T]) {
            for i in (1..items.len()).rev() {
                items.swap(i, (self.next() % (i as u64 + 1)) as usize);
            }
        }
    }

    fn plan(ids: &[&str], seconds: &[f64], by: GroupBy, shards: u32) -> Plan {
        let units = group(ids, seconds, by);
        Balancer::new(&units).plan(shards).unwrap()
    }

    /// Each test with its shard, sorted by id: the plan without input order.
    fn by_id(ids: &[&str], plan: &Plan) -> Vec<(String, u32)> {
        let mut pairs: Vec<_> = ids
            .iter()
            .zip(&plan.shard_of)
            .map(|(id, &shard)| (id.to_string(), shard))
            .collect();
        pairs.sort();
        pairs
    }

    fn suite(random: &mut Random, tests: usize) -> (Vec<String>, Vec<f64>) {
        let ids = (0..tests)
            .map(|i| format!("tests/test_{}.py::Test{}::test_{}", i % 37, i % 5, i))
            .collect();
        // Many equal durations, so that ties really happen.
        let seconds = (0..tests)
            .map(|_| (random.next() % 20) as f64 / 4.0)
            .collect();
        (ids, seconds)
    }

    #[test]
    fn node_id_parts() {
        let parts = Parts::of("t/test_x.py::A::B::test_c[a::b[1]]");
        assert_eq!(parts.function(), "t/test_x.py::A::B::test_c");
        assert_eq!(parts.module(), "t/test_x.py");
        assert_eq!(parts.innermost_class(), Some("t/test_x.py::A::B"));
        assert_eq!(parts.outermost_class(), Some("t/test_x.py::A"));
        let parts = Parts::of("t.py::test_f[x]");
        assert_eq!(parts.module(), "t.py");
        assert_eq!(parts.innermost_class(), None);
        assert_eq!(parts.outermost_class(), None);
        assert_eq!(
            Parts::of("t.py::A::test").outermost_class(),
            Some("t.py::A")
        );
        assert_eq!(Parts::of("t.py").module(), "t.py");
    }

    #[test]
    fn plan_does_not_depend_on_input_order() {
        let mut random = Random(7);
        let (ids, seconds) = suite(&mut random, 500);
        for by in [GroupBy::Test, GroupBy::Class, GroupBy::Module] {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let first = by_id(&ids, &plan(&ids, &seconds, by, 7));
            let mut pairs: Vec<(&str, f64)> = ids.iter().copied().zip(seconds.clone()).collect();
            for _ in 0..5 {
                random.shuffle(&mut pairs);
                let (ids, seconds): (Vec<&str>, Vec<f64>) = pairs.iter().copied().unzip();
                assert_eq!(by_id(&ids, &plan(&ids, &seconds, by, 7)), first, "{by:?}");
            }
        }
    }

    #[test]
    fn longest_first_onto_the_least_loaded() {
        let ids = ["a", "b", "c", "d", "e"];
        let p = plan(&ids, &[3.0, 3.0, 2.0, 2.0, 2.0], GroupBy::Test, 2);
        // Dealing alone gives 3+2+2 and 3+2; swapping a 3 for a 2 gives 6 and 6.
        assert_eq!(p.longest(), nanos(6.0));
        assert_eq!(p.shards.iter().map(|s| s.tests).sum::<usize>(), 5);
    }

    #[test]
    fn swaps_beat_dealing_alone() {
        // Dealing gives {8,5,3} = 16 and {7,6} = 13; swapping 8 for 7 gives 15 and 14.
        let ids = ["a", "b", "c", "d", "e"];
        let p = plan(&ids, &[8.0, 7.0, 6.0, 5.0, 3.0], GroupBy::Test, 2);
        let loads: Vec<f64> = p.shards.iter().map(|s| seconds(s.nanos)).collect();
        assert_eq!(p.longest(), nanos(15.0), "{loads:?}");
    }

    #[test]
    fn free_tests_still_spread_out() {
        let ids = ["a", "b", "c", "d"];
        let p = plan(&ids, &[0.0; 4], GroupBy::Test, 2);
        assert_eq!(p.shards.iter().map(|s| s.tests).collect::<Vec<_>>(), [2, 2]);
    }

    #[test]
    fn estimates_come_from_the_nearest_neighbours() {
        let ids = [
            "t.py::test_p[1]",
            "t.py::test_p[2]",
            "t.py::test_p[3]",
            "t.py::A::test_a",
            "t.py::A::test_b",
            "t.py::A::test_new",
            "t.py::test_f",
            "t.py::test_new",
            "u.py::test_u",
            "v.py::test_new",
        ];
        let known = [
            Some(2.0),
            Some(4.0),
            None,
            Some(10.0),
            Some(20.0),
            None,
            Some(1.0),
            None,
            Some(100.0),
            None,
        ];
        let e = estimate(&ids, &known);
        assert_eq!(e.estimated, 4);
        // Parametrization: median of 2 and 4; class: median of 10 and 20;
        // module: median of 2, 4, 10, 20, 1; nothing near: median of all six.
        assert_eq!(
            [e.seconds[2], e.seconds[5], e.seconds[7], e.seconds[9]],
            [3.0, 15.0, 4.0, 7.0]
        );
        assert_eq!(e.seconds[8], 100.0);
    }

    #[test]
    fn nothing_known_is_one_second_each() {
        let e = estimate(&["a", "b"], &[None, None]);
        assert_eq!(e.seconds, [1.0, 1.0]);
    }

    #[test]
    fn grouping_keeps_units_together() {
        let ids = [
            "a.py::A::test_1",
            "a.py::A::B::test_2",
            "a.py::test_3",
            "b.py::A::test_4",
            "a.py::A::test_5[x]",
        ];
        let seconds = [1.0; 5];
        let class = group(&ids, &seconds, GroupBy::Class);
        assert_eq!(class.keys, ["a.py::A", "a.py::test_3", "b.py::A"]);
        assert_eq!(class.unit_of, [0, 0, 1, 2, 0]);
        assert_eq!(class.weights, [nanos(3.0), nanos(1.0), nanos(1.0)]);
        let module = group(&ids, &seconds, GroupBy::Module);
        assert_eq!(module.keys, ["a.py", "b.py"]);
        assert_eq!(module.tests, [4, 1]);
        let p = Balancer::new(&module).plan(2).unwrap();
        assert_eq!(p.shard_of, [1, 1, 1, 2, 1]);
    }

    #[test]
    fn no_empty_shards() {
        let ids = ["a.py::t1", "a.py::t2", "b.py::t"];
        let units = group(&ids, &[1.0, 1.0, 1.0], GroupBy::Module);
        let balancer = Balancer::new(&units);
        assert_eq!(
            balancer.plan(3),
            Err(TooManyShards {
                shards: 3,
                units: 2
            })
        );
        let mut random = Random(3);
        let (ids, mut seconds) = suite(&mut random, 40);
        seconds[0] = 1000.0;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for shards in 1..=40 {
            let p = plan(&ids, &seconds, GroupBy::Test, shards);
            assert!(p.shards.iter().all(|s| s.tests > 0), "{shards}: {p:?}");
        }
    }

    #[test]
    fn auto_picks_the_fewest_shards_that_fit() {
        let ids: Vec<String> = (0..12).map(|i| format!("t.py::test_{i:02}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let units = group(&ids, &[10.0; 12], GroupBy::Test);
        let balancer = Balancer::new(&units);
        assert_eq!(balancer.auto(nanos(40.0), 100).unwrap().shards.len(), 3);
        assert_eq!(balancer.auto(nanos(39.0), 100).unwrap().shards.len(), 4);
        assert_eq!(balancer.auto(nanos(1000.0), 100).unwrap().shards.len(), 1);
        // Cannot fit: as many shards as allowed.
        assert_eq!(balancer.auto(nanos(5.0), 100).unwrap().shards.len(), 12);
        assert_eq!(balancer.auto(nanos(5.0), 6).unwrap().shards.len(), 6);
    }

    #[test]
    fn never_worse_than_dealing_alone_on_generated_suites() {
        let mut random = Random(11);
        for round in 0..20 {
            let (ids, seconds) = suite(&mut random, 50 + round * 37);
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            for by in [GroupBy::Test, GroupBy::Module] {
                let units = group(&ids, &seconds, by);
                let balancer = Balancer::new(&units);
                let shards = (1 + round as u32 % 9).min(units.keys.len() as u32);
                let dealt = balancer.deal(shards);
                let mut dealt_loads = vec![0; shards as usize];
                for (unit, &shard) in dealt.iter().enumerate() {
                    dealt_loads[shard as usize] += units.weights[unit];
                }
                let p = balancer.plan(shards).unwrap();
                assert!(p.longest() <= *dealt_loads.iter().max().unwrap());
                assert!(p.longest() >= balancer.lower_bound(shards));
            }
        }
    }

    fn batch_plan(seconds: &[f64], rule: BatchRule) -> Plan {
        let ids: Vec<String> = (0..seconds.len())
            .map(|i| format!("t.py::test_{i:03}"))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let units = group(&ids, seconds, GroupBy::Test);
        Balancer::new(&units).batches(rule).unwrap()
    }

    #[test]
    fn guided_batches_shrink_to_the_floor_and_hold_every_test_once() {
        let mut random = Random(11);
        let seconds: Vec<f64> = (0..400)
            .map(|_| (random.next() % 100) as f64 / 10.0)
            .collect();
        let floor = nanos(5.0);
        let plan = batch_plan(
            &seconds,
            BatchRule::Guided {
                stacks: 4,
                share: GUIDED_SHARE,
                floor,
            },
        );
        let loads: Vec<u64> = plan.shards.iter().map(|load| load.nanos).collect();
        let total: u64 = seconds.iter().map(|&s| nanos(s).max(1)).sum();
        assert_eq!(loads.iter().sum::<u64>(), total);
        assert_eq!(plan.shards.iter().map(|l| l.tests).sum::<usize>(), 400);
        // The first holds about an eighth of the suite (1/(2 x 4 stacks)).
        assert!(loads[0] >= total / 8 && loads[0] < total / 8 + nanos(10.0));
        // Each batch but the last reaches its floor, and they never grow by
        // more than one test's worth (the longest tests come first).
        let (last, rest) = loads.split_last().unwrap();
        assert!(rest.iter().all(|&load| load >= floor), "{loads:?}");
        assert!(*last <= floor + nanos(10.0));
        assert!(
            loads.windows(2).all(|w| w[1] <= w[0] + nanos(10.0)),
            "{loads:?}"
        );
        assert!(
            plan.shard_of
                .iter()
                .all(|&b| b >= 1 && b as usize <= loads.len())
        );
    }

    #[test]
    fn a_batch_count_gives_that_many_batches_in_shrinking_steps() {
        let seconds = vec![1.0; 60];
        let plan = batch_plan(&seconds, BatchRule::Count(3));
        let tests: Vec<usize> = plan.shards.iter().map(|load| load.tests).collect();
        // 3, 2 and 1 parts of 60 seconds.
        assert_eq!(tests, [30, 20, 10]);
        // Fewer units than batches would leave one empty.
        let units = group(&["a", "b"], &[1.0, 1.0], GroupBy::Test);
        assert_eq!(
            Balancer::new(&units).batches(BatchRule::Count(3)),
            Err(TooManyShards {
                shards: 3,
                units: 2
            })
        );
        // Every batch gets a unit even when the first could take them all.
        let plan = batch_plan(&[100.0, 1.0, 1.0, 1.0], BatchRule::Count(4));
        assert_eq!(
            plan.shards.iter().map(|l| l.tests).collect::<Vec<_>>(),
            [1, 1, 1, 1]
        );
    }

    #[test]
    fn batches_do_not_depend_on_input_order() {
        // Every CI node cuts its own queue, and --node slices it by batch
        // number: ties (many here) must be broken the same way on each.
        let mut random = Random(13);
        let (ids, seconds) = suite(&mut random, 400);
        let rules = [
            BatchRule::Guided {
                stacks: 3,
                share: GUIDED_SHARE,
                floor: nanos(2.0),
            },
            BatchRule::Count(12),
        ];
        for rule in rules {
            let batch_by_id = |pairs: &[(&str, f64)]| {
                let (ids, seconds): (Vec<&str>, Vec<f64>) = pairs.iter().copied().unzip();
                let units = group(&ids, &seconds, GroupBy::Test);
                let plan = Balancer::new(&units).batches(rule).unwrap();
                by_id(&ids, &plan)
            };
            let mut pairs: Vec<(&str, f64)> = ids
                .iter()
                .map(String::as_str)
                .zip(seconds.clone())
                .collect();
            let first = batch_by_id(&pairs);
            for _ in 0..3 {
                random.shuffle(&mut pairs);
                assert_eq!(batch_by_id(&pairs), first, "{rule:?}");
            }
        }
    }

    #[test]
    fn without_durations_neighbours_by_id_spread_over_the_batches() {
        // One slow module among quick ones, all estimated alike: in id order
        // the slow module would be one batch, the queue's tail.
        let ids: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "tests/test_{}.py::test_{i:02}",
                    if i < 10 { "slow" } else { "quick" }
                )
            })
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let units = group(&ids, &[1.0; 40], GroupBy::Test);
        let plan = Balancer::new(&units).batches(BatchRule::Count(4)).unwrap();
        let slow_per_batch: Vec<usize> = (1..=4)
            .map(|batch| {
                ids.iter()
                    .zip(&plan.shard_of)
                    .filter(|(id, b)| **b == batch && id.contains("slow"))
                    .count()
            })
            .collect();
        assert!(slow_per_batch.iter().all(|&n| n < 10), "{slow_per_batch:?}");
        assert!(
            slow_per_batch.iter().filter(|&&n| n > 0).count() >= 3,
            "{slow_per_batch:?}"
        );
    }
}
