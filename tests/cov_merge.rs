//! cov-merge against coverage.py itself: a small Python project's tests run in
//! three shards under `coverage run --branch`, and every merge cov-merge makes
//! of the shards' reports is checked against `coverage combine` followed by
//! coverage.py's own report of the combined data.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::util::{Dir, bin, fixture, tool};

/// The test modules each shard runs.
const SHARDS: [&str; 3] = ["pricing", "cart", "stock"];

/// The project after its shards ran: per-shard reports `<shard>.json`,
/// `.xml`, `.info`, and coverage.py's reports of the combined data
/// `combined.json`, `.xml`, `.info`, `.txt`. Made once for all tests.
struct Project {
    dir: Dir,
}

impl Project {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn shards(&self, ext: &str) -> Vec<PathBuf> {
        SHARDS
            .iter()
            .map(|shard| self.path(&format!("{shard}.{ext}")))
            .collect()
    }

    fn read(&self, name: &str) -> String {
        self.dir.read(name)
    }
}

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let dir = Dir::new();
        copy_tree(&fixture("cov-merge/project"), dir.path());
        for shard in SHARDS {
            let data = format!(".coverage.{shard}");
            let test = format!("tests/test_{shard}.py");
            coverage(
                dir.path(),
                &["run", "--branch", &format!("--data-file={data}")],
                &["-m", "pytest", "-q", "-p", "no:cacheprovider", &test],
            );
            for (report, ext) in [("json", "json"), ("xml", "xml"), ("lcov", "info")] {
                let out = format!("{shard}.{ext}");
                coverage(
                    dir.path(),
                    &[report, &format!("--data-file={data}"), "-q", "-o", &out],
                    &[],
                );
            }
        }
        let data: Vec<String> = SHARDS.iter().map(|s| format!(".coverage.{s}")).collect();
        let mut combine = vec!["combine", "--keep", "-q", "--data-file=.coverage"];
        combine.extend(data.iter().map(String::as_str));
        coverage(dir.path(), &combine, &[]);
        for (report, ext) in [("json", "json"), ("xml", "xml"), ("lcov", "info")] {
            coverage(
                dir.path(),
                &[report, "-q", "-o", &format!("combined.{ext}")],
                &[],
            );
        }
        let table = coverage(dir.path(), &["report", "--show-missing"], &[]);
        dir.write("combined.txt", table);
        Project { dir }
    })
}

/// Run `python3 -m coverage ARGS REST` in `dir`; its stdout.
fn coverage(dir: &Path, args: &[&str], rest: &[&str]) -> String {
    let output = Command::new("python3")
        .args(["-m", "coverage"])
        .args(args)
        .args(rest)
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 -m coverage runs (pip install coverage pytest)");
    assert!(
        output.status.success(),
        "coverage {args:?} {rest:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A JSON report without what only says when and by which version it was made.
fn json_data(text: &str) -> serde_json::Value {
    let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
    let meta = value["meta"].as_object_mut().unwrap();
    meta.remove("timestamp");
    meta.remove("version");
    value
}

/// An XML document as a tree of (name, attributes, text, children), without
/// comments and the root's timestamp and version.
#[derive(Debug, PartialEq)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

fn xml_data(text: &str) -> Element {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack = vec![Element {
        name: String::new(),
        attrs: vec![],
        text: String::new(),
        children: vec![],
    }];
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => stack.last_mut().unwrap().children.push(element(&e)),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Text(t) => stack.last_mut().unwrap().text += &t.unescape().unwrap(),
            Event::Eof => break,
            _ => {}
        }
    }
    let mut root = stack.pop().unwrap().children.pop().unwrap();
    root.attrs
        .retain(|(k, _)| k != "timestamp" && k != "version");
    root
}

fn element(e: &quick_xml::events::BytesStart) -> Element {
    let mut attrs: Vec<(String, String)> = e
        .attributes()
        .map(|a| {
            let a = a.unwrap();
            let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
            (key, a.unescape_value().unwrap().into_owned())
        })
        .collect();
    attrs.sort();
    Element {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs,
        text: String::new(),
        children: vec![],
    }
}

fn merge(args: &[&str], inputs: &[PathBuf]) -> String {
    tool("cov-merge")
        .args(args)
        .args(inputs)
        .current_dir(project().dir.path())
        .succeeds()
        .stdout
}

#[test]
fn json_shards_merge_to_coverage_combine_json() {
    let p = project();
    let merged = merge(&["--format", "json"], &p.shards("json"));
    assert_eq!(json_data(&merged), json_data(&p.read("combined.json")));
}

#[test]
fn json_shards_merge_to_coverage_combine_xml() {
    let p = project();
    let merged = merge(&["--format", "cobertura"], &p.shards("json"));
    assert_eq!(xml_data(&merged), xml_data(&p.read("combined.xml")));
}

#[test]
fn coverage_py_cobertura_shards_merge_exactly() {
    let p = project();
    let merged = merge(&[], &p.shards("xml"));
    assert_eq!(xml_data(&merged), xml_data(&p.read("combined.xml")));
    // No shard alone has these branch numbers: the merge reconstructs the
    // exits from missing-branches rather than adding up condition counts.
    assert!(merged.contains("branches-valid=\"32\" branches-covered=\"27\""));
}

#[test]
fn text_output_is_coverage_report_show_missing() {
    let p = project();
    let merged = merge(&["--format", "text"], &p.shards("xml"));
    assert_eq!(merged, p.read("combined.txt"));
    assert!(merged.ends_with("TOTAL                     106      4     32      5    93%\n"));
}

#[test]
fn lcov_output_is_coverage_lcov() {
    let p = project();
    assert_eq!(
        merge(&["--format", "lcov"], &p.shards("json")),
        p.read("combined.info")
    );
}

#[test]
fn lcov_shards_merge_to_the_same_lines_and_branches() {
    let p = project();
    let merged = merge(&[], &p.shards("info"));
    let from_json = merge(&["--format", "lcov"], &p.shards("json"));
    // LCOV adds hit counts up; lines and branches covered are the same.
    let coverage_of = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("FN"))
            .map(|l| match l.strip_prefix("DA:") {
                Some(da) => {
                    format!("DA:{}", da.split(',').next().unwrap())
                        + if da.ends_with(",0") { ",0" } else { ",hit" }
                }
                None => l.to_string(),
            })
            .collect()
    };
    assert_eq!(coverage_of(&merged), coverage_of(&from_json));
    assert!(merged.contains("BRF:12\nBRH:10\n"), "{merged}");
}

#[test]
fn output_does_not_depend_on_input_order() {
    let p = project();
    let mut shards = p.shards("json");
    let forward = merge(&["--format", "cobertura"], &shards);
    shards.reverse();
    assert_eq!(merge(&["--format", "cobertura"], &shards), forward);
    shards.swap(0, 1);
    let json = merge(&["--format", "json"], &shards);
    shards.reverse();
    assert_eq!(merge(&["--format", "json"], &shards), json);
}

#[test]
fn map_rewrites_container_paths() {
    let p = project();
    // A shard that ran elsewhere (as in a container at /code): coverage.py
    // names files outside the current folder by their absolute path.
    let dir = Dir::new();
    let code = dir.join("code");
    copy_tree(&fixture("cov-merge/project"), &code);
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let test = code.join("tests/test_stock.py");
    let output = Command::new("python3")
        .args(["-m", "coverage", "run", "--branch", "-m", "pytest", "-q"])
        .args(["-p", "no:cacheprovider", "--rootdir"])
        .arg(&code)
        .arg(&test)
        .current_dir(&elsewhere)
        .env("PYTHONPATH", &code)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    coverage(&elsewhere, &["json", "-q", "-o", "stock.json"], &[]);
    let shard = std::fs::read_to_string(elsewhere.join("stock.json")).unwrap();
    let absolute = format!("\"{}/shop/stock.py\"", code.display());
    assert!(shard.contains(&absolute), "{shard}");

    let map = format!("{}=.", code.display());
    let mut inputs = p.shards("json");
    inputs[2] = elsewhere.join("stock.json");
    let merged = merge(&["--format", "json", "--map", &map], &inputs);
    let merged = json_data(&merged);
    let expected = json_data(&p.read("combined.json"));
    assert_eq!(
        merged["files"]["shop/stock.py"],
        expected["files"]["shop/stock.py"]
    );
    assert_eq!(
        merged["totals"]["percent_covered"],
        expected["totals"]["percent_covered"]
    );
}

#[test]
fn fail_under_compares_like_coverage_py() {
    let p = project();
    // The total is 129/138 = 93.478…%, shown as 93.
    let dir = Dir::new();
    let out = dir.join("coverage.xml");
    let failed = tool("cov-merge")
        .args(["--format", "cobertura", "--fail-under", "95", "-o"])
        .arg(&out)
        .args(p.shards("json"))
        .current_dir(p.dir.path())
        .run()
        .code(1);
    assert_eq!(
        failed.stderr,
        "cov-merge: total of 93 is less than fail-under=95\n"
    );
    assert!(
        dir.read("coverage.xml").contains("line-rate=\"0.9623\""),
        "report still written"
    );
    for (threshold, code) in [("93", 0), ("93.5", 0), ("93.49", 1), ("100", 1)] {
        tool("cov-merge")
            .args(["--format", "text", "--fail-under", threshold])
            .args(p.shards("json"))
            .run()
            .code(code);
    }
}

#[test]
fn branch_data_does_not_mix_with_statement_data() {
    let p = project();
    let dir = Dir::new();
    copy_tree(&fixture("cov-merge/project"), dir.path());
    coverage(
        dir.path(),
        &["run"],
        &[
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_stock.py",
        ],
    );
    coverage(dir.path(), &["json", "-q", "-o", "statements.json"], &[]);
    let mut inputs = p.shards("json");
    inputs.push(dir.join("statements.json"));
    tool("cov-merge")
        .args(&inputs)
        .run()
        .fails_with(2, "cannot combine branch coverage data");
}

#[test]
fn malformed_inputs_name_file_and_position() {
    let p = project();
    let dir = Dir::new();
    let json = p.read("cart.json");
    let truncated = dir.write("truncated.json", &json[..json.len() / 2]);
    let out = dir.write("merged.json", "old");
    tool("cov-merge")
        .arg(p.path("pricing.json"))
        .arg(&truncated)
        .arg("-o")
        .arg(&out)
        .run()
        .fails_with(
            2,
            &format!(
                "{}: not a valid coverage.py JSON report: EOF while parsing",
                truncated.display()
            ),
        );
    assert_eq!(dir.read("merged.json"), "old", "-o file left alone");

    let xml = p.read("cart.xml").replacen("</lines>", "</line>", 1);
    let bad = dir.write("bad.xml", xml);
    let failed = tool("cov-merge").arg(&bad).run().code(2);
    let line = p
        .read("cart.xml")
        .lines()
        .position(|l| l.contains("</lines>"))
        .unwrap()
        + 1;
    assert!(
        failed
            .stderr
            .starts_with(&format!("cov-merge: {}:{line}:", bad.display())),
        "{}",
        failed.stderr
    );
    assert_eq!(failed.stdout, "");

    let lcov = dir.write("bad.info", "SF:a.py\nDA:x,1\nend_of_record\n");
    tool("cov-merge")
        .arg(&lcov)
        .run()
        .fails_with(2, &format!("{}:2: bad DA record", lcov.display()));
    let text = dir.write("notes.txt", "hello\n");
    tool("cov-merge")
        .arg(&text)
        .run()
        .fails_with(2, "not a coverage report");
}

#[test]
fn stdin_is_a_report_too() {
    let p = project();
    let merged = tool("cov-merge")
        .args(["--format", "json", "-"])
        .arg(p.path("cart.json"))
        .arg(p.path("stock.json"))
        .stdin(p.read("pricing.json"))
        .current_dir(p.dir.path())
        .succeeds()
        .stdout;
    assert_eq!(json_data(&merged), json_data(&p.read("combined.json")));
}

/// Shard reports written by older coverage.py versions (JSON format 1 with
/// and without branch arcs, 2, and 3 before docstrings left the executed
/// lines), with what that version's `coverage combine` made of them.
const VERSIONS: [&str; 5] = ["6.4.4", "6.5.0", "7.2.7", "7.5.4", "7.10.7"];

fn version_shards(version: &str, ext: &str) -> Vec<PathBuf> {
    SHARDS
        .iter()
        .map(|shard| fixture(&format!("cov-merge/coverage-{version}/{shard}.{ext}")))
        .collect()
}

fn version_combined(version: &str, ext: &str) -> String {
    std::fs::read_to_string(fixture(&format!(
        "cov-merge/coverage-{version}/combined.{ext}"
    )))
    .unwrap()
}

/// Merge in the project folder, where the sources are (as in CI).
fn merge_in_project(args: &[&str], inputs: &[PathBuf]) -> crate::util::Outcome {
    tool("cov-merge")
        .args(args)
        .args(inputs)
        .current_dir(fixture("cov-merge/project"))
        .succeeds()
}

/// The XML tree without `<sources>`, which names the folder the fixture was made in.
fn xml_without_sources(text: &str) -> Element {
    let mut root = xml_data(text);
    root.children.retain(|child| child.name != "sources");
    root
}

#[test]
fn older_coverage_py_json_merges_as_that_version_combines() {
    for version in &VERSIONS[1..] {
        let merged = merge_in_project(&["--format", "json"], &version_shards(version, "json"));
        let mut merged = json_data(&merged.stdout);
        let expected = json_data(&version_combined(version, "json"));
        // Newer keys (format, per-kind percentages, start_line) aside.
        keep_keys_of(&mut merged, &expected);
        assert_eq!(merged, expected, "coverage.py {version}");
        let xml = merge_in_project(&["--format", "cobertura"], &version_shards(version, "json"));
        let combined = version_combined(version, "xml");
        assert_eq!(
            xml_without_sources(&xml.stdout),
            xml_without_sources(&combined),
            "coverage.py {version}"
        );
    }
}

#[test]
fn older_coverage_py_cobertura_merges_exactly() {
    for version in VERSIONS {
        let merged = merge_in_project(&[], &version_shards(version, "xml"));
        let combined = version_combined(version, "xml");
        assert_eq!(
            xml_without_sources(&merged.stdout),
            xml_without_sources(&combined),
            "coverage.py {version}"
        );
    }
}

#[test]
fn json_without_branch_arcs_merges_to_a_lower_bound() {
    // coverage.py before 6.5 counted branches per file but did not name them.
    let merged = merge_in_project(&["--format", "json"], &version_shards("6.4.4", "json"));
    assert!(
        merged.stderr.contains("pricing.json: branch exits are counted, not named: merged branch coverage is a lower bound"),
        "{}",
        merged.stderr
    );
    let merged = json_data(&merged.stdout);
    let exact = json_data(&version_combined("6.4.4", "json"));
    let pricing = |report: &serde_json::Value, key: &str| {
        report["files"]["shop/pricing.py"]["summary"][key]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        pricing(&merged, "num_branches"),
        pricing(&exact, "num_branches")
    );
    assert_eq!(pricing(&merged, "covered_branches"), 9);
    assert_eq!(pricing(&exact, "covered_branches"), 10);
    assert_eq!(
        merged["totals"]["covered_lines"],
        exact["totals"]["covered_lines"]
    );
}

/// Drop from `value` every object key `reference` does not have.
fn keep_keys_of(value: &mut serde_json::Value, reference: &serde_json::Value) {
    if let (Some(object), Some(reference)) = (value.as_object_mut(), reference.as_object()) {
        object.retain(|key, _| reference.contains_key(key));
        for (key, child) in object.iter_mut() {
            keep_keys_of(child, &reference[key]);
        }
    }
}

#[test]
fn source_setting_names_files_like_coverage_xml() {
    // With `source = shop` configured (or pytest --cov=shop), coverage.py
    // names files under shop/ relative to it in its XML, and reports files
    // no test imported as missed entirely.
    let dir = Dir::new();
    copy_tree(&fixture("cov-merge/project"), dir.path());
    dir.write(".coveragerc", "[run]\nsource = shop\n");
    let mut data = vec![];
    for shard in ["pricing", "stock"] {
        let file = format!(".coverage.{shard}");
        let test = format!("tests/test_{shard}.py");
        let run = [
            "run",
            "--branch",
            "--source=shop",
            &format!("--data-file={file}"),
        ];
        coverage(
            dir.path(),
            &run,
            &["-m", "pytest", "-q", "-p", "no:cacheprovider", &test],
        );
        let json = [
            &format!("--data-file={file}"),
            "-q",
            "-o",
            &format!("{shard}.json"),
        ];
        coverage(dir.path(), &[&["json"], &json[..]].concat(), &[]);
        data.push(file);
    }
    let mut combine = vec!["combine", "--keep", "-q", "--data-file=.coverage"];
    combine.extend(data.iter().map(String::as_str));
    coverage(dir.path(), &combine, &[]);
    coverage(dir.path(), &["xml", "-q", "-o", "combined.xml"], &[]);
    coverage(dir.path(), &["json", "-q", "-o", "combined.json"], &[]);

    let shards = [dir.join("pricing.json"), dir.join("stock.json")];
    let merged = tool("cov-merge")
        .args(["--format", "cobertura", "--source", "shop"])
        .args(&shards)
        .current_dir(dir.path())
        .succeeds()
        .stdout;
    assert_eq!(xml_data(&merged), xml_data(&dir.read("combined.xml")));
    let source = format!("<source>{}/shop</source>", dir.path().display());
    assert!(merged.contains(&source), "{merged}");
    assert!(
        merged
            .contains("filename=\"unused.py\" complexity=\"0\" line-rate=\"0\" branch-rate=\"0\""),
        "{merged}"
    );
    let json = tool("cov-merge")
        .args(["--format", "json"])
        .args(&shards)
        .succeeds()
        .stdout;
    assert_eq!(json_data(&json), json_data(&dir.read("combined.json")));
}

/// A coverage.py JSON report (format 2, statements only) of the given file
/// entries.
fn json_report(files: &[(&str, &str, &str, &str)]) -> String {
    let entries: Vec<String> = files
        .iter()
        .map(|(name, executed, missing, summary)| {
            format!(
                r#""{name}": {{"executed_lines": [{executed}], "summary": {{{summary}}}, "missing_lines": [{missing}], "excluded_lines": []}}"#
            )
        })
        .collect();
    format!(
        r#"{{"meta": {{"format": 2, "version": "7.6.1", "timestamp": "2026-11-26T09:14:37.976733", "branch_coverage": false, "show_contexts": false}}, "files": {{{}}}}}"#,
        entries.join(", ")
    )
}

#[test]
fn a_summary_with_fewer_statements_than_missed_lines_is_refused() {
    let dir = Dir::new();
    let summary = r#""covered_lines": 10, "num_statements": 1, "percent_covered_display": "100""#;
    let report = dir.write(
        "c.json",
        json_report(&[("a.py", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10", "11, 12", summary)]),
    );
    tool("cov-merge")
        .args(["--fail-under", "90"])
        .arg(&report)
        .run()
        .fails_with(
            2,
            "not a valid coverage.py JSON report: a.py: its summary says 1 statements, but 2 lines are missing",
        );
}

#[test]
fn precision_past_what_can_be_shown_is_refused() {
    let dir = Dir::new();
    let summary = r#""num_statements": 2, "percent_covered_display": "50.0""#;
    let report = dir.write("ok.json", json_report(&[("a.py", "1", "2", summary)]));
    tool("cov-merge")
        .args(["--precision", "70000"])
        .arg(&report)
        .run()
        .fails_with(2, "70000 is not in 0..=100");
    let run = tool("cov-merge")
        .args(["--precision", "100", "--format", "text"])
        .arg(&report)
        .succeeds();
    assert!(
        run.stdout.contains(&format!("50.{}%", "0".repeat(100))),
        "{}",
        run.stdout
    );
    let decimals = format!(
        r#""num_statements": 2, "percent_covered_display": "50.{}""#,
        "0".repeat(65_536)
    );
    let long = dir.write("long.json", json_report(&[("a.py", "1", "2", &decimals)]));
    tool("cov-merge").arg(&long).run().fails_with(
        2,
        "a.py: percent_covered_display has 65536 decimals, more than 100",
    );
}

#[test]
fn a_report_cannot_steer_the_docstring_check_into_devices_or_fifos() {
    let dir = Dir::new();
    let fifo = dir.join("fifo.py");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.py")).unwrap();
    // Two executed lines, one statement: the check looks for a docstring.
    let summary = r#""num_statements": 1, "percent_covered_display": "100""#;
    let files: Vec<(&str, &str, &str, &str)> =
        ["/dev/zero", "fifo.py", "zero.py", "../../etc/passwd"]
            .into_iter()
            .map(|name| (name, "1, 2", "", summary))
            .collect();
    let report = dir.write("c.json", json_report(&files));
    let mut child = Command::new(bin("cov-merge"))
        .args(["--format", "lcov"])
        .arg(&report)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("cov-merge still reads what the report names after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let lcov = String::from_utf8(output.stdout).unwrap();
    // Nothing read, nothing moved: both lines stay statements.
    assert_eq!(lcov.matches("DA:2,1").count(), 4, "{lcov}");
}

#[test]
fn a_cobertura_report_has_one_root() {
    let dir = Dir::new();
    let two = dir.write(
        "two.xml",
        "<?xml version=\"1.0\" ?>\n<coverage version=\"1\"><packages/></coverage>\n<coverage version=\"2\"><packages/></coverage>\n",
    );
    tool("cov-merge").arg(&two).run().fails_with(
        2,
        "two.xml:3:23: not a valid Cobertura report: a second root element",
    );
}

/// A Cobertura report of one file with the given `<line>` elements.
fn cobertura(timestamp: &str, lines: &str) -> String {
    format!(
        "<?xml version=\"1.0\" ?>\n<coverage version=\"1\" timestamp=\"{timestamp}\" branch-rate=\"0.5\" branches-valid=\"2\"><packages><package name=\".\"><classes>\
         <class name=\"a.py\" filename=\"a.py\"><lines>{lines}</lines></class></classes></package></packages></coverage>\n"
    )
}

#[test]
fn hit_counts_past_u64_are_an_error_not_a_wrap() {
    let dir = Dir::new();
    let lcov = dir.write(
        "a.info",
        "SF:a.py\nDA:1,18446744073709551615\nend_of_record\n",
    );
    let other = dir.write("b.info", "SF:a.py\nDA:1,1\nend_of_record\n");
    tool("cov-merge").arg(&lcov).arg(&other).run().fails_with(
        2,
        "b.info: the hit counts of a.py: numbers add up past 18446744073709551615",
    );
    let twice = dir.write(
        "twice.info",
        "SF:a.py\nDA:1,18446744073709551615\nDA:1,1\nend_of_record\n",
    );
    tool("cov-merge")
        .arg(&twice)
        .run()
        .fails_with(2, "twice.info:3: bad DA record");
    let xml = dir.write(
        "c.xml",
        cobertura(
            "0",
            r#"<line number="1" hits="18446744073709551615"/><line number="1" hits="1"/>"#,
        ),
    );
    tool("cov-merge")
        .arg(&xml)
        .run()
        .fails_with(2, "the hits of line 1: numbers add up past");
    let float = dir.write(
        "f.xml",
        cobertura("0", r#"<line number="1" hits="1e400"/>"#),
    );
    tool("cov-merge")
        .arg(&float)
        .run()
        .fails_with(2, "hits \"1e400\" of line 1 is not a count");
}

#[test]
fn condition_coverage_past_u32_is_an_error_not_a_wrap() {
    let dir = Dir::new();
    let line = |number| {
        format!(
            r#"<line number="{number}" hits="1" branch="true" condition-coverage="50% (1/4294967295)"/>"#
        )
    };
    let xml = dir.write("c.xml", cobertura("0", &(line(1) + &line(2))));
    tool("cov-merge")
        .args(["--format", "cobertura"])
        .arg(&xml)
        .run()
        .fails_with(2, "of line 1: more than 65536 exits");
}

#[test]
fn timestamps_past_their_range_are_unknown_not_wrapped() {
    let dir = Dir::new();
    let xml = dir.write(
        "c.xml",
        cobertura("18446744073709551615", r#"<line number="1" hits="1"/>"#),
    );
    let merged = tool("cov-merge")
        .args(["--format", "cobertura"])
        .arg(&xml)
        .succeeds()
        .stdout;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let stamp: u64 = merged
        .split("timestamp=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(stamp.abs_diff(now_ms) < 3_600_000, "{stamp} is not now");
    let json = json_report(&[("a.py", "1", "", r#""num_statements": 1"#)]).replace(
        "2026-11-26T09:14:37.976733",
        "9223372036854775807-01-01T00:00:00",
    );
    let report = dir.write("c.json", json);
    let merged = tool("cov-merge").arg(&report).succeeds().stdout;
    assert!(!merged.contains("9223372036854775807"), "{merged}");
}

#[test]
fn a_file_name_xml_cannot_carry_is_refused_not_written() {
    let dir = Dir::new();
    let lcov = dir.write("a.info", "SF:a\u{1}.py\nDA:1,1\nend_of_record\n");
    tool("cov-merge")
        .args(["--format", "cobertura"])
        .arg(&lcov)
        .run()
        .fails_with(2, "which XML cannot carry");
}

#[test]
fn a_map_that_matches_nothing_is_named() {
    // coverage.py's JSON of a run in /code already names files relatively:
    // `--map /code=.` then changes nothing, and says so.
    let p = project();
    let outcome = tool("cov-merge")
        .args(["--format", "json", "--map", "/code=.", "--map", "shop=shop"])
        .args(p.shards("json"))
        .current_dir(p.dir.path())
        .succeeds();
    assert_eq!(
        outcome.stderr,
        "cov-merge: warning: --map /code=. matched no file in the inputs\n"
    );
    assert_eq!(
        outcome.stdout,
        merge(&["--format", "json"], &p.shards("json"))
    );
}
