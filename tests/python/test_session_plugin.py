"""packaging/pytest/shardstack_session.py driven as stack-run will drive it.

Every test starts a real pytest process with the plugin on a small project
generated in tmp_path and acts as the driver: it writes batch files
whole (a temporary name, renamed), reads the events and done files, and
stops the session. Run with `python3 -m pytest tests/python` (the Rust suite
does, see tests/session_plugin.rs, and merges the per-batch JUnit files
this leaves in SHARDSTACK_SESSION_KEEP_JUNIT with junit-merge). The pytest-cov and xdist tests skip
when those are not installed, or fail when SHARDSTACK_SESSION_TESTS_STRICT=1
(as `cargo test` sets it: `make setup` installs the pinned versions).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "packaging" / "pytest"
STRICT = os.environ.get("SHARDSTACK_SESSION_TESTS_STRICT") == "1"
TIMEOUT = 60.0

# The versions whose internals the plugin relies on (see its docstring):
# these tests are what pins them.
PYTEST_TESTED = "9.2.0"
PYTEST_COV_TESTED = "7.1.0"


def need(module, why):
    if importlib.util.find_spec(module) is not None:
        return
    message = f"{module} is not installed for {sys.executable}: {why} (make setup installs it)"
    if STRICT:
        pytest.fail(message)
    pytest.skip(message)


CONFTEST = '''
import pytest
from pathlib import Path

LOG = Path(__file__).parent / "fixture.log"


def log(line):
    with LOG.open("a") as out:
        out.write(line + "\\n")


@pytest.fixture(scope="session")
def db():
    log("session setup")
    yield "db"
    log("session final")


@pytest.fixture
def broken():
    raise RuntimeError("this fixture breaks")


@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("this teardown breaks")
'''

TEST_OUTCOMES = '''
import pytest
import app


def test_pass(db):
    assert app.double(2) == 4


def test_fail(db):
    assert app.double(2) == 5


def test_setup_error(broken):
    pass


def test_teardown_error(bad_teardown):
    pass


def test_skip():
    pytest.skip("not today")


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False


@pytest.mark.xfail(reason="known, but it passes")
def test_xpass():
    pass
'''

TEST_MODULE = '''
import pytest
from conftest import log


@pytest.fixture(scope="module")
def shared():
    log("module setup")
    yield
    log("module teardown")


class TestGroup:
    def test_a(self, db, shared):
        pass

    def test_b(self, db, shared):
        pass
'''

APP = '''
def double(n):
    return n * 2


def unused(n):
    return n - 1
'''

OUTCOMES = "test_outcomes.py::"
MODULE = "test_module.py::TestGroup::"
OUTCOME_IDS = [
    OUTCOMES + name
    for name in (
        "test_pass",
        "test_fail",
        "test_setup_error",
        "test_teardown_error",
        "test_skip",
        "test_xfail",
        "test_xpass",
    )
]
MODULE_IDS = [MODULE + "test_a", MODULE + "test_b"]
ALL_IDS = MODULE_IDS + OUTCOME_IDS  # pytest's collection order: by file name


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "conftest.py").write_text(CONFTEST)
    (root / "test_outcomes.py").write_text(TEST_OUTCOMES)
    (root / "test_module.py").write_text(TEST_MODULE)
    (root / "app.py").write_text(APP)
    # An ini file pins the rootdir to the project, as a real project's does.
    (root / "pytest.ini").write_text("[pytest]\n")
    return root


def fixture_log(project):
    path = project / "fixture.log"
    return path.read_text().splitlines() if path.exists() else []


def write_whole(path, data):
    scratch = path.with_name("." + path.name + ".tmp")
    scratch.write_text(json.dumps(data))
    os.replace(scratch, path)


class Session:
    """A pytest session with the plugin, and the driver's side of the protocol."""

    def __init__(self, project, *args, env=None):
        self.project = project
        self.folder = project.parent / "session"
        self.batches = 0
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(PLUGIN_DIR)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
        )
        environment.pop("SHARDSTACK_SESSION_DIR", None)
        environment.update(env or {})
        self.log = (project.parent / "pytest.out").open("w+")
        command = [sys.executable, "-m", "pytest", "-p", "shardstack_session", "-p", "no:cacheprovider"]
        command += [f"--shardstack-session={self.folder}", "-rA", *args]
        self.process = subprocess.Popen(
            command, cwd=project, env=environment, stdout=self.log, stderr=subprocess.STDOUT
        )

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def wait_for(self, name):
        path = self.folder / name
        deadline = time.monotonic() + TIMEOUT
        while not path.exists():
            if self.process.poll() is not None and not path.exists():
                pytest.fail(f"pytest ended ({self.process.returncode}) before {name}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"no {name} after {TIMEOUT} s:\n{self.output()}")
            time.sleep(0.005)
        return json.loads(path.read_text())

    def collected(self):
        return self.wait_for("collected.json")

    def send(self, ids, junit=None):
        self.batches += 1
        write_whole(self.folder / f"batch-{self.batches}.json", {"ids": ids, "junit": junit})
        return self.batches

    def run(self, ids, junit=None):
        """Send a batch and wait for its done file."""
        return self.wait_for(f"batch-{self.send(ids, junit)}.done.json")

    def stop(self):
        (self.folder / "stop").write_text("")
        return self.wait()

    def wait(self):
        try:
            return self.process.wait(timeout=TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()

    def events(self, kind=None):
        lines = (self.folder / "events.jsonl").read_text().splitlines()
        events = [json.loads(line) for line in lines]
        return [e for e in events if kind is None or e["event"] == kind]

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def start(project):
    sessions = []

    def start(*args, **kwargs):
        session = Session(project, *args, **kwargs)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.close()


def test_the_tested_versions_are_the_ones_here():
    # The internals the plugin leans on are pinned by these tests on this pytest.
    assert pytest.__version__ == PYTEST_TESTED, "update PYTEST_TESTED once these tests pass on it"


def test_collected_json_lists_the_collected_ids_in_order(start):
    session = start()
    collected = session.collected()
    assert collected["protocol"] == 1
    assert collected["ids"] == ALL_IDS
    assert collected["pytest"] == pytest.__version__
    assert collected["pid"] == session.process.pid
    assert collected["collection_errors"] == []
    assert collected["warnings"] == []
    assert session.stop() == 0
    assert not (session.folder / "batch-1.done.json").exists()


def test_collected_ids_follow_the_command_line(start):
    session = start("test_module.py", "-k", "test_b")
    assert session.collected()["ids"] == [MODULE + "test_b"]
    assert session.stop() == 0


def test_two_batches_run_in_one_session_whose_fixture_is_set_up_once(start, project):
    session = start()
    session.collected()
    first = session.run([MODULE + "test_a", OUTCOMES + "test_pass"])
    assert first["counts"]["passed"] == 2
    # The module fixture went with the end of the batch; the session one stayed.
    assert fixture_log(project) == ["session setup", "module setup", "module teardown"]
    second = session.run([MODULE + "test_b", OUTCOMES + "test_pass"])
    assert second["counts"]["passed"] == 2
    assert fixture_log(project) == ["session setup"] + ["module setup", "module teardown"] * 2
    assert session.stop() == 0
    assert fixture_log(project).count("session setup") == 1
    assert fixture_log(project)[-1] == "session final"
    assert fixture_log(project).count("session final") == 1
    stopped = session.wait_for("stopped.json")
    assert stopped == {"batches": 2, "outcome": "passed", "message": None, "reason": "stop"}
    started = session.events("test_started")
    assert [(e["batch"], e["id"]) for e in started] == [
        (1, MODULE + "test_a"),
        (1, OUTCOMES + "test_pass"),
        (2, MODULE + "test_b"),
        (2, OUTCOMES + "test_pass"),
    ]
    kinds = [e["event"] for e in session.events()]
    assert kinds[0] == "batch_started" and kinds[-1] == "session_finished"
    assert kinds.count("batch_ended") == 2


def test_a_module_keeps_its_fixture_within_a_batch(start, project):
    session = start()
    session.collected()
    session.run([MODULE + "test_a", MODULE + "test_b"])
    assert fixture_log(project) == ["session setup", "module setup", "module teardown"]
    assert session.stop() == 0


def test_outcomes_in_events_and_done_files(start):
    session = start()
    session.collected()
    done = session.run(OUTCOME_IDS)
    assert done["counts"] == {
        "passed": 1,
        "failed": 1,
        "error": 2,
        "skipped": 1,
        "xfailed": 1,
        "xpassed": 1,
    }
    assert done["tests"] == 7
    assert done["not_found"] == [] and done["not_run"] == [] and done["error"] is None
    assert done["duration"] > 0
    ended = {e["id"].split("::")[-1]: e for e in session.events("test_ended")}
    assert {name: (e["outcome"], e["phase"]) for name, e in ended.items()} == {
        "test_pass": ("passed", None),
        "test_fail": ("failed", "call"),
        "test_setup_error": ("error", "setup"),
        "test_teardown_error": ("error", "teardown"),
        "test_skip": ("skipped", None),
        "test_xfail": ("xfailed", None),
        "test_xpass": ("xpassed", None),
    }
    assert all(e["batch"] == 1 and e["duration"] >= 0 and e["reruns"] == 0 for e in ended.values())
    # What each test's JUnit entry would say, kept should the session die.
    said = {name: e["message"] for name, e in ended.items()}
    assert said["test_pass"] is None and ended["test_pass"]["details"] is None
    assert said["test_fail"].startswith("assert 4 == 5"), said["test_fail"]
    assert "def test_fail(db):" in ended["test_fail"]["details"]
    assert said["test_skip"] == "not today" and said["test_xfail"] == "known"
    assert said["test_setup_error"] == "RuntimeError: this fixture breaks"
    assert "raise RuntimeError" in ended["test_setup_error"]["details"]
    batch_ended = session.events("batch_ended")
    assert batch_ended[0]["counts"] == done["counts"]
    # pytest's own exit status: tests failed.
    assert session.stop() == 1


def test_an_id_the_session_did_not_collect_is_reported(start):
    session = start()
    session.collected()
    unknown = OUTCOMES + "test_nobody_wrote"
    done = session.run([unknown, OUTCOMES + "test_pass"])
    assert done["not_found"] == [unknown]
    assert done["counts"]["passed"] == 1 and done["tests"] == 2
    assert session.events("batch_started")[0]["not_found"] == [unknown]
    # The session is still serving.
    assert session.run([OUTCOMES + "test_pass"])["counts"]["passed"] == 1
    assert session.stop() == 0


def test_a_batch_file_that_is_no_batch_is_reported_and_the_next_runs(start):
    session = start()
    session.collected()
    session.batches += 1
    (session.folder / "batch-1.json").write_text('{"ids": "not a list"}')
    done = session.wait_for("batch-1.done.json")
    assert "ids" in done["error"] and done["tests"] == 0
    assert session.run([OUTCOMES + "test_pass"])["counts"]["passed"] == 1
    assert session.stop() == 0


def test_a_batch_written_before_the_session_is_ready_runs(start):
    session = start()
    session.folder.mkdir()
    session.send([OUTCOMES + "test_pass"])
    assert session.wait_for("batch-1.done.json")["counts"]["passed"] == 1
    assert session.stop() == 0


def junit_cases(path):
    suite = ET.parse(path).getroot().find("testsuite")
    return suite, [(c.get("classname"), c.get("name")) for c in suite.iter("testcase")]


def normalised(xml):
    """pytest's JUnit without what differs between runs: times, timestamp, host."""
    xml = re.sub(r' (time|timestamp|hostname)="[^"]*"', r' \1="-"', xml)
    # Tracebacks name the line and the temporary folders' paths.
    xml = re.sub(r"0x[0-9a-f]+", "0x-", xml)
    return re.sub(r"/tmp/[^\s\"<:]*", "TMP", xml)


def test_per_batch_junit_holds_the_batchs_tests_as_pytest_writes_them(start, project, tmp_path):
    session = start()
    session.collected()
    first, second = tmp_path / "junit" / "batch-1.xml", "batch-2.xml"
    done = session.run(OUTCOME_IDS[:4], junit=str(first))
    assert done["junit"] == str(first) and done["junit_error"] is None
    # A relative path is taken from pytest's invocation folder, as --junit-xml's.
    done = session.run(OUTCOME_IDS[4:] + MODULE_IDS, junit=second)
    assert done["junit"] == str(project / second)
    assert session.stop() == 1

    suite, cases = junit_cases(first)
    assert cases == [("test_outcomes", n) for n in ("test_pass", "test_fail", "test_setup_error", "test_teardown_error")]
    # tests="4" on pytest 9; pytest 8 counts the teardown error's test twice,
    # as its own --junit-xml does (the comparison below).
    assert (suite.get("failures"), suite.get("errors")) == ("1", "2")
    suite, cases = junit_cases(project / second)
    assert [name for _, name in cases] == ["test_skip", "test_xfail", "test_xpass", "test_a", "test_b"]
    assert (suite.get("tests"), suite.get("skipped")) == ("5", "2")

    # The same tests through plain pytest --junit-xml: the same file, but for times.
    reference = tmp_path / "reference.xml"
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junit-xml={reference}", *OUTCOME_IDS[:4]],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 1, plain.stdout + plain.stderr
    assert normalised(first.read_text()) == normalised(reference.read_text())

    # The Rust suite hands these to junit-merge (tests/session_plugin.rs).
    keep = os.environ.get("SHARDSTACK_SESSION_KEEP_JUNIT")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for batch, path in enumerate([first, project / second], start=1):
            (Path(keep) / f"batch-{batch}.xml").write_bytes(path.read_bytes())


def test_junit_xml_on_the_command_line_is_warned_about(start, tmp_path):
    session = start(f"--junit-xml={tmp_path / 'whole.xml'}")
    warnings = session.collected()["warnings"]
    assert len(warnings) == 1 and "per-batch" in warnings[0]
    session.run([OUTCOMES + "test_pass"], junit=str(tmp_path / "one.xml"))
    assert session.stop() == 0
    assert junit_cases(tmp_path / "one.xml")[1] == [("test_outcomes", "test_pass")]
    assert junit_cases(tmp_path / "whole.xml")[1] == [("test_outcomes", "test_pass")]


def test_session_fixtures_are_finalised_at_stop_and_their_errors_reported(start, project):
    (project / "conftest.py").write_text(
        CONFTEST
        + textwrap.dedent(
            '''
            @pytest.fixture(scope="session", autouse=True)
            def fails_at_the_end():
                yield
                raise RuntimeError("the session fixture's finaliser broke")
            '''
        )
    )
    session = start()
    session.collected()
    assert session.run([OUTCOMES + "test_pass"])["counts"] == {
        "passed": 1, "failed": 0, "error": 0, "skipped": 0, "xfailed": 0, "xpassed": 0
    }
    assert session.stop() == 1
    stopped = session.wait_for("stopped.json")
    assert stopped["outcome"] == "error" and "finaliser broke" in stopped["message"]
    assert session.events()[-1]["outcome"] == "error"
    assert "finaliser broke" in session.output()


def test_exitfirst_ends_the_batch_and_the_session(start, project):
    session = start("-x")
    session.collected()
    done = session.run([OUTCOMES + "test_pass", OUTCOMES + "test_fail", MODULE + "test_a"])
    assert done["counts"]["failed"] == 1 and done["not_run"] == [MODULE + "test_a"]
    assert session.wait() == 1
    assert session.wait_for("stopped.json")["reason"].startswith("stopping after 1 failures")
    assert fixture_log(project)[-1] == "session final"


def test_a_folder_with_a_collected_json_is_refused(start):
    first = start()
    first.collected()
    assert first.stop() == 0
    second = start()
    assert second.wait() == 4
    assert "fresh" in second.output()


def test_a_collection_error_ends_the_session_after_collected_json(start, project):
    (project / "test_broken.py").write_text("import no_such_module\n")
    session = start()
    collected = session.collected()
    assert [e["id"] for e in collected["collection_errors"]] == ["test_broken.py"]
    assert "no_such_module" in collected["collection_errors"][0]["message"]
    assert session.wait() == 2


def test_a_named_test_in_a_module_that_does_not_import_is_a_collection_error(start, project):
    (project / "test_broken.py").write_text("import no_such_module\n\n\ndef test_x():\n    pass\n")
    session = start("test_broken.py::test_x")
    # pytest ends it in its own collection, before the session's loop.
    assert session.wait() == 4
    collected = json.loads((session.folder / "collected.json").read_text())
    assert collected["ids"] == []
    assert [e["id"] for e in collected["collection_errors"]] == ["test_broken.py"]
    assert "no_such_module" in collected["collection_errors"][0]["message"]


def test_without_a_folder_the_plugin_does_nothing(project):
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_DIR))
    env.pop("SHARDSTACK_SESSION_DIR", None)
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "shardstack_session", "-p", "no:cacheprovider", "-q"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 1
    assert "1 failed, 4 passed, 1 skipped, 1 xfailed, 1 xpassed, 2 errors" in plain.stdout


def test_the_folder_can_come_from_the_environment(project, tmp_path):
    folder = tmp_path / "from-env"
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_DIR), SHARDSTACK_SESSION_DIR=str(folder))
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "shardstack_session", "-p", "no:cacheprovider", "-q"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (folder / "collected.json").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert json.loads((folder / "collected.json").read_text())["ids"] == ALL_IDS
        (folder / "stop").write_text("")
        assert process.wait(timeout=TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_xdist_is_switched_off_and_said(start):
    need("xdist", "switching -n off is tested with pytest-xdist")
    session = start("-n", "2")
    collected = session.collected()
    assert collected["ids"] == ALL_IDS
    assert collected["warnings"][0].startswith("pytest-xdist was on (-n 2, --dist load")
    done = session.run([OUTCOMES + "test_pass"])
    assert done["counts"]["passed"] == 1
    # One process: the test ran in the session itself, not in a worker.
    events = [json.loads(line) for line in (session.folder / "events.jsonl").read_text().splitlines()]
    assert [e["id"] for e in events if e["event"] == "test_ended"] == [OUTCOMES + "test_pass"]
    assert session.stop() == 0


def test_coverage_is_saved_after_every_batch(start, project):
    need("pytest_cov", "per-batch coverage is tested with pytest-cov")
    from importlib.metadata import version

    import coverage

    assert version("pytest-cov") == PYTEST_COV_TESTED, "update PYTEST_COV_TESTED once these tests pass on it"
    session = start("--cov=app", "--cov-report=")
    collected = session.collected()
    assert collected["cov_active"] and collected["pytest_cov"] == PYTEST_COV_TESTED
    done = session.run([OUTCOMES + "test_pass"])
    assert done["coverage_saved"] is True and done["coverage_error"] is None
    # The session is alive, and its data is on disk: what a crash would leave.
    assert session.process.poll() is None
    files = [p for p in project.glob(".coverage.*") if not p.name.endswith(".tmp")]
    assert len(files) == 1, files
    data = coverage.CoverageData(str(files[0]))
    data.read()
    measured = {Path(f).name: sorted(data.lines(f)) for f in data.measured_files()}
    assert measured["app.py"] == [2, 3, 6]  # the defs and double's body, not unused's
    assert session.stop() == 0
    # pytest-cov's own end: one combined .coverage file.
    assert (project / ".coverage").exists()


def test_coverage_fields_are_null_without_pytest_cov(start):
    session = start("-p", "no:pytest_cov")
    session.collected()
    done = session.run([OUTCOMES + "test_pass"])
    assert done["coverage_saved"] is None and done["coverage_error"] is None
    assert session.stop() == 0


def test_xdist_switched_off_with_n_0_is_accepted(start):
    need("xdist", "-n 0 is tested with pytest-xdist")
    session = start("-n", "0")
    assert session.collected()["ids"] == ALL_IDS
    assert session.run([OUTCOMES + "test_pass"])["counts"]["passed"] == 1
    assert session.stop() == 0


def test_plugins_that_reorder_or_rerun_are_warned_about(start, project):
    # Stand-ins registered under the real plugins' names (their entry point
    # names): what is checked is the detection and the warning, not the plugins.
    (project / "randomly.py").write_text("")
    (project / "rerunfailures.py").write_text("")
    session = start("-p", "randomly", "-p", "rerunfailures")
    warnings = session.collected()["warnings"]
    assert [w.split(" ")[0] for w in warnings] == ["pytest-randomly", "pytest-rerunfailures"]
    assert "order its file gives" in warnings[0] and "reruns" in warnings[1]
    assert session.stop() == 0
    assert "shardstack session: pytest-randomly is active" in session.output()
