"""shardstack_session: one long-lived pytest session that runs batch after batch.

A pytest plugin owned by shardstack (standard library and pytest only, one
file) that turns a pytest process into a session server for stack-run: it
collects once, then runs the batches a driver sends it, keeping
session-scoped fixtures (a Django test database, a browser) alive between
batches. Load it with ``-p shardstack_session`` and this file's folder on
PYTHONPATH. It does nothing unless ``--shardstack-session=DIR`` or
``SHARDSTACK_SESSION_DIR=DIR`` is given. Write the option with ``=``: pytest
finds its rootdir before ``-p`` plugins add their options, so a separate
``DIR`` word would count as a test path there and move the rootdir (and
every node id) to a common parent of DIR and the tests.

The protocol: files in DIR, a folder both sides see (bind-mounted into the
container). Every file either side writes is written whole, to a temporary
name in DIR and renamed, so a reader never sees half of one.

Written by the session:

``collected.json``
    Once collection is over (it also says "ready"): ``protocol`` (1),
    ``ids`` (the collected node ids, in pytest's order, after -k/-m and
    deselection), ``pytest``, ``pytest_cov`` and ``coverage`` (installed
    versions, or null), ``cov_active`` (pytest-cov measures this session),
    ``python``, ``pid``, ``warnings`` (what the driver should show: plugins
    that reorder or rerun, --junit-xml) and ``collection_errors`` (a list of
    {"id", "message"}; when it is not empty and
    --continue-on-collection-errors is not given, the session ends there, as
    pytest would, exit status 2; a test named on the command line in a
    module that does not import ends it in pytest's own collection, exit
    status 4, and the file, ids empty, is written as the session ends).
``events.jsonl``
    One JSON object a line, flushed line by line, each with ``event`` and
    ``t`` (Unix time, seconds):
    ``batch_started`` (batch, tests, not_found),
    ``test_started`` (batch, id),
    ``test_ended`` (batch, id, outcome, duration, phase, reruns, message,
    details),
    ``batch_ended`` (batch, counts, duration),
    ``session_finished`` (batches, outcome, message).
    ``outcome`` is passed, failed, error, skipped, xfailed or xpassed (or
    the category a plugin reports, as pytest's terminal would show it);
    ``phase`` is the phase that failed (setup, call or teardown) or null;
    ``duration`` is the sum of the phases' durations, as JUnit's "total";
    ``message`` and ``details`` are what the test's JUnit failure, error or
    skip would say (its one line and its traceback, at most 64 Ki
    characters each), null
    for a test that passed: a driver whose session dies keeps them.
``batch-N.done.json``
    At the end of batch N: ``batch``, ``tests`` (how many ids it named),
    ``counts`` (per outcome, the six always present), ``not_found`` (ids
    the session did not collect; reported, never run), ``not_run`` (ids
    left when the session had to stop mid-batch: -x, --maxfail, a test
    calling ``session.shouldstop``), ``duration``, ``junit`` (the file
    written, or null), ``junit_error``, ``coverage_saved`` (true, false, or
    null when pytest-cov is not active), ``coverage_error``, ``error``
    (the batch file could not be read; nothing ran).
``stopped.json``
    When the session has finished its last teardown (session fixtures
    finalised): ``batches`` (how many ran), ``outcome`` (passed, or error
    when a session-scoped finaliser raised), ``message``, ``reason`` (stop,
    gone: DIR vanished, or what stopped the session mid-batch).

Written by the driver:

``batch-N.json``
    N = 1, 2, 3 ...: ``{"ids": [node ids, in the order to run them],
    "junit": "path.xml" or null}``. A relative ``junit`` path is taken from
    pytest's invocation folder (as --junit-xml is). It may be written before
    the session is ready; the session takes batch N+1 only after N.
``stop``
    Any content. Honoured when no ``batch-N.json`` is waiting: the session
    finalises its session-scoped fixtures, writes ``stopped.json`` and ends.
    A folder that disappears counts as a stop. SIGINT works as in pytest
    (KeyboardInterrupt: fixtures are finalised, no done file); SIGKILL loses
    the running batch only.

Give every session a fresh DIR: a DIR that holds a ``collected.json`` is
refused (exit status 4).

Reports: pass ``"junit"`` for a per-batch JUnit file; it is written by
pytest's own ``LogXML``, so it is what ``--junit-xml`` writes for those
tests (junit-merge reads it unchanged). A ``--junit-xml`` on the command
line still works, but pytest writes it only when the session ends, with
every batch's tests: merge the per-batch files instead. With pytest-cov
active, the coverage data is saved after every batch, so a session that
dies loses at most its running batch's lines; its data file stays beside
the others and pytest-cov's combine at the end of the next session in the
same folder takes it in.

Switched off: pytest-xdist distributing this session (-n N, --dist, as a
project's addopts often set): the session runs its tests in this one
process (stack-run runs its batches on N stacks instead), and says so in
``warnings``. Warned: pytest-randomly (its shuffle only changes the
order of collected.json; batches run in the order given; it still reseeds
``random`` before every test), pytest-rerunfailures (a failing test is
rerun inside the batch before its test_ended; ``reruns`` counts them).

Supported: Python >= 3.9, pytest 9.2 and pytest-cov 7.1 (with coverage
7.17), the versions tests/python/test_session_plugin.py pins and `make
setup` installs. The same tests also pass on pytest 8.4.2, pytest-cov 7.1.0,
coverage 7.10.7 and Python 3.9 (all but the test of the pinned version).

pytest internals this relies on (checked against pytest 9.2.0's source; the
tests pin them):

- ``_pytest.runner.SetupState.teardown_exact(nextitem)`` tears down the
  nodes on its stack that are not in ``nextitem.listchain()``, all of them
  when nextitem is None; it is reached through ``session._setupstate`` (set
  in ``_pytest.runner.pytest_sessionstart``) from ``pytest_runtest_teardown``,
  which receives the ``nextitem`` given to ``pytest_runtest_protocol``. The
  last item of a batch gets a stand-in whose ``listchain()`` is
  ``[session]``: modules, classes and packages are torn down, the session
  node and its fixtures stay. At stop, ``teardown_exact(None)`` runs once.
- ``_pytest.runner.runtestprotocol`` re-initialises an item run a second
  time (``item._initrequest()``), so a batch may name a test again.
- ``_pytest.junitxml.LogXML(logfile, prefix, suite_name, logging,
  report_duration, family, log_passing_tests)``, its hooks
  ``pytest_sessionstart``, ``pytest_runtest_logreport`` and
  ``pytest_sessionfinish`` (which writes the file), and ``xml_key``, the
  config stash key where ``record_xml_attribute`` and
  ``record_testsuite_property`` find it.
- pytest-cov (7.x): its plugin is registered as ``_cov``; ``_disabled``,
  ``cov_controller.cov`` (a ``coverage.Coverage``) and
  ``cov_controller.ensure_topdir()``. ``Coverage.save()`` may be called
  while measuring (coverage 7.17 renames the data file by its content hash
  on every save).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

import pytest

PROTOCOL = 1
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
POLL_SECONDS = 0.005


def pytest_addoption(parser):
    group = parser.getgroup("shardstack", "shardstack session server")
    group.addoption(
        "--shardstack-session",
        dest="shardstack_session",
        metavar="DIR",
        default=None,
        help="collect, then run the batches a driver writes to DIR/batch-N.json "
        "until DIR/stop (also: SHARDSTACK_SESSION_DIR)",
    )


def pytest_configure(config):
    folder = config.getoption("shardstack_session") or os.environ.get("SHARDSTACK_SESSION_DIR")
    if not folder or hasattr(config, "workerinput"):
        return
    xdist_off = _switch_off_xdist(config)
    folder = os.path.abspath(folder)
    if os.path.exists(os.path.join(folder, "collected.json")):
        raise pytest.UsageError(
            f"shardstack session: {folder} already holds a collected.json from another "
            "session; give every session a fresh, empty folder"
        )
    os.makedirs(folder, exist_ok=True)
    server = SessionServer(config, folder)
    if xdist_off:
        server.warnings.insert(0, xdist_off)
    config.pluginmanager.register(server, "shardstack_session_server")


def _switch_off_xdist(config):
    """Turn pytest-xdist's distribution off before its own (trylast)
    pytest_configure starts workers; what to say about it, or None."""
    workers = config.getoption("numprocesses", None)
    dist = config.getoption("dist", "no")
    if not workers and (not dist or dist == "no"):
        return None
    config.option.numprocesses = 0
    config.option.dist = "no"
    return (
        f"pytest-xdist was on (-n {workers}, --dist {dist}, from the command line or the "
        "project's addopts): switched off, the session runs its tests in one process"
    )


def _version(distribution):
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return None
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _write_json(path, data):
    """Write DATA to PATH whole: a temporary file in the same folder, renamed."""
    scratch = f"{os.path.dirname(path)}/.{os.path.basename(path)}.{os.getpid()}.tmp"
    with open(scratch, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1)
        out.write("\n")
    os.replace(scratch, path)


class _BatchEnd:
    """The next item a batch's last test is given: its chain is the session
    alone, so ``SetupState.teardown_exact`` tears down everything below the
    session (packages, modules, classes) and keeps the session's fixtures."""

    def __init__(self, session):
        self.session = session
        self.config = session.config
        self.nodeid = ""
        self.name = "shardstack-batch-end"
        self.parent = None
        self.location = ("", None, "")

    def listchain(self):
        return [self.session]

    def __repr__(self):
        return "<shardstack batch end>"


# The most of a test's message, and of its traceback, an event carries.
DETAILS_LIMIT = 64 * 1024


def _said(report):
    """What a report that did not pass says: its one line and its full text,
    as pytest's JUnit report would put them."""
    if hasattr(report, "wasxfail"):
        return (report.wasxfail or "expected to fail")[:DETAILS_LIMIT], ""
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ")[:DETAILS_LIMIT], ""
    crash = getattr(longrepr, "reprcrash", None)
    lines = str(longrepr).strip().splitlines()
    message = crash.message if crash is not None else (lines[-1] if lines else "")
    return message[:DETAILS_LIMIT], report.longreprtext[:DETAILS_LIMIT]


class _Outcome:
    """What one test's reports add up to."""

    def __init__(self):
        self.outcome = "passed"
        self.phase = None
        self.duration = 0.0
        self.reruns = 0
        self.message = self.details = None

    def add(self, category, report):
        if category == "rerun":
            # pytest-rerunfailures: this attempt failed and the test runs again.
            self.reruns += 1
            self.outcome, self.phase, self.duration = "passed", None, 0.0
            self.message = self.details = None
            return
        self.duration += getattr(report, "duration", 0.0) or 0.0
        if self.phase is not None or not category or category == "passed":
            return
        if category in ("failed", "error") or report.failed:
            self.outcome, self.phase = category, report.when
            self.message, self.details = _said(report)
        elif self.outcome == "passed":
            self.outcome = category
            self.message, self.details = _said(report)


class SessionServer:
    """Registered when the session is on: replaces pytest's run-test loop."""

    def __init__(self, config, folder):
        self.config = config
        self.folder = folder
        self.events = None
        self.batch = 0
        self.running = {}
        self.counts = {}
        self.collection_errors = []
        self.warnings = self._plugin_warnings()

    def _path(self, name):
        return os.path.join(self.folder, name)

    def _plugin_warnings(self):
        config, found = self.config, []
        manager = config.pluginmanager
        if manager.hasplugin("randomly") or manager.hasplugin("pytest_randomly"):
            found.append(
                "pytest-randomly is active: its shuffle only changes the order of "
                "collected.json; every batch runs in the order its file gives; it still "
                "reseeds random before each test (pass -p no:randomly to turn it off)"
            )
        if manager.hasplugin("rerunfailures") or manager.hasplugin("pytest_rerunfailures"):
            found.append(
                "pytest-rerunfailures is active: a failing test is rerun inside its batch "
                "before its test_ended event, whose reruns field counts the attempts, and "
                "its duration is the last attempt's"
            )
        if getattr(config.option, "xmlpath", None):
            found.append(
                f"--junit-xml {config.option.xmlpath} is written only when the session ends, "
                "with every batch's tests; merge the per-batch files (the batch's junit) instead"
            )
        return found

    # -- events ----------------------------------------------------------------

    def _event(self, kind, **fields):
        if self.events is None:
            self.events = open(self._path("events.jsonl"), "a", encoding="utf-8")
        record = {"event": kind, "t": round(time.time(), 6)}
        record.update(fields)
        self.events.write(json.dumps(record) + "\n")
        self.events.flush()

    def pytest_collectreport(self, report):
        if report.failed:
            message = str(report.longrepr).strip().splitlines()
            self.collection_errors.append(
                {"id": report.nodeid, "message": message[-1] if message else ""}
            )

    def pytest_runtest_logstart(self, nodeid, location):
        self.running[nodeid] = _Outcome()
        self._event("test_started", batch=self.batch, id=nodeid)

    def pytest_runtest_logreport(self, report):
        state = self.running.get(report.nodeid)
        if state is None:
            return
        status = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        category = status[0] if isinstance(status, tuple) else ""
        if not category and report.when == "call":
            category = report.outcome
        state.add(category, report)

    def pytest_runtest_logfinish(self, nodeid, location):
        state = self.running.pop(nodeid, None)
        if state is None:
            return
        self.counts[state.outcome] = self.counts.get(state.outcome, 0) + 1
        self._event(
            "test_ended",
            batch=self.batch,
            id=nodeid,
            outcome=state.outcome,
            duration=round(state.duration, 6),
            phase=state.phase,
            reruns=state.reruns,
            message=state.message,
            details=state.details,
        )

    # -- the loop --------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        self._write_collected(session)
        if self.collection_errors and not session.config.option.continue_on_collection_errors:
            count = len(self.collection_errors)
            raise session.Interrupted(f"{count} error{'s' if count != 1 else ''} during collection")
        if session.config.option.collectonly:
            return True
        items = {}
        for item in session.items:
            items.setdefault(item.nodeid, item)
        reason = self._serve(session, items)
        self._finish(session, reason)
        return True

    def pytest_sessionfinish(self, session):
        # A test named on the command line in a module that does not import
        # ends the collection in pytest itself ("found no collectors", exit
        # status 4), before the loop: the driver is told why all the same.
        if self.collection_errors and not os.path.exists(self._path("collected.json")):
            self._write_collected(session)

    def _write_collected(self, session):
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        for warning in self.warnings:
            if terminal is not None:
                terminal.write_line(f"shardstack session: {warning}", yellow=True)
        cov = self._cov_plugin()
        _write_json(
            self._path("collected.json"),
            {
                "protocol": PROTOCOL,
                "ids": [item.nodeid for item in getattr(session, "items", [])],
                "pytest": pytest.__version__,
                "pytest_cov": _version("pytest-cov"),
                "coverage": _version("coverage"),
                "cov_active": cov is not None,
                "python": platform.python_version(),
                "pid": os.getpid(),
                "warnings": self.warnings,
                "collection_errors": self.collection_errors,
            },
        )

    def _serve(self, session, items):
        """Run batches until a stop; the reason the serving ended."""
        while True:
            request = self._next_request()
            if request != "batch":
                return request
            self.batch += 1
            stopped = self._run_batch(session, items)
            if stopped:
                return stopped

    def _next_request(self):
        batch, stop = self._path(f"batch-{self.batch + 1}.json"), self._path("stop")
        while True:
            if os.path.exists(batch):
                return "batch"
            if os.path.exists(stop):
                return "stop"
            if not os.path.isdir(self.folder):
                return "gone"
            time.sleep(POLL_SECONDS)

    def _read_batch(self):
        with open(self._path(f"batch-{self.batch}.json"), encoding="utf-8") as source:
            request = json.load(source)
        ids, junit = request.get("ids"), request.get("junit")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError('"ids" must be a list of node ids')
        if junit is not None and not isinstance(junit, str):
            raise ValueError('"junit" must be a path or null')
        if junit is not None:
            junit = os.path.join(str(self.config.invocation_params.dir), junit)
        return ids, junit

    def _run_batch(self, session, items):
        """Run one batch and write its done file; a reason to stop, or None."""
        started = time.monotonic()
        done = {"batch": self.batch, "tests": 0, "counts": dict.fromkeys(OUTCOMES, 0)}
        done.update(not_found=[], not_run=[], duration=0.0, junit=None, junit_error=None)
        done.update(coverage_saved=None, coverage_error=None, error=None)
        try:
            ids, junit = self._read_batch()
        except (OSError, ValueError) as error:
            done["error"] = f"batch-{self.batch}.json: {error}"
            self._event("batch_started", batch=self.batch, tests=0, not_found=[])
            self._event("batch_ended", batch=self.batch, counts=done["counts"], duration=0.0)
            _write_json(self._path(f"batch-{self.batch}.done.json"), done)
            return None
        run = [items[i] for i in ids if i in items]
        done.update(tests=len(ids), not_found=[i for i in ids if i not in items])
        self._event("batch_started", batch=self.batch, tests=len(ids), not_found=done["not_found"])
        self.counts = {}
        report = _BatchJUnit(self.config, junit) if junit else None
        stopped = None
        try:
            stopped = self._run_items(session, run, done)
        finally:
            if report is not None:
                done["junit"], done["junit_error"] = report.finish()
        done["coverage_saved"], done["coverage_error"] = self._save_coverage()
        done["counts"].update(self.counts)
        done["duration"] = round(time.monotonic() - started, 6)
        self._event("batch_ended", batch=self.batch, counts=done["counts"], duration=done["duration"])
        _write_json(self._path(f"batch-{self.batch}.done.json"), done)
        return stopped

    def _run_items(self, session, run, done):
        hook = self.config.hook
        for index, item in enumerate(run):
            # The last item of a batch is given the stand-in, so only the
            # session node stays set up (see _BatchEnd).
            nextitem = run[index + 1] if index + 1 < len(run) else _BatchEnd(session)
            hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            # As pytest's own loop: -x, --maxfail or a plugin asked to stop.
            # runtestprotocol then tore everything down (nextitem=None).
            stop = session.shouldfail or session.shouldstop
            if stop:
                done["not_run"] = [later.nodeid for later in run[index + 1 :]]
                return str(stop)
        return None

    def _finish(self, session, reason):
        """The session's last teardown (nextitem=None), then stopped.json."""
        failure = pytest.CallInfo.from_call(
            lambda: session._setupstate.teardown_exact(None),
            when="teardown",
            reraise=(KeyboardInterrupt, SystemExit),
        )
        outcome, message = "passed", None
        if failure.excinfo is not None:
            outcome = "error"
            message = str(failure.excinfo.getrepr(style="short"))
            session.testsfailed += 1
            terminal = self.config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None:
                terminal.write_sep("_", "shardstack session: error finalising session fixtures")
                terminal.write_line(message)
        self._event("session_finished", batches=self.batch, outcome=outcome, message=message)
        stopped = {"batches": self.batch, "outcome": outcome, "message": message, "reason": reason}
        if os.path.isdir(self.folder):
            _write_json(self._path("stopped.json"), stopped)
        if reason not in ("stop", "gone"):
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            raise session.Interrupted(session.shouldstop)

    # -- coverage --------------------------------------------------------------

    def _cov_plugin(self):
        plugin = self.config.pluginmanager.get_plugin("_cov")
        if plugin is None or getattr(plugin, "_disabled", False):
            return None
        return plugin

    def _save_coverage(self):
        """Save pytest-cov's data now: (saved, error), (None, None) without it."""
        plugin = self._cov_plugin()
        if plugin is None:
            return None, None
        controller = getattr(plugin, "cov_controller", None)
        cov = getattr(controller, "cov", None)
        if cov is None or not hasattr(controller, "ensure_topdir"):
            return False, "pytest-cov's plugin has no cov_controller.cov: an unsupported version"
        try:
            with controller.ensure_topdir():
                cov.save()
        except Exception as error:  # coverage's own errors: report, never crash the session
            return False, f"{type(error).__name__}: {error}"
        return True, None


class _BatchJUnit:
    """One batch's JUnit file, written by pytest's own LogXML.

    Built with the arguments ``_pytest.junitxml.pytest_configure`` uses, so
    the ini options (junit_family, junit_suite_name...) apply; while the
    batch runs it is registered as a plugin and is the LogXML in the config
    stash, so record_xml_attribute and record_testsuite_property write to
    it. Written to a temporary name and renamed."""

    def __init__(self, config, path):
        self.config = config
        self.path = os.path.normpath(os.path.abspath(path))
        self.xml, self.previous, self.error = None, None, None
        try:
            from _pytest.junitxml import LogXML, xml_key

            self.key = xml_key
            scratch = f"{self.path}.{os.getpid()}.tmp"
            self.xml = LogXML(
                scratch,
                config.option.junitprefix,
                config.getini("junit_suite_name"),
                config.getini("junit_logging"),
                config.getini("junit_duration_report"),
                config.getini("junit_family"),
                config.getini("junit_log_passing_tests"),
            )
        except (ImportError, AttributeError, ValueError) as error:
            self.error = f"pytest's junitxml plugin is not usable here ({error}); no JUnit written"
            return
        self.previous = config.stash.get(self.key, None)
        config.stash[self.key] = self.xml
        self.xml.pytest_sessionstart()
        config.pluginmanager.register(self.xml, f"shardstack-junit-{id(self)}")

    def finish(self):
        """Write the file; (path or None, error or None)."""
        if self.xml is None:
            return None, self.error
        self.config.pluginmanager.unregister(self.xml)
        if self.previous is not None:
            self.config.stash[self.key] = self.previous
        else:
            del self.config.stash[self.key]
        try:
            self.xml.pytest_sessionfinish()
            os.replace(self.xml.logfile, self.path)
        except OSError as error:
            return None, f"{self.path}: {error}"
        return self.path, None
