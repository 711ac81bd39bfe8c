//! shard-plan on the collection, durations and JUnit XML that real pytest and
//! pytest-split runs wrote for the small suite in
//! `tests/fixtures/shard-plan/suite/` (see `regenerate.sh` there).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::util::{Dir, fixture, tool};

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("shard-plan/{name}"))).unwrap()
}

fn durations(name: &str) -> String {
    fixture(&format!("shard-plan/{name}")).display().to_string()
}

/// The ids pytest collected, in collection order.
fn collected(name: &str) -> Vec<String> {
    read(name)
        .lines()
        .take_while(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

/// `(shard, id)` pairs of a plan.
fn entries(plan: &str) -> Vec<(u32, String)> {
    plan.lines()
        .map(|line| {
            let (shard, id) = line.split_once('\t').expect("SHARD<TAB>ID");
            (shard.parse().unwrap(), id.to_string())
        })
        .collect()
}

/// Check the plan contract: every collected id exactly once, shards 1..=n
/// each used, grouped by shard, collection order inside a shard.
fn assert_valid(plan: &str, ids: &[String], shards: u32) {
    let entries = entries(plan);
    let planned: BTreeSet<&str> = entries.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(entries.len(), ids.len(), "{plan}");
    assert_eq!(planned, ids.iter().map(String::as_str).collect(), "{plan}");
    let used: Vec<u32> = entries.iter().map(|(s, _)| *s).collect();
    assert!(used.is_sorted(), "not grouped by shard:\n{plan}");
    assert_eq!(
        used.iter().copied().collect::<BTreeSet<_>>(),
        (1..=shards).collect(),
        "{plan}"
    );
    let position = |id: &str| ids.iter().position(|i| i == id).unwrap();
    for pair in entries.windows(2) {
        if pair[0].0 == pair[1].0 {
            assert!(position(&pair[0].1) < position(&pair[1].1), "{plan}");
        }
    }
}

#[test]
fn plans_pytest_collect_output_with_pytest_split_durations() {
    let out = tool("shard-plan")
        .args(["--shards", "3", "--durations", &durations("durations.json")])
        .stdin(read("collect.txt"))
        .succeeds();
    assert_valid(&out.stdout, &collected("collect.txt"), 3);
    // The three shards land within 5 ms of the 0.514 s mean (see the summary test).
    assert_eq!(
        out.stdout,
        "1\ttests/api/test_search.py::test_query[a b]\n\
         1\ttests/api/test_search.py::test_query[x::y]\n\
         1\ttests/test_orders.py::TestOrders::test_create\n\
         1\ttests/test_orders.py::TestOrders::test_cancel\n\
         1\ttests/test_orders.py::test_price[4]\n\
         2\ttests/api/test_search.py::test_query[a]\n\
         2\ttests/api/test_search.py::test_empty\n\
         2\ttests/test_orders.py::TestOrders::test_refund\n\
         2\ttests/test_orders.py::test_price[2]\n\
         2\ttests/test_orders.py::test_price[3]\n\
         3\ttests/api/test_search.py::test_query[long/path]\n\
         3\ttests/test_orders.py::test_price[1]\n\
         3\ttests/test_users.py::TestSignup::test_email\n\
         3\ttests/test_users.py::TestSignup::test_password\n\
         3\ttests/test_users.py::test_login\n\
         3\ttests/test_users.py::test_logout\n"
    );
}

#[test]
fn summary_reports_balance_and_durations() {
    let out = tool("shard-plan")
        .args(["-n", "3", "--summary", "-d", &durations("durations.json")])
        .stdin(read("collect.txt"))
        .succeeds();
    assert_eq!(
        out.stderr,
        "shard    seconds   tests   units\n    \
            1     0.515       5       5\n    \
            2     0.518       5       5\n    \
            3     0.509       6       6\n\
         longest 0.518 s, mean 0.514 s, max/mean 1.008; lower bound 0.514 s = max(longest unit 0.301 s, total 1.541 s / 3)\n\
         durations: 16 of 16 tests recorded, 0 estimated; 0 recorded durations unused (not among the collected tests)\n"
    );
}

#[test]
fn same_plan_whatever_the_input_order() {
    let ids = collected("collect.txt");
    let plan = |ids: &[String]| {
        let out = tool("shard-plan")
            .args(["-n", "4", "-d", &durations("durations.json")])
            .stdin(ids.join("\n"))
            .succeeds();
        assert_valid(&out.stdout, ids, 4);
        let mut entries = entries(&out.stdout);
        entries.sort_by(|a, b| a.1.cmp(&b.1));
        entries
    };
    let first = plan(&ids);
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(plan(&reversed), first);
    let mut rotated = ids.clone();
    rotated.rotate_left(5);
    assert_eq!(plan(&rotated), first);
}

#[test]
fn junit_of_both_families() {
    let ids = collected("collect.txt");
    for report in ["xunit1.xml", "xunit2.xml"] {
        let out = tool("shard-plan")
            .args(["-n", "2", "--summary", "-d", &durations(report)])
            .stdin(read("collect.txt"))
            .succeeds();
        assert_valid(&out.stdout, &ids, 2);
        assert!(
            out.stderr
                .contains("durations: 16 of 16 tests recorded, 0 estimated; 0 recorded"),
            "{report}: {}",
            out.stderr
        );
    }
    // Without its `file` attributes, the same report gives the same plan.
    let dir = Dir::new();
    let stripped = read("xunit1.xml").replace(" file=\"", " data-file=\"");
    let stripped = dir.write("stripped.xml", stripped);
    let plan = |report: &str| {
        tool("shard-plan")
            .args(["-n", "3", "-d", report])
            .stdin(read("collect.txt"))
            .succeeds()
            .stdout
    };
    assert_eq!(
        plan(stripped.to_str().unwrap()),
        plan(&durations("xunit1.xml"))
    );
}

#[test]
fn stale_durations_estimate_new_tests_and_count_removed_ones() {
    // The suite's next version adds tests (a parametrization, a method, a
    // module) and removes one; the durations are those of the old version.
    let out = tool("shard-plan")
        .args([
            "-n",
            "3",
            "-s",
            "-g",
            "test",
            "-d",
            &durations("durations.json"),
        ])
        .stdin(read("collect-v2.txt"))
        .succeeds();
    assert_valid(&out.stdout, &collected("collect-v2.txt"), 3);
    assert!(
        out.stderr.ends_with(
            "durations: 15 of 19 tests recorded, 4 estimated; 1 recorded durations unused (not among the collected tests)\n"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn durations_that_match_almost_nothing_are_a_loud_warning() {
    // Regression (issue 26 item 18): a file whose ids carry another rootdir
    // planned every test at 1 s in silence.
    let dir = Dir::new();
    let prefixed = read("durations.json").replace("\"tests/", "\"src/tests/");
    let file = dir.write("prefixed.json", &prefixed);
    let out = tool("shard-plan")
        .args(["-n", "2", "-s", "-d"])
        .arg(&file)
        .stdin(read("collect.txt"))
        .succeeds();
    let warning = format!(
        "shard-plan: warning: {} matches almost none of the collected tests: it has durations for 0 of the 16 collected tests (0.0%) among its 16 values; its first test is `src/tests/api/test_search.py::test_empty`, the first collected is `tests/api/test_search.py::test_query[a]`: does a path prefix or the rootdir differ?\n",
        file.display()
    );
    assert!(out.stderr.starts_with(&warning), "{}", out.stderr);
    assert!(
        out.stderr.ends_with(
            "durations: 0 of 16 tests recorded, 16 estimated; 16 recorded durations unused (not among the collected tests)\n"
        ),
        "{}",
        out.stderr
    );
    // A subset of the suite, or one shard's report, matches what it can: no warning.
    let subset: String = collected("collect.txt")[..3].join("\n");
    let quiet = tool("shard-plan")
        .args(["-n", "2", "-d", &durations("durations.json")])
        .stdin(subset)
        .succeeds();
    assert_eq!(quiet.stderr, "");
    let one_case = dir.write(
        "shard-1/junit.xml",
        r#"<testsuite><testcase classname="tests.test_users" name="test_login" file="tests/test_users.py" time="0.5"/></testsuite>"#,
    );
    let quiet = tool("shard-plan")
        .args(["-n", "2", "-d", &durations("durations.json"), "-d"])
        .arg(&one_case)
        .stdin(read("collect.txt"))
        .succeeds();
    assert_eq!(quiet.stderr, "");
}

#[test]
fn one_shard_bare_for_pytest_at_file() {
    let plan = tool("shard-plan")
        .args(["-n", "3", "-d", &durations("durations.json")])
        .stdin(read("collect.txt"))
        .succeeds()
        .stdout;
    for k in 1..=3 {
        let shard = tool("shard-plan")
            .args(["-n", "3", "--shard", &k.to_string()])
            .args(["-d", &durations("durations.json")])
            .stdin(read("collect.txt"))
            .succeeds()
            .stdout;
        let expected: String = entries(&plan)
            .into_iter()
            .filter(|(s, _)| *s == k)
            .map(|(_, id)| id + "\n")
            .collect();
        assert_eq!(shard, expected);
    }
    tool("shard-plan")
        .args(["-n", "3", "--shard", "4"])
        .stdin(read("collect.txt"))
        .run()
        .fails_with(2, "--shard 4 is not one of the 3 shards");
}

#[test]
fn group_by_keeps_classes_and_files_together() {
    let ids = collected("collect.txt");
    let shard_of = |plan: &str, prefix: &str| -> BTreeSet<u32> {
        entries(plan)
            .into_iter()
            .filter(|(_, id)| id.starts_with(prefix))
            .map(|(s, _)| s)
            .collect()
    };
    let by_class = tool("shard-plan")
        .args([
            "-n",
            "3",
            "--group-by",
            "class",
            "-d",
            &durations("durations.json"),
        ])
        .stdin(read("collect.txt"))
        .succeeds()
        .stdout;
    assert_valid(&by_class, &ids, 3);
    assert_eq!(
        shard_of(&by_class, "tests/test_orders.py::TestOrders::").len(),
        1
    );
    assert_eq!(
        shard_of(&by_class, "tests/test_users.py::TestSignup::").len(),
        1
    );

    let by_file = tool("shard-plan")
        .args([
            "-n",
            "3",
            "--group-by",
            "file",
            "-d",
            &durations("durations.json"),
        ])
        .stdin(read("collect.txt"))
        .succeeds()
        .stdout;
    assert_valid(&by_file, &ids, 3);
    for file in [
        "tests/api/test_search.py",
        "tests/test_orders.py",
        "tests/test_users.py",
    ] {
        assert_eq!(shard_of(&by_file, file).len(), 1, "{file}");
    }
}

#[test]
fn more_shards_than_units_is_an_error() {
    tool("shard-plan")
        .args(["-n", "4", "--group-by", "module"])
        .stdin(read("collect.txt"))
        .run()
        .fails_with(
            2,
            "shard-plan: --group-by module: 4 shards asked for, but there are only 3 units",
        );
    tool("shard-plan")
        .args(["-n", "17"])
        .stdin(read("collect.txt"))
        .run()
        .fails_with(2, "17 shards asked for, but there are only 16 units");
}

#[test]
fn auto_picks_the_fewest_shards_that_meet_the_target() {
    let shards = |target: &str| {
        let out = tool("shard-plan")
            .args(["--shards", "auto", "--target-seconds", target])
            .args(["-d", &durations("durations.json")])
            .stdin(read("collect.txt"))
            .succeeds();
        let shards = entries(&out.stdout).iter().map(|(s, _)| *s).max().unwrap();
        assert_valid(&out.stdout, &collected("collect.txt"), shards);
        shards
    };
    // 1.541 s in all, the longest test 0.301 s.
    assert_eq!(shards("2"), 1);
    assert_eq!(shards("0.8"), 2);
    assert_eq!(shards("0.52"), 3);
    let capped = tool("shard-plan")
        .args([
            "--shards",
            "auto",
            "--target-seconds",
            "0.1",
            "--max-shards",
            "4",
        ])
        .args(["-d", &durations("durations.json")])
        .stdin(read("collect.txt"))
        .succeeds();
    assert_eq!(entries(&capped.stdout).last().unwrap().0, 4);
    assert!(capped.stderr.contains("no plan meets --target-seconds 0.1"));
    tool("shard-plan")
        .args(["--shards", "auto"])
        .stdin(read("collect.txt"))
        .run()
        .fails_with(2, "--target-seconds");
}

#[test]
fn malformed_durations_name_file_and_position() {
    let dir = Dir::new();
    let cases = [
        (
            "bad.json",
            "{\n  \"t.py::a\": 1.5,\n  \"t.py::b\": \"slow\"\n}\n",
            "bad.json:3:19: invalid type: string \"slow\", expected f64",
        ),
        (
            "bad.tsv",
            "t.py::a\t1\nt.py::b 2\n",
            "bad.tsv:2: expected `test id<TAB>seconds`",
        ),
        (
            "bad.xml",
            "<testsuite>\n<testcase name=\"a\" time=\"1\">\n</testsuites>\n",
            "bad.xml:3:1: malformed XML: expected `</testcase>`",
        ),
    ];
    for (name, text, message) in cases {
        let path = dir.write(name, text);
        tool("shard-plan")
            .args(["-n", "2", "-d"])
            .arg(&path)
            .stdin("t.py::a\nt.py::b\n")
            .run()
            .fails_with(2, message);
    }
    tool("shard-plan")
        .args(["-n", "2", "-d", "/nonexistent/.test_durations"])
        .stdin("t.py::a\nt.py::b\n")
        .run()
        .fails_with(2, "cannot open /nonexistent/.test_durations");
}

#[test]
fn failed_run_leaves_the_output_file_alone() {
    let dir = Dir::new();
    let out = dir.write("plan.tsv", "old plan\n");
    tool("shard-plan")
        .args(["-n", "2", "-d", "/nonexistent/d.json", "-o"])
        .arg(&out)
        .stdin("t.py::a\nt.py::b\n")
        .run()
        .fails_with(2, "cannot open");
    assert_eq!(dir.read("plan.tsv"), "old plan\n");
    tool("shard-plan")
        .args(["-n", "2", "-o"])
        .arg(&out)
        .stdin("t.py::a\nt.py::b\n")
        .succeeds();
    assert_eq!(dir.read("plan.tsv"), "1\tt.py::a\n2\tt.py::b\n");
}

#[test]
fn bad_test_lists() {
    tool("shard-plan")
        .args(["-n", "2"])
        .stdin("\n\nno tests collected in 0.01s\n")
        .run()
        .fails_with(2, "no test ids in <stdin>");
    tool("shard-plan")
        .args(["-n", "2"])
        .stdin("t.py::a\nt.py::b\n\n===== ERRORS =====\nE  ImportError\n")
        .run()
        .fails_with(2, "<stdin>:4: pytest reported errors while collecting");
    let repeated = tool("shard-plan")
        .args(["-n", "2"])
        .stdin("t.py::a\nt.py::b\nt.py::a\n")
        .succeeds();
    assert_eq!(repeated.stdout, "1\tt.py::a\n2\tt.py::b\n");
    assert!(
        repeated
            .stderr
            .contains("1 repeated test ids planned once (the first: t.py::a)")
    );
    tool("shard-plan")
        .args(["-n", "0"])
        .stdin("t.py::a\n")
        .run()
        .fails_with(2, "expected a whole number from 1 up, or `auto`");
}

#[test]
fn save_durations_folds_the_last_run_into_test_durations() {
    // The old version's durations, then a JUnit report of a later run, saved
    // over the old file for the suite's next version: no plan is made.
    let dir = Dir::new();
    let saved = dir.write(".test_durations", read("durations.json"));
    let ids = dir.write("tests.txt", read("collect-v2.txt"));
    let out = tool("shard-plan")
        .arg("-d")
        .arg(&saved)
        .args(["-d", &durations("xunit1.xml"), "--save-durations"])
        .arg(&saved)
        .arg(&ids)
        .succeeds();
    assert_eq!(out.stdout, "");

    let old: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&read("durations.json")).unwrap();
    let new: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&dir.read(".test_durations")).unwrap();
    // Kept: every test either file recorded, the one no longer collected too.
    let tests: BTreeSet<&String> = new
        .keys()
        .filter(|key| !key.starts_with("<session setup>"))
        .collect();
    assert_eq!(tests, old.keys().collect());
    assert_eq!(new.len(), 17);
    assert!(
        out.stderr.ends_with(&format!(
            "shard-plan: {}: saved the durations of 15 collected tests; kept those of 1 test not among the collected ones (--prune-durations drops them)\n",
            saved.display()
        )),
        "{}",
        out.stderr
    );
    // The report's one session: its setup under a key of its own.
    assert!(new["<session setup>::shard-1"].is_number());
    // The later JUnit report wins over the older JSON (its times have 3 decimals).
    assert_eq!(new["tests/api/test_search.py::test_query[a]"], 0.041);

    // Pruned on request: only the collected tests.
    let pruned = dir.join("pruned.json");
    let out = tool("shard-plan")
        .arg("-d")
        .arg(&saved)
        .arg("--prune-durations")
        .arg("--save-durations")
        .arg(&pruned)
        .arg(&ids)
        .succeeds();
    let collected: BTreeSet<String> = collected("collect-v2.txt").into_iter().collect();
    let pruned: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&dir.read("pruned.json")).unwrap();
    let tests: BTreeSet<String> = pruned
        .keys()
        .filter(|key| !key.starts_with("<session setup>"))
        .cloned()
        .collect();
    assert_eq!(
        tests,
        old.keys()
            .filter(|id| collected.contains(*id))
            .cloned()
            .collect()
    );
    assert!(
        out.stderr
            .ends_with("saved the durations of 15 collected tests; pruned those of 1 test not among the collected ones\n"),
        "{}",
        out.stderr
    );

    // The saved file alone plans as both inputs did.
    let plan = |args: &[&str]| {
        tool("shard-plan")
            .args(["-n", "3"])
            .args(args)
            .stdin(read("collect-v2.txt"))
            .succeeds()
            .stdout
    };
    assert_eq!(
        plan(&["-d", &saved.display().to_string()]),
        plan(&[
            "-d",
            &durations("durations.json"),
            "-d",
            &durations("xunit1.xml")
        ])
    );
}

#[test]
fn tests_that_did_not_run_keep_their_recorded_duration() {
    // Regression: junit-merge --expect records a crashed shard's tests as
    // errors; saving durations from that report must not teach 0 s for them.
    let dir = Dir::new();
    let saved = dir.write(".test_durations", read("durations.json"));
    let report = dir.write(
        "junit.xml",
        r#"<testsuite><testcase classname="tests.test_users" name="test_login" file="tests/test_users.py" time="0.5"/></testsuite>"#,
    );
    let plan = dir.write(
        "plan.tsv",
        "1\ttests/test_users.py::test_login\n2\ttests/test_orders.py::TestOrders::test_create\n",
    );
    let merged = dir.join("unit.xml");
    tool("junit-merge")
        .arg("--expect")
        .arg(&plan)
        .arg(&report)
        .arg("-o")
        .arg(&merged)
        .succeeds();
    tool("shard-plan")
        .arg("-d")
        .arg(&saved)
        .arg("-d")
        .arg(&merged)
        .arg("--save-durations")
        .arg(&saved)
        .stdin("tests/test_users.py::test_login\ntests/test_orders.py::TestOrders::test_create\n")
        .succeeds();
    let new: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&dir.read(".test_durations")).unwrap();
    assert_eq!(new["tests/test_users.py::test_login"], 0.5);
    assert_eq!(
        new["tests/test_orders.py::TestOrders::test_create"],
        0.300838763999991
    );
}

#[test]
fn plan_options_need_shards() {
    tool("shard-plan")
        .args(["--shard", "1"])
        .stdin(read("collect.txt"))
        .run()
        .fails_with(2, "--shards");
}

#[test]
fn durations_past_what_can_be_added_are_an_error_not_a_panic() {
    let dir = Dir::new();
    let junit = dir.write(
        "t.xml",
        r#"<testsuite><testcase name="a" time="1e19"/><testcase name="b" time="1e19"/></testsuite>"#,
    );
    tool("shard-plan")
        .args(["-n", "1", "-d"])
        .arg(&junit)
        .stdin("a\nb\n")
        .run()
        .fails_with(
            2,
            "t.xml:1:12: 1e19 s for a: the durations read add up past 1e9 s",
        );
    let tsv = dir.write("d.tsv", "a\t1\nb\t1e19\n");
    tool("shard-plan")
        .args(["-n", "1", "-d"])
        .arg(&tsv)
        .stdin("a\nb\n")
        .run()
        .fails_with(
            2,
            "d.tsv:2: 1e19 s for b: the durations read add up past 1e9 s (about 31 years), more than shard-plan plans",
        );
}

#[test]
fn durations_that_add_up_to_infinity_name_the_file_and_value() {
    // Regression (issue 26 item 7): "the test durations add up to inf s",
    // naming no file.
    let dir = Dir::new();
    let json = dir.write("big.json", "{\n  \"a\": 1e308,\n  \"b\": 1e308\n}\n");
    tool("shard-plan")
        .args(["-n", "1", "-d"])
        .arg(&json)
        .stdin("a\nb\n")
        .run()
        .fails_with(
            2,
            "big.json:2:12: 1e308 s for a: the durations read add up past 1e9 s",
        );
    // Each value well inside the limit, the second file past it.
    let half = dir.write("half.tsv", "a\t6e8\n");
    let more = dir.write(
        "more.xml",
        "<testsuite>\n<testcase name=\"b\" time=\"6e8\"/>\n</testsuite>\n",
    );
    tool("shard-plan")
        .args(["-n", "1", "-d"])
        .arg(&half)
        .arg("-d")
        .arg(&more)
        .stdin("a\nb\n")
        .run()
        .fails_with(
            2,
            "more.xml:2:1: 6e8 s for b: the durations read add up past",
        );
    // Estimates past it: the message says where the value they copy is from.
    let named = tool("shard-plan")
        .args(["-n", "1", "-d"])
        .arg(&half)
        .stdin("t.py::a\nt.py::b\na\n")
        .run()
        .fails_with(
            2,
            "the test durations add up to 1.8e9 s, more than shard-plan plans (1e9 s, about 31 years): 1.2e9 s of it estimated for the 2 tests never recorded, from their neighbours; the largest value read: 6e8 s for a in ",
        )
        .stderr
        .contains("half.tsv");
    assert!(named);
}

#[test]
fn text_that_is_not_utf8_is_placed_at_its_line() {
    tool("shard-plan")
        .args(["-n", "1"])
        .stdin(b"a\n\xff\n")
        .run()
        .fails_with(2, "shard-plan: <stdin>:2:1: not UTF-8 text (byte 0xff)");
    let dir = Dir::new();
    let tsv = dir.write("d.tsv", b"a\t1\nb\xfe\t2\n");
    tool("shard-plan")
        .args(["-n", "1", "-d"])
        .arg(&tsv)
        .stdin("a\nb\n")
        .run()
        .fails_with(2, "d.tsv:2:2: not UTF-8 text (byte 0xfe)");
    let plan = dir.write("plan.tsv", b"1\ta\n1\tb\xc3\n");
    tool("junit-merge")
        .arg("--expect")
        .arg(&plan)
        .arg(fixture("junit-merge/go/report.xml"))
        .run()
        .fails_with(2, "plan.tsv:2:4: not UTF-8 text (byte 0xc3)");
}

#[test]
fn an_endless_input_stops_being_read_at_a_line_too_long() {
    let started = std::time::Instant::now();
    let zero = std::process::Command::new(crate::util::bin("shard-plan"))
        .args(["-n", "1"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_eq!(zero.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&zero.stderr),
        "shard-plan: <stdin>:1: a line longer than 16777216 bytes: not a line of text\n"
    );
    tool("shard-plan")
        .args(["-n", "1", "-d", "/dev/zero"])
        .stdin("a\n")
        .run()
        .fails_with(2, "/dev/zero:1: a line longer than 16777216 bytes");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn batches_without_any_duration_are_four_a_stack() {
    // 16 tests, none recorded: 4 batches for each of 2 stacks, whatever
    // --min-batch says: 8, 7, 6… parts of the suite until the tests left
    // are one a batch.
    let out = tool("shard-plan")
        .args(["--batches", "auto", "--stacks", "2", "--min-batch", "0.1"])
        .stdin(read("collect.txt"))
        .succeeds();
    let per_batch =
        entries(&out.stdout)
            .iter()
            .fold(BTreeMap::<u32, usize>::new(), |mut count, (batch, _)| {
                *count.entry(*batch).or_default() += 1;
                count
            });
    assert_eq!(
        per_batch.into_values().collect::<Vec<_>>(),
        [4, 4, 3, 1, 1, 1, 1, 1]
    );
}

#[test]
fn batches_for_a_queue_take_the_longest_tests_first_and_shrink() {
    let out = tool("shard-plan")
        .args(["--batches", "auto", "--stacks", "2", "--min-batch", "0.1"])
        .args(["--summary", "-d", &durations("durations.json")])
        .stdin(read("collect.txt"))
        .succeeds();
    // The plan's contract holds: batch numbers are shard numbers to every tool.
    let batches = entries(&out.stdout).iter().map(|(b, _)| *b).max().unwrap();
    assert_valid(&out.stdout, &collected("collect.txt"), batches);
    // Batch 1 holds the longest test (0.301 s); each takes a quarter (1/(2 x 2
    // stacks)) of the time left, at least the 0.1 s floor, the last what is left.
    assert_eq!(
        out.stderr,
        "batch    seconds   tests   units\n    \
            1     0.552       2       2\n    \
            2     0.352       2       2\n    \
            3     0.205       2       2\n    \
            4     0.141       2       2\n    \
            5     0.137       3       3\n    \
            6     0.123       3       3\n    \
            7     0.032       2       2\n\
         7 batches on 2 stacks: the first free at 0.725 s, the last at 0.816 s (before start-up costs)\n\
         durations: 16 of 16 tests recorded, 0 estimated; 0 recorded durations unused (not among the collected tests)\n"
    );
    // The two longest tests, in collection order; the third longest next.
    assert!(out.stdout.starts_with(
        "1\ttests/api/test_search.py::test_empty\n\
         1\ttests/test_orders.py::TestOrders::test_create\n\
         2\ttests/test_users.py::TestSignup::test_email\n"
    ));
}

#[test]
fn a_batch_count_and_its_options() {
    let out = tool("shard-plan")
        .args(["--batches", "3"])
        .stdin(read("collect.txt"))
        .succeeds();
    assert_valid(&out.stdout, &collected("collect.txt"), 3);
    let sizes: Vec<usize> = (1..=3)
        .map(|b| entries(&out.stdout).iter().filter(|(s, _)| *s == b).count())
        .collect();
    // No durations: 1 s each, in 3, 2 and 1 parts of 16 s.
    assert_eq!(sizes, [8, 6, 2]);
    tool("shard-plan")
        .args(["--batches", "auto"])
        .stdin(read("collect.txt"))
        .run()
        .fails_with(2, "--batches auto needs --stacks");
    tool("shard-plan")
        .args(["--batches", "2", "--shards", "2"])
        .stdin(read("collect.txt"))
        .run()
        .fails_with(2, "cannot be used with");
    tool("shard-plan")
        .args(["--batches", "17"])
        .stdin(read("collect.txt"))
        .run()
        .fails_with(2, "17 shards asked for, but there are only 16 units");
}

#[test]
fn session_setup_is_saved_apart_from_the_first_tests_and_summarized() {
    // Two shards' reports: each session's first test carries 30 s of setup.
    let dir = Dir::new();
    let report = |first: &str, second: &str| {
        format!(
            r#"<testsuites><testsuite name="pytest">
            <testcase classname="t" name="{first}" file="t.py" time="30.5"/>
            <testcase classname="t" name="{second}" file="t.py" time="0.5"/>
            </testsuite></testsuites>"#
        )
    };
    let one = dir.write("reports/shard-1/junit.xml", report("test_a", "test_b"));
    let two = dir.write("reports/shard-2/junit.xml", report("test_c", "test_d"));
    let ids = "t.py::test_a\nt.py::test_b\nt.py::test_c\nt.py::test_d\n";
    let saved = dir.join(".test_durations");
    tool("shard-plan")
        .arg("-d")
        .arg(&one)
        .arg("-d")
        .arg(&two)
        .arg("--save-durations")
        .arg(&saved)
        .stdin(ids)
        .succeeds();
    let new: serde_json::Value = serde_json::from_str(&dir.read(".test_durations")).unwrap();
    assert_eq!(
        new,
        serde_json::json!({
            "<session setup>::shard-1": 30.0,
            "<session setup>::shard-2": 30.0,
            "t.py::test_a": 0.5,
            "t.py::test_b": 0.5,
            "t.py::test_c": 0.5,
            "t.py::test_d": 0.5,
        })
    );
    // The next plan: no test alone on a shard, and the setup shown per shard.
    let out = tool("shard-plan")
        .args(["-n", "2", "--summary", "-d"])
        .arg(&saved)
        .stdin(ids)
        .succeeds();
    assert_eq!(
        out.stderr.lines().take(3).collect::<Vec<_>>(),
        [
            "shard    seconds   tests   units   session setup",
            "    1     1.000       2       2          30.000",
            "    2     1.000       2       2          30.000",
        ]
    );
}

#[test]
fn setup_outliers_in_someone_elses_durations_are_capped_with_a_warning() {
    // The shape of a published .test_durations: one test per CI worker
    // holds that worker's database setup, in three unrelated files.
    let mut durations = serde_json::Map::new();
    let mut ids = String::new();
    for (file, setup) in [("a", 41.6), ("b", 40.8), ("c", 35.6)] {
        for test in 0..4 {
            let id = format!("{file}.py::test_{test}");
            let seconds = if test == 1 { setup } else { 0.1 };
            durations.insert(id.clone(), serde_json::json!(seconds));
            ids += &format!("{id}\n");
        }
    }
    // A genuinely slow test, alone of its kind: kept.
    durations.insert("d.py::test_big".into(), serde_json::json!(60.0));
    ids += "d.py::test_big\n";
    let dir = Dir::new();
    let file = dir.write("durations.json", serde_json::to_string(&durations).unwrap());
    let out = tool("shard-plan")
        .args(["-n", "2", "--summary", "-d"])
        .arg(&file)
        .stdin(&ids)
        .succeeds();
    assert!(
        out.stderr.contains(
            "shard-plan: warning: 3 tests look like they carry session setup (far above their siblings, about as long as each other, standing apart from every other test, in 3 different files: once per worker), capped at their siblings' median (3 of them collected): a.py::test_1 (41.60 s -> 0.100 s), b.py::test_1 (40.80 s -> 0.100 s), c.py::test_1 (35.60 s -> 0.100 s)"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("longest 60.000 s"), "{}", out.stderr);
}

#[test]
fn save_durations_after_a_subset_run_keeps_the_rest() {
    // Regression (issue 26 item 13): planning 150 of 1,644 tests saved 152
    // of 1,776 entries; a later full run planned blind.
    let dir = Dir::new();
    let saved = dir.write(".test_durations", read("durations.json"));
    let subset = dir.write(
        "tests.txt",
        "tests/test_users.py::test_login\ntests/test_users.py::test_logout\n",
    );
    let report = dir.write(
        "reports/shard-1/junit.xml",
        r#"<testsuite>
        <testcase classname="tests.test_users" name="test_login" file="tests/test_users.py" time="0.25"/>
        <testcase classname="tests.test_users" name="test_logout" file="tests/test_users.py" time="0.125"/>
        </testsuite>"#,
    );
    let out = tool("shard-plan")
        .arg("-d")
        .arg(&saved)
        .arg("-d")
        .arg(&report)
        .arg("--save-durations")
        .arg(&saved)
        .arg(&subset)
        .succeeds();
    assert!(
        out.stderr.ends_with(
            "saved the durations of 2 collected tests; kept those of 14 tests not among the collected ones (--prune-durations drops them)\n"
        ),
        "{}",
        out.stderr
    );
    let old: BTreeMap<String, f64> = serde_json::from_str(&read("durations.json")).unwrap();
    let new: BTreeMap<String, f64> = serde_json::from_str(&dir.read(".test_durations")).unwrap();
    for (id, seconds) in &old {
        match id.as_str() {
            "tests/test_users.py::test_login" => assert_eq!(new[id], 0.25),
            "tests/test_users.py::test_logout" => assert_eq!(new[id], 0.125),
            _ => assert_eq!(new[id], *seconds, "{id}"),
        }
    }
    assert_eq!(new.len(), old.len() + 1, "and the shard's setup: {new:?}");
}

/// A published `.test_durations` of someone else's CI: one test per worker
/// holds that worker's database setup, in four unrelated files of fast tests.
fn durations_with_setup_outliers() -> serde_json::Map<String, serde_json::Value> {
    let mut durations = serde_json::Map::new();
    for (file, setup) in [("a", 41.6), ("b", 40.8), ("c", 35.6), ("e", 38.2)] {
        for test in 0..6 {
            let seconds = if test == 1 {
                setup
            } else {
                0.1 + 0.01 * test as f64
            };
            durations.insert(
                format!("{file}.py::test_{test}"),
                serde_json::json!(seconds),
            );
        }
    }
    durations
}

#[test]
fn session_setup_in_a_subset_is_found_in_the_whole_file() {
    // Regression (issue 26 item 14): a subset holding one of the file's
    // setup outliers believed it, and it took a shard alone.
    let dir = Dir::new();
    let file = dir.write(
        "durations.json",
        serde_json::to_string(&durations_with_setup_outliers()).unwrap(),
    );
    let subset =
        "a.py::test_0\na.py::test_1\na.py::test_2\nb.py::test_3\nb.py::test_4\nc.py::test_5\n";
    let out = tool("shard-plan")
        .args(["-n", "2", "--summary", "-d"])
        .arg(&file)
        .stdin(subset)
        .succeeds();
    assert!(
        out.stderr.contains(
            "4 tests look like they carry session setup (far above their siblings, about as long as each other, standing apart from every other test, in 4 different files: once per worker), capped at their siblings' median (1 of them collected): a.py::test_1 (41.60 s -> 0.130 s), "
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("longest 0.390 s"), "{}", out.stderr);
    // Three tests a shard: the setup test is one of them, not a shard alone.
    assert_eq!(
        out.stdout,
        "1\ta.py::test_0\n1\tb.py::test_3\n1\tc.py::test_5\n\
         2\ta.py::test_1\n2\ta.py::test_2\n2\tb.py::test_4\n"
    );
}

#[test]
fn measured_slow_tests_are_saved_as_measured_only_first_tests_give_setup_back() {
    // Regression (issue 26 item 16): the setup rule took a family of
    // genuinely slow tests for setup, and --save-durations wrote the run's
    // own measurements back capped (9.56 s saved as 0.345 s).
    const SLOW: [f64; 8] = [9.56, 9.5, 9.3, 9.1, 8.9, 8.7, 8.5, 8.2];
    let dir = Dir::new();
    let suite = |shard: usize| {
        let mut cases = String::new();
        for file in 0..4 {
            let f = 2 * file + shard;
            for test in 0..4 {
                let time = match (file, test) {
                    (0, 0) => 30.345,
                    (_, 2) => SLOW[f],
                    _ => 0.345,
                };
                cases += &format!(
                    r#"<testcase classname="t{f}" name="test_{test}" file="t{f}.py" time="{time}"/>"#
                );
            }
        }
        format!("<testsuite>{cases}</testsuite>")
    };
    let ids: String = (0..8)
        .flat_map(|f| (0..4).map(move |t| format!("t{f}.py::test_{t}\n")))
        .collect();
    let one = dir.write("reports/shard-1/junit.xml", suite(0));
    let two = dir.write("reports/shard-2/junit.xml", suite(1));
    // The same sessions merged into one report, as junit-merge writes it.
    let merged = dir.write(
        "unit.xml",
        format!("<testsuites>{}{}</testsuites>", suite(0), suite(1)),
    );
    for reports in [vec![one, two], vec![merged]] {
        let saved = dir.join(".test_durations");
        let out = tool("shard-plan")
            .args(reports.iter().flat_map(|report| [Path::new("-d"), report]))
            .arg("--save-durations")
            .arg(&saved)
            .stdin(&ids)
            .succeeds();
        assert!(!out.stderr.contains("warning"), "{}", out.stderr);
        let new: BTreeMap<String, f64> =
            serde_json::from_str(&dir.read(".test_durations")).unwrap();
        for f in 0..8 {
            assert_eq!(new[&format!("t{f}.py::test_2")], SLOW[f]);
        }
        // Each session's first test: its siblings' 0.345 s, the rest setup.
        assert_eq!(new["t0.py::test_0"], 0.345);
        assert_eq!(new["t1.py::test_0"], 0.345);
        assert!(
            (new["<session setup>::shard-1"] - 30.0).abs() < 1e-9,
            "{new:?}"
        );
    }
}
