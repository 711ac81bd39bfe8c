//! stack-report on the results and merged JUnit of a real run: the flaky
//! fixture suite (`tests/fixtures/stack-run/flaky`) in four shards with
//! `stack-run --rerun-failed`, merged by junit-merge (see
//! `tests/fixtures/stack-report/README.md`).

use quick_xml::events::Event;

use shared::results::ShardResult;

use crate::util::{Dir, fixture, tool};

fn results() -> Vec<ShardResult> {
    let mut results: Vec<ShardResult> =
        std::fs::read_to_string(fixture("stack-report/results.jsonl"))
            .unwrap()
            .lines()
            .map(|line| ShardResult::from_json(line).unwrap())
            .collect();
    results.sort_by_key(|r| r.shard);
    results
}

#[test]
fn markdown_summary_matches_the_golden_file() {
    let outcome = tool("stack-report")
        .arg("--results")
        .arg(fixture("stack-report/results.jsonl"))
        .arg("--junit")
        .arg(fixture("stack-report/unit.xml"))
        .succeeds();
    let golden = std::fs::read_to_string(fixture("stack-report/summary.md")).unwrap();
    assert_eq!(outcome.stdout, golden);
}

#[test]
fn results_alone_from_stdin_give_the_shards_only() {
    let results = std::fs::read_to_string(fixture("stack-report/results.jsonl")).unwrap();
    let outcome = tool("stack-report")
        .args(["--results", "-"])
        .stdin(results)
        .succeeds();
    assert!(outcome.stdout.contains("### Shards"));
    assert!(!outcome.stdout.contains("### Failed tests"));
    assert!(
        outcome
            .stdout
            .contains("| 1 | ❌ failed | 3 | 15.3 s | 38.8 s | 0.6 s | ❌ 2 tests in 20.2 s |")
    );
}

#[test]
fn outputs_give_the_summarys_numbers_as_key_value_lines() {
    let outcome = tool("stack-report")
        .args(["--format", "outputs", "--results"])
        .arg(fixture("stack-report/results.jsonl"))
        .arg("--junit")
        .arg(fixture("stack-report/unit.xml"))
        .succeeds();
    // Shard run times 34.156, 34.978, 37.612 and 38.783 s: 38.783 / 36.382.
    assert_eq!(
        outcome.stdout,
        "tests=9\npassed=8\nfailures=1\nerrors=0\nskipped=0\nflaky=1\n\
         shards=4\nshards_failed=1\nbalance=1.07\n"
    );

    let junit_only = tool("stack-report")
        .args(["--format", "outputs", "--junit"])
        .arg(fixture("stack-report/unit.xml"))
        .succeeds();
    assert!(junit_only.stdout.starts_with("tests=9\n"));
    assert!(
        !junit_only.stdout.contains("shards="),
        "{}",
        junit_only.stdout
    );
}

/// One `<rect>` of a shard's bar: its class, x and width.
#[derive(Debug)]
struct Rect {
    class: String,
    x: f64,
    width: f64,
}

/// The SVG parsed back: the bars of each shard (by `<g id="shard-K">`).
fn bars(svg: &str) -> Vec<(u32, Vec<Rect>)> {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut bars: Vec<(u32, Vec<Rect>)> = Vec::new();
    let mut in_shard = false;
    loop {
        match reader.read_event().expect("the SVG is well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |key: &str| {
                    e.try_get_attribute(key)
                        .unwrap()
                        .map(|a| a.unescape_value().unwrap().into_owned())
                };
                let name = e.name();
                match name.as_ref() {
                    b"g" => {
                        let shard = attr("id")
                            .and_then(|id| id.strip_prefix("shard-").map(|k| k.parse().unwrap()));
                        in_shard = shard.is_some();
                        if let Some(shard) = shard {
                            bars.push((shard, Vec::new()));
                        }
                    }
                    b"rect" if in_shard => bars.last_mut().unwrap().1.push(Rect {
                        class: attr("class").unwrap(),
                        x: attr("x").unwrap().parse().unwrap(),
                        width: attr("width").unwrap().parse().unwrap(),
                    }),
                    b"script" | b"foreignObject" => panic!("active content in the SVG"),
                    _ => {}
                }
            }
            Event::End(e) if e.name().as_ref() == b"g" => in_shard = false,
            Event::Eof => break,
            _ => {}
        }
    }
    bars
}

#[test]
fn svg_timeline_has_a_bar_per_shard_with_widths_in_proportion() {
    let outcome = tool("stack-report")
        .arg("--results")
        .arg(fixture("stack-report/results.jsonl"))
        .args(["--format", "svg"])
        .succeeds();
    let svg = outcome.stdout;
    assert!(svg.len() < 5000, "{} bytes", svg.len());
    assert!(
        !svg.contains("@import") && !svg.contains("url("),
        "external resources"
    );
    let bars = bars(&svg);
    let results = results();
    assert_eq!(
        bars.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    // Shard 1 failed and was rerun: six segments; the others three.
    let classes: Vec<&str> = bars[0].1.iter().map(|r| r.class.as_str()).collect();
    assert_eq!(
        classes,
        [
            "up",
            "failed",
            "down",
            "up rerun",
            "failed rerun",
            "down rerun"
        ]
    );
    assert_eq!(
        bars[1]
            .1
            .iter()
            .map(|r| r.class.as_str())
            .collect::<Vec<_>>(),
        ["up", "passed", "down"]
    );

    // Every width is the same number of pixels per second; segments follow
    // each other; bars start where their shard started.
    let origin = results
        .iter()
        .map(|r| r.started_seconds.unwrap())
        .fold(f64::INFINITY, f64::min);
    let scale = bars[0].1[1].width / results[0].first.run_seconds;
    for ((_, rects), result) in bars.iter().zip(&results) {
        let mut seconds = vec![
            result.first.up_seconds,
            result.first.run_seconds,
            result.first.down_seconds,
        ];
        if let Some(rerun) = &result.rerun {
            seconds.extend([rerun.up_seconds, rerun.run_seconds, rerun.down_seconds]);
        }
        assert_eq!(rects.len(), seconds.len());
        let left = rects[0].x - (result.started_seconds.unwrap() - origin) * scale;
        assert!((left - 64.0).abs() < 0.02, "shard {}: {left}", result.shard);
        for (rect, seconds) in rects.iter().zip(seconds) {
            assert!(
                (rect.width - seconds * scale).abs() < 0.02,
                "{rect:?} for {seconds}s"
            );
        }
        for pair in rects.windows(2) {
            assert!(
                (pair[0].x + pair[0].width - pair[1].x).abs() < 0.02,
                "{pair:?}"
            );
        }
    }
}

#[test]
fn lines_without_start_times_start_together() {
    let line = r#"{"shard":1,"shards":2,"project":"p","status":"passed","exit_code":0,"tests":1,"up_seconds":1,"run_seconds":2,"down_seconds":1,"out":"o","message":null}
{"shard":2,"shards":2,"project":"p","status":"timeout","exit_code":null,"tests":1,"up_seconds":1,"run_seconds":6,"down_seconds":1,"out":"o","message":"timed out"}"#;
    let outcome = tool("stack-report")
        .args(["--results", "-", "--format", "svg"])
        .stdin(line)
        .succeeds();
    let bars = bars(&outcome.stdout);
    assert_eq!(bars[0].1[0].x, 64.0);
    assert_eq!(bars[1].1[0].x, 64.0);
    assert_eq!(bars[1].1[1].class, "timeout");
    // Shard 2's 8 s fill the 640 pixels of the axis.
    assert_eq!(bars[1].1[1].width, 480.0);
}

#[test]
fn bad_input_is_an_error_and_writes_nothing() {
    let dir = Dir::new();
    let out = dir.write("summary.md", "kept");
    tool("stack-report")
        .args(["--results", "-", "-o"])
        .arg(&out)
        .stdin("{\"shard\":1}\n")
        .run()
        .fails_with(2, "<stdin>:1: bad result line: missing field \"shards\"");
    assert_eq!(dir.read("summary.md"), "kept");
    tool("stack-report")
        .args(["--junit"])
        .arg(dir.join("missing.xml"))
        .run()
        .fails_with(2, "missing.xml");
    tool("stack-report")
        .arg("--junit")
        .arg(fixture("stack-report/unit.xml"))
        .args(["--format", "svg"])
        .run()
        .fails_with(2, "--format svg needs --results");
}

/// Regression (issue 12): on a real pytest 9 suite, the summary said
/// "1670 tests, 1651 passed" where pytest said "1625 passed, 19 skipped":
/// pytest's `tests` attribute counts every passing subtest. The summary
/// counts the test cases and says when the report's counts disagree
/// (`tests/fixtures/pytest-counts`).
#[test]
fn a_real_pytest_report_is_counted_by_its_test_cases() {
    let outcome = tool("stack-report")
        .arg("--junit")
        .arg(fixture("pytest-counts/shard-1.xml"))
        .succeeds();
    // pytest: "3 passed, 2 skipped, 5 subtests passed"; tests="10".
    assert!(
        outcome.stdout.contains("| 5 | 3 | 0 | 0 | 2 | 0 |"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains(
        "Counted from the 5 test cases. The report's own counts say 10 tests, \
         0 failures, 0 errors, 2 skipped"
    ));
    assert!(
        outcome.stderr.contains(
            "pytest-counts/shard-1.xml: its counts say 10 tests, 0 failures, 0 errors, \
             2 skipped; its 5 test cases: 3 passed, 0 failed, 0 errors, 2 skipped; \
             the summary counts the test cases\n"
        ),
        "{}",
        outcome.stderr
    );
}

#[test]
fn merged_pytest_shards_are_counted_by_their_test_cases() {
    let dir = Dir::new();
    let unit = dir.join("unit.xml");
    tool("junit-merge")
        .arg("--expect")
        .arg(fixture("pytest-counts/plan.tsv"))
        .arg(fixture("pytest-counts/shard-1.xml"))
        .arg(fixture("pytest-counts/shard-2.xml"))
        .arg("-o")
        .arg(&unit)
        .succeeds();
    let outcome = tool("stack-report").arg("--junit").arg(&unit).succeeds();
    // 13 planned tests, 14 cases: pytest writes a test that fails and then
    // errors in teardown as two cases of one name, a failure and an error.
    assert!(
        outcome.stdout.contains("| 14 | 5 | 3 | 3 | 3 | 0 |"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("The report's own counts say 24 tests, 4 failures, 4 errors, 3 skipped")
    );
    assert!(outcome.stdout.contains("### Failed tests (6)"));
    assert!(
        outcome.stderr.contains(
            "its counts say 24 tests, 4 failures, 4 errors, 3 skipped; its 14 test cases"
        ),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_report_whose_counts_agree_gets_no_note() {
    let outcome = tool("stack-report")
        .arg("--junit")
        .arg(fixture("stack-report/unit.xml"))
        .succeeds();
    assert_eq!(outcome.stderr, "");
    assert!(!outcome.stdout.contains("Counted from"));
}

#[test]
fn junit_times_past_the_duration_range_are_an_error_not_a_panic() {
    let dir = Dir::new();
    let junit = dir.write(
        "t.xml",
        r#"<testsuite><testcase name="a" time="1e19"/><testcase name="b" time="1e19"/></testsuite>"#,
    );
    tool("stack-report")
        .arg("--junit")
        .arg(&junit)
        .run()
        .fails_with(2, "t.xml:1:44: numbers add up past");
}

/// A results line with the given times of the first attempt.
fn result_line(up: &str, run: &str) -> String {
    format!(
        r#"{{"shard":1,"shards":1,"project":"p","status":"passed","exit_code":0,"tests":1,"up_seconds":{up},"run_seconds":{run},"down_seconds":3,"out":"o","message":null}}"#
    )
}

#[test]
fn results_that_are_not_utf8_are_placed_at_their_line() {
    let dir = Dir::new();
    let mut bytes = result_line("1", "2").into_bytes();
    bytes.extend(b"\n{\"shard\xff\n");
    let results = dir.write("r.jsonl", bytes);
    tool("stack-report")
        .arg("--results")
        .arg(&results)
        .run()
        .fails_with(2, "r.jsonl:2:8: not UTF-8 text (byte 0xff)");
}

#[test]
fn seconds_no_run_can_take_are_refused_not_drawn_forever() {
    let dir = Dir::new();
    let results = dir.write("r.jsonl", format!("{}\n", result_line("1e308", "1e308")));
    for format in ["svg", "markdown"] {
        tool("stack-report")
            .args(["--format", format, "--results"])
            .arg(&results)
            .run()
            .fails_with(2, "r.jsonl:1: bad result line: up_seconds 1e308 is not from 0 to 1000000000.0 seconds");
    }
    // The longest a line may give draws a handful of ticks.
    let longest = dir.write("l.jsonl", format!("{}\n", result_line("1e9", "1e9")));
    let svg = tool("stack-report")
        .args(["--format", "svg", "--results"])
        .arg(&longest)
        .succeeds()
        .stdout;
    assert!(svg.matches("<text").count() < 30, "{svg}");
}

#[test]
fn endless_results_stop_being_read_at_a_line_too_long() {
    tool("stack-report")
        .args(["--results", "/dev/zero"])
        .run()
        .fails_with(2, "/dev/zero:1: a line longer than 16777216 bytes");
}

#[test]
fn batches_are_drawn_on_their_stacks_rows_and_listed_with_their_stack() {
    let results = fixture("stack-report/batches.jsonl");
    let svg = tool("stack-report")
        .args(["--format", "svg", "--results"])
        .arg(&results)
        .succeeds()
        .stdout;
    // A row per stack, each holding its batches' segments in the order they ran.
    let rows: Vec<&str> = svg.lines().filter(|l| l.starts_with("<g id=")).collect();
    assert_eq!(rows.len(), 2, "{svg}");
    let batches_in = |row: &str| -> Vec<String> {
        row.split("<title>batch ")
            .skip(1)
            .map(|t| t.split(' ').next().unwrap().to_string())
            .collect()
    };
    assert!(rows[0].starts_with("<g id=\"stack-1\">"));
    assert_eq!(batches_in(rows[0]), ["1", "1", "4", "4"]);
    assert_eq!(batches_in(rows[1]), ["2", "2", "3", "5", "5"]);
    assert!(svg.contains("<title>5 batches, 5.8 s</title>"));

    let markdown = tool("stack-report")
        .arg("--results")
        .arg(&results)
        .succeeds()
        .stdout;
    assert!(
        markdown.contains("5 batches on 2 stacks in 5.8 s"),
        "{markdown}"
    );
    assert!(markdown.contains("| 3 | 2 | ✅ passed | 1 | 0.0 s | 0.9 s | 0.0 s |  |"));
}

#[test]
fn session_setup_is_the_shards_not_its_first_tests() {
    // Two shards whose first test carries 20 s of setup.
    let dir = Dir::new();
    let mut results = String::new();
    for shard in 1..=2 {
        dir.write(
            &format!("out/shard-{shard}/junit.xml"),
            format!(
                r#"<testsuites><testsuite name="pytest">
                <testcase classname="t{shard}" name="test_first" file="t{shard}.py" time="20.5"/>
                <testcase classname="t{shard}" name="test_second" file="t{shard}.py" time="0.5"/>
                <testcase classname="t{shard}" name="test_third" file="t{shard}.py" time="0.5"/>
                </testsuite></testsuites>"#
            ),
        );
        results += &format!(
            r#"{{"shard":{shard},"shards":2,"project":"p-s{shard}","status":"passed","exit_code":0,"tests":3,"up_seconds":5,"run_seconds":25,"down_seconds":1,"out":"out/shard-{shard}","message":null,"started_seconds":0,"rerun":null}}"#
        );
        results.push('\n');
    }
    let results = dir.write("results.jsonl", results);
    let out = tool("stack-report")
        .arg("--results")
        .arg(&results)
        .arg("--junit")
        .arg(dir.join("out/shard-1/junit.xml"))
        .args(["--slowest", "1"])
        .succeeds();
    assert!(
        out.stdout.contains(
            "| shard | status | tests | start-up | session setup | tests run | teardown | rerun |"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("| 1 | ✅ passed | 3 | 5.0 s | 20.0 s | 25.0 s | 1.0 s |  |"),
        "{}",
        out.stdout
    );
    // The first test's own time: its siblings'.
    assert!(
        out.stdout.contains("| `t1.py::test_first` | 0.50 s |"),
        "{}",
        out.stdout
    );
}

/// Regression (issue 26 item 20): a failed test whose traceback ended in
/// the code it tests was named after that file (`app/validators.py::
/// test_rejects`) in the failed tests' table, a name no other table and no
/// plan used. A test is named by its JUnit classname and name everywhere;
/// the traceback's last file is only where it failed.
#[test]
fn a_failed_test_is_named_by_its_report_not_its_traceback() {
    let dir = Dir::new();
    let unit = dir.write(
        "unit.xml",
        "<testsuites><testsuite name=\"pytest\" tests=\"3\" failures=\"2\">\
         <testcase classname=\"tests.test_forms\" name=\"test_rejects\" time=\"2.5\">\
         <failure message=\"ValidationError: bad\">def test_rejects():\n&gt;  validate(1)\n\n\
         tests/test_forms.py:4: \n\n    def validate(v):\n&gt;  raise ValidationError\n\
         E   ValidationError: bad\n\napp/validators.py:7: ValidationError</failure></testcase>\
         <testcase classname=\"tests.test_forms.TestForm\" name=\"test_own\" time=\"1.5\">\
         <failure message=\"assert 0\">&gt;  assert 0\nE   assert 0\n\n\
         tests/test_forms.py:20: AssertionError</failure></testcase>\
         <testcase classname=\"tests.test_forms\" name=\"test_fine\" time=\"0.5\"/>\
         </testsuite></testsuites>",
    );
    let summary = tool("stack-report")
        .arg("--junit")
        .arg(&unit)
        .succeeds()
        .stdout;
    assert!(!summary.contains("validators.py::"), "{summary}");
    assert!(
        summary.contains(
            "| `tests/test_forms.py::test_rejects` | `app/validators.py:7` | ValidationError: bad |"
        ),
        "{summary}"
    );
    assert!(
        summary
            .contains("| `tests/test_forms.py::TestForm::test_own` | `tests/test_forms.py:20` |")
    );
    // The slowest tests' table names them the same way.
    assert!(
        summary.contains("| `tests/test_forms.py::test_rejects` | 2.50 s |"),
        "{summary}"
    );
    assert!(
        summary.contains("| `tests/test_forms.py::test_fine` |"),
        "{summary}"
    );
}

/// A seeded run's results: the seed's line first, then two shards whose
/// first tests carry `setup` seconds each (their database made again, or not).
fn seeded_run(dir: &Dir, setup: f64) -> std::path::PathBuf {
    let mut results = String::from(
        r#"{"seed":"0a1b2c3d4e5f6789","status":"passed","reused":false,"started_seconds":0.01,"seconds":95.5,"images":{"db":"ci-seed-db:0a1b2c3d4e5f6789"},"log":"out/.stack-run/seed.log","message":null}"#,
    );
    results.push('\n');
    for shard in 1..=2 {
        dir.write(
            &format!("out/shard-{shard}/junit.xml"),
            format!(
                r#"<testsuites><testsuite name="pytest">
                <testcase classname="t{shard}" name="test_first" file="t{shard}.py" time="{first}"/>
                <testcase classname="t{shard}" name="test_second" file="t{shard}.py" time="0.5"/>
                </testsuite></testsuites>"#,
                first = 0.5 + setup
            ),
        );
        results += &format!(
            r#"{{"shard":{shard},"shards":2,"project":"p-s{shard}","status":"passed","exit_code":0,"tests":2,"up_seconds":5,"run_seconds":20,"down_seconds":1,"out":"out/shard-{shard}","message":null,"started_seconds":96,"rerun":null}}"#
        );
        results.push('\n');
    }
    dir.write("results.jsonl", results)
}

#[test]
fn the_seed_is_in_the_summary_the_timeline_and_the_outputs() {
    // Issue 26 item 11: a 95 s seed read as shards that started late.
    let dir = Dir::new();
    let results = seeded_run(&dir, 0.0);
    let summary = tool("stack-report")
        .arg("--results")
        .arg(&results)
        .succeeds();
    assert!(
        summary
            .stdout
            .contains("\nSeed `0a1b2c3d4e5f6789`: ✅ made in 1 min 36 s.\n"),
        "{}",
        summary.stdout
    );
    assert!(
        summary.stdout.contains(
            "2 shards in 26.0 s from the first start-up to the last teardown; \
             2 min 2 s from the seed's start: 2 passed."
        ),
        "{}",
        summary.stdout
    );
    assert!(!summary.stdout.contains("⚠️"), "{}", summary.stdout);
    assert_eq!(summary.stderr, "");
    let svg = tool("stack-report")
        .arg("--results")
        .arg(&results)
        .args(["--format", "svg"])
        .succeeds()
        .stdout;
    assert!(
        svg.contains(
            "<g id=\"seed\"><text x=\"58\" y=\"19\" text-anchor=\"end\">seed</text>\
             <rect class=\"seed\" x=\"64\" y=\"8\" width=\"501.02\" height=\"14\">\
             <title>seed 0a1b2c3d4e5f6789 made: 1 min 36 s</title></rect></g>"
        ),
        "{svg}"
    );
    // The shards' rows come below the seed's.
    assert!(
        svg.contains("<g id=\"shard-1\"><text x=\"58\" y=\"41\""),
        "{svg}"
    );
    let outputs = tool("stack-report")
        .args(["--format", "outputs", "--results"])
        .arg(&results)
        .succeeds()
        .stdout;
    assert!(
        outputs.ends_with("seed_seconds=95.5\nseed_status=passed\n"),
        "{outputs}"
    );
}

#[test]
fn a_seeded_run_whose_shards_made_their_database_again_is_reported() {
    // Issue 26 item 9: the seed made test_NAME_gw0 under xdist, the shards
    // made test_NAME from scratch, and nothing said so.
    let dir = Dir::new();
    let results = seeded_run(&dir, 12.0);
    let summary = tool("stack-report")
        .arg("--results")
        .arg(&results)
        .succeeds();
    let said = "the run was seeded, yet 2 of its shards spent seconds in session setup \
                (shard 1 12.0 s, shard 2 12.0 s): they made their database again instead \
                of reusing the seed's.";
    assert!(
        summary.stdout.contains(&format!("⚠️ {said}")),
        "{}",
        summary.stdout
    );
    assert!(
        summary
            .stderr
            .starts_with(&format!("stack-report: warning: {said}")),
        "{}",
        summary.stderr
    );
    assert!(
        summary.stderr.contains("`-p no:xdist`"),
        "{}",
        summary.stderr
    );
}
