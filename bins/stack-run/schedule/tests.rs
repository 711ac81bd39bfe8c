//! The scheduler's decisions, against a stack source of this test's own: no
//! Docker. Each fake stack records what was done to it, and a script says
//! how each unit's command ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use shared::results::{ShardResult, Status};

use super::*;
use crate::engine::signals::Stop;
use crate::model::layout::Layout;
use crate::model::names::Names;
use crate::model::report::Report;
use crate::model::verdict::Happened;

/// How the fake's commands end: given the unit's number and whether it is
/// a rerun, what happened.
type Script = dyn Fn(u32, bool, &Limits) -> Happened + Sync;
/// Whether a pooled stack is still healthy after its `n`th command.
type Health = dyn Fn(usize) -> bool + Sync;
/// Whether stack `project` fails to come up.
type UpFails = dyn Fn(&str) -> bool + Sync;

/// A stack source whose stacks are records.
struct Fake<'a> {
    out: &'a Path,
    script: &'a Script,
    healthy_after: &'a Health,
    up_fails: &'a UpFails,
    /// What happened to the stacks, in order: `up P`, `exec P 3`, `down P`…
    events: Mutex<Vec<String>>,
    /// Stacks created and not yet down or kept; the most there were at once.
    alive: AtomicUsize,
    most_alive: AtomicUsize,
}

struct FakeStack<'f, 'a> {
    fake: &'f Fake<'a>,
    project: String,
    runs: AtomicUsize,
}

impl Fake<'_> {
    fn record(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl<'a> StackSource for Fake<'a> {
    type Stack<'s>
        = FakeStack<'s, 'a>
    where
        Self: 's;

    fn create(&self, place: Place, _log: Log) -> Result<FakeStack<'_, 'a>, String> {
        let alive = self.alive.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_alive.fetch_max(alive, Ordering::SeqCst);
        self.record(format!("create {}", place.project));
        Ok(FakeStack {
            fake: self,
            project: place.project,
            runs: AtomicUsize::new(0),
        })
    }

    fn note_seeds(&self, _log: &Log) {}

    fn build(&self) -> Option<&Built> {
        None
    }
}

impl Host for FakeStack<'_, '_> {
    fn project(&self) -> &str {
        &self.project
    }

    fn up(
        &mut self,
        _limits: &Limits,
        _beside: Option<Beside>,
    ) -> Result<Option<Background>, String> {
        self.fake.record(format!("up {}", self.project));
        match (self.fake.up_fails)(&self.project) {
            true => Err("db exited with status 1".into()),
            false => Ok(None),
        }
    }

    fn exec(&self, job: &Job, _log: &Log, limits: &Limits, _on_line: OnLine) -> (Happened, f64) {
        let var = |name: &str| job.env.iter().find(|(k, _)| k == name).unwrap().1.clone();
        let unit: u32 = var("SHARDSTACK_SHARD").parse().unwrap();
        let rerun = self.project.ends_with("-rerun");
        self.fake.record(format!("exec {} {unit}", self.project));
        self.runs.fetch_add(1, Ordering::SeqCst);
        // Long enough for the workers' stacks to overlap.
        std::thread::sleep(Duration::from_millis(20));
        let happened = (self.fake.script)(unit, rerun, limits);
        if happened == Happened::Exited(Some(1)) {
            let folder = self.fake.out.join(format!("shard-{unit}"));
            let folder = if rerun { folder.join("rerun") } else { folder };
            let case =
                format!(r#"<testcase classname="t" name="test_{unit}"><failure/></testcase>"#);
            std::fs::write(
                folder.join("junit.xml"),
                format!("<testsuite>{case}</testsuite>"),
            )
            .unwrap();
        }
        (happened, 0.02)
    }

    fn healthy(&self) -> bool {
        (self.fake.healthy_after)(self.runs.load(Ordering::SeqCst))
    }

    fn save_logs(&self, _folder: &Path) {
        self.fake.record(format!("logs {}", self.project));
    }

    fn serve(&self, _beside: Beside) -> Result<Background, String> {
        Err("the fake source runs no sessions".into())
    }

    fn kill_resident(&self) {
        self.fake.record(format!("kill {}", self.project));
    }

    fn keep(self) -> String {
        self.fake.alive.fetch_sub(1, Ordering::SeqCst);
        self.fake.record(format!("keep {}", self.project));
        format!("compose -p {}", self.project)
    }

    fn down(self) -> (Result<(), String>, f64) {
        self.fake.alive.fetch_sub(1, Ordering::SeqCst);
        self.fake.record(format!("down {}", self.project));
        (Ok(()), 0.01)
    }
}

/// The lines a report was told.
#[derive(Default)]
struct Told(Mutex<Vec<String>>);

impl Report for Told {
    fn state(&self, line: u32, state: &str, detail: &str, done: bool) {
        let end = if done { " (done)" } else { "" };
        self.0
            .lock()
            .unwrap()
            .push(format!("{line}: {state} {detail}{end}"));
    }

    fn output(&self, _line: u32, _text: &str) {}

    fn note(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }

    fn warn(&self, text: &str) {
        self.0.lock().unwrap().push(format!("warning: {text}"));
    }
}

/// A run's settings: fresh stacks, no timeout, no keeping, no reruns.
fn config(units: u32) -> Config {
    Config {
        task: Task {
            command: vec!["pytest".into(), "@{tests}".into()],
            env: Vec::new(),
            shard_count: units,
        },
        timeout: None,
        keep_on_failure: false,
        rerun_failed: false,
        stacks: None,
        session: None,
    }
}

/// What a run came to, and what the fake saw.
struct Ran {
    results: BTreeMap<u32, ShardResult>,
    /// In the order they were handed over.
    order: Vec<u32>,
    kept: bool,
    events: Vec<String>,
    told: Vec<String>,
    most_alive: usize,
}

/// Run `units` units (each a test `t::test_K`) as `config` says, on
/// `workers`, the fake's commands ending as `script` says.
fn run(config: &Config, units: u32, workers: usize, script: &Script) -> Ran {
    run_with(
        config,
        units,
        workers,
        script,
        (&|_| true, &|_| false),
        &Stop::default(),
    )
}

fn run_with(
    config: &Config,
    units: u32,
    workers: usize,
    script: &Script,
    (healthy_after, up_fails): (&Health, &UpFails),
    stop: &Stop,
) -> Ran {
    let out = tempfile::tempdir().unwrap();
    let layout = Layout::new(out.path()).unwrap();
    let plan: Plan = (1..=units)
        .map(|unit| (unit, vec![format!("t.py::test_{unit}")]))
        .collect();
    let selected: Vec<u32> = plan.keys().copied().collect();
    layout.create(&plan, &selected, false).unwrap();
    let names = Names {
        prefix: "t".into(),
        run_id: "r".into(),
    };
    let fake = Fake {
        out: out.path(),
        script,
        healthy_after,
        up_fails,
        events: Mutex::default(),
        alive: AtomicUsize::new(0),
        most_alive: AtomicUsize::new(0),
    };
    let told = Arc::new(Told::default());
    let report: Arc<dyn Report> = told.clone();
    let run = Run {
        names: &names,
        layout: &layout,
        report,
        stop,
        started: Instant::now(),
        starting: "db".into(),
    };
    let scheduler = Scheduler::new(&fake, config, run);
    let mut order = Vec::new();
    let outcome = scheduler.run(&plan, &selected, workers, |result| order.push(result.shard));
    assert_eq!(fake.alive.load(Ordering::SeqCst), 0, "a stack was left up");
    Ran {
        results: outcome.results.into_iter().map(|r| (r.shard, r)).collect(),
        order,
        kept: outcome.kept,
        events: fake.events(),
        told: told.0.lock().unwrap().clone(),
        most_alive: fake.most_alive.load(Ordering::SeqCst),
    }
}

fn passes(_: u32, _: bool, _: &Limits) -> Happened {
    Happened::Exited(Some(0))
}

#[test]
fn every_shard_runs_in_a_stack_of_its_own_torn_down_after_it() {
    let ran = run(&config(3), 3, 2, &passes);
    assert_eq!(ran.order.len(), 3);
    for shard in 1..=3 {
        let result = &ran.results[&shard];
        assert_eq!(result.first.status, Status::Passed);
        assert_eq!(result.first.project, format!("t-r-s{shard}"));
        assert_eq!(result.stack, None);
        let events: Vec<_> = ran
            .events
            .iter()
            .filter(|e| {
                e.ends_with(&format!("t-r-s{shard}")) || e.contains(&format!("t-r-s{shard} "))
            })
            .collect();
        assert_eq!(
            events,
            [
                &format!("create t-r-s{shard}"),
                &format!("up t-r-s{shard}"),
                &format!("exec t-r-s{shard} {shard}"),
                &format!("down t-r-s{shard}"),
            ]
        );
    }
    assert!(
        ran.most_alive <= 2,
        "{} stacks at once on 2 workers",
        ran.most_alive
    );
}

#[test]
fn a_dead_stack_is_replaced_and_its_batch_reported() {
    let mut config = config(4);
    config.stacks = Some(1);
    // Batch 2's container dies under it.
    let script = |unit: u32, _: bool, _: &Limits| match unit {
        2 => Happened::ContainerStopped(Some(137)),
        _ => Happened::Exited(Some(0)),
    };
    let ran = run(&config, 4, 1, &script);
    let second = &ran.results[&2].first;
    assert_eq!(second.status, Status::Error);
    assert!(
        second
            .message
            .as_deref()
            .unwrap()
            .contains("stopped under the command")
    );
    // Its stack went down with it (its logs saved first); batch 3 got a new one.
    assert_eq!(second.project, "t-r-k1");
    assert!(second.down_seconds > 0.0);
    assert_eq!(ran.results[&3].first.project, "t-r-k1-2");
    assert_eq!(ran.results[&4].first.project, "t-r-k1-2");
    for unit in [1, 3, 4] {
        assert_eq!(ran.results[&unit].first.status, Status::Passed);
        assert_eq!(ran.results[&unit].stack, Some(1));
    }
    let events = ran.events.join("\n");
    assert!(
        events.contains("exec t-r-k1 2\nlogs t-r-k1\ndown t-r-k1\ncreate t-r-k1-2"),
        "{events}"
    );
    // The last batch a stack ran carries its teardown.
    assert!(ran.results[&4].first.down_seconds > 0.0);
    assert_eq!(ran.results[&3].first.down_seconds, 0.0);
}

#[test]
fn a_stack_whose_sidecars_died_is_replaced_before_the_next_batch() {
    let mut config = config(3);
    config.stacks = Some(1);
    // Unhealthy once it has run one batch.
    let healthy = |runs| runs < 1;
    let ran = run_with(
        &config,
        3,
        1,
        &passes,
        (&healthy, &|_| false),
        &Stop::default(),
    );
    let projects: Vec<&str> = (1..=3)
        .map(|u| ran.results[&u].first.project.as_str())
        .collect();
    assert_eq!(projects, ["t-r-k1", "t-r-k1-2", "t-r-k1-3"]);
    assert!((1..=3).all(|u| ran.results[&u].first.status == Status::Passed));
}

#[test]
fn a_failed_shards_failed_tests_run_again_in_a_fresh_stack() {
    let mut config = config(2);
    config.rerun_failed = true;
    let script = |unit: u32, rerun: bool, _: &Limits| match (unit, rerun) {
        (1, false) => Happened::Exited(Some(1)),
        _ => Happened::Exited(Some(0)),
    };
    let ran = run(&config, 2, 1, &script);
    let first = &ran.results[&1];
    assert_eq!(first.first.status, Status::Failed);
    let rerun = first.rerun.as_ref().expect("a second attempt");
    assert_eq!(rerun.project, "t-r-s1-rerun");
    assert_eq!(rerun.test_count, 1);
    assert_eq!(rerun.status, Status::Passed);
    assert_eq!(first.final_status(), Status::Passed);
    assert!(ran.results[&2].rerun.is_none());
    let events = ran.events.join("\n");
    assert!(
        events.contains("down t-r-s1\ncreate t-r-s1-rerun"),
        "{events}"
    );
    assert!(
        ran.told
            .iter()
            .any(|t| t == "shard 1: rerunning 1 failed test(s) in a fresh stack")
    );
}

#[test]
fn never_more_than_n_stacks_with_reruns_on_pooled_stacks() {
    let mut config = config(8);
    config.stacks = Some(2);
    config.rerun_failed = true;
    // Every batch fails once, and passes in its fresh stack.
    let script =
        |_: u32, rerun: bool, _: &Limits| Happened::Exited(Some(if rerun { 0 } else { 1 }));
    let ran = run(&config, 8, 2, &script);
    assert_eq!(ran.results.len(), 8);
    for (unit, result) in &ran.results {
        assert_eq!(result.final_status(), Status::Passed, "batch {unit}");
        assert_eq!(
            result.rerun.as_ref().unwrap().project,
            format!("t-r-s{unit}-rerun")
        );
    }
    assert_eq!(ran.most_alive, 2, "{:#?}", ran.events);
}

#[test]
fn a_unit_past_its_timeout_is_a_timeout_and_its_stack_goes() {
    let mut config = config(2);
    config.stacks = Some(1);
    config.timeout = Some(Duration::from_millis(50));
    let script = |unit: u32, _: bool, limits: &Limits| {
        if unit == 2 {
            return Happened::Exited(Some(0));
        }
        while !limits.reached() {
            std::thread::sleep(Duration::from_millis(5));
        }
        Happened::Stopped(limits.cause())
    };
    let ran = run(&config, 2, 1, &script);
    let first = &ran.results[&1].first;
    assert_eq!(first.status, Status::Timeout);
    assert_eq!(first.message.as_deref(), Some("timed out after 0.05s"));
    assert_eq!(ran.results[&2].first.project, "t-r-k1-2");
    assert_eq!(ran.results[&2].first.status, Status::Passed);
}

#[test]
fn keep_on_failure_keeps_a_failed_shards_stack_and_says_how_to_reach_it() {
    let mut config = config(2);
    config.keep_on_failure = true;
    let script =
        |unit: u32, _: bool, _: &Limits| Happened::Exited(Some(if unit == 1 { 1 } else { 0 }));
    let ran = run(&config, 2, 1, &script);
    assert!(ran.kept);
    assert_eq!(ran.results[&1].first.status, Status::Failed);
    let events = ran.events.join("\n");
    assert!(
        events.contains("exec t-r-s1 1\nlogs t-r-s1\nkeep t-r-s1"),
        "{events}"
    );
    assert!(events.contains("down t-r-s2"), "{events}");
    assert!(!events.contains("down t-r-s1"), "{events}");
    assert!(ran.told.iter().any(|t| {
        t.starts_with("shard 1: stack t-r-s1 left running; reach it with `compose -p t-r-s1 ps`")
    }));
}

#[test]
fn a_signal_gives_every_unit_its_line() {
    // The script is `'static`: so is the stop it requests.
    let stop: &'static Stop = Box::leak(Box::default());
    let mut config = config(5);
    config.stacks = Some(2);
    // Batch 1 is stopped by a signal while it runs; the rest never start,
    // but what already started ends.
    let script = |unit: u32, _: bool, limits: &Limits| {
        if unit == 1 {
            stop.request(15);
            return Happened::Stopped(limits.cause());
        }
        Happened::Exited(Some(0))
    };
    let ran = run_with(&config, 5, 2, &script, (&|_| true, &|_| false), stop);
    assert_eq!(ran.results.len(), 5);
    assert_eq!(ran.order.len(), 5, "each unit's result handed over once");
    assert_eq!(ran.results[&1].first.status, Status::Interrupted);
    let never: Vec<u32> = ran
        .results
        .values()
        .filter(|r| r.first.message.as_deref() == Some("never started: the run was interrupted"))
        .map(|r| r.shard)
        .collect();
    assert!(never.len() >= 2, "{never:?}");
    assert!(
        never
            .iter()
            .all(|&u| ran.results[&u].first.status == Status::Interrupted)
    );
    for unit in never {
        assert!(
            ran.told
                .contains(&format!("batch {unit}/5: interrupted (never started)"))
        );
    }
}

#[test]
fn a_pooled_stack_that_does_not_start_fails_its_batch_and_the_next_gets_another() {
    let mut config = config(2);
    config.stacks = Some(1);
    let first_fails = |project: &str| project == "t-r-k1";
    let ran = run_with(
        &config,
        2,
        1,
        &passes,
        (&|_| true, &first_fails),
        &Stop::default(),
    );
    let first = &ran.results[&1].first;
    assert_eq!(first.status, Status::Error);
    assert_eq!(
        first.message.as_deref(),
        Some("the stack could not start: db exited with status 1")
    );
    assert_eq!(ran.results[&2].first.project, "t-r-k1-2");
    assert_eq!(ran.results[&2].first.status, Status::Passed);
    let events = ran.events.join("\n");
    assert!(
        events.contains("up t-r-k1\nlogs t-r-k1\ndown t-r-k1\ncreate t-r-k1-2"),
        "{events}"
    );
    assert!(ran.told.contains(
        &"1: error batch 1: the stack could not start: db exited with status 1".to_string()
    ));
}
