#!/usr/bin/env python3
"""Run a GitHub Actions workflow's jobs on this machine, as a runner would,
far enough to test what the workflow's shell does.

Jobs run in `needs` order, a matrix job once per combination, one after the
other. Each job gets its own workspace and RUNNER_TEMP under WORK and the
variables GitHub sets (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH,
GITHUB_STEP_SUMMARY, GITHUB_WORKSPACE, …), applied between steps as the
runner applies them. A `run:` step runs with `bash --noprofile --norc -eo
pipefail`, as GitHub runs bash. `uses:` of the action named by --action runs
that action.yml's composite steps with its inputs. actions/checkout copies
--checkout (its git-tracked files); actions/upload-artifact and
download-artifact copy into and out of WORK/artifacts with their path rules;
actions/cache restores its paths from WORK/caches/KEY (output cache-hit)
and, on a miss, saves them there once the job has succeeded, as its post
step does; any other action is skipped, and says so. `${{ }}` expressions
are evaluated for the contexts these workflows use: github, env, matrix,
steps, needs, inputs, runner, and always(), success(), failure(),
cancelled(), hashFiles().

The environment starts empty but for PATH, HOME and the --env pairs, so
nothing of the caller's CI leaks in. The jobs share this machine's Docker,
where GitHub gives each a fresh runner: --before-job runs a command (split
as a shell would, run by none) before each job, to take away what a fresh
runner would not have. WORK/report.json records every job:
its matrix, result, steps (outcome and outputs) and step summary.

Usage: run.py --workflow FILE --checkout DIR --action OWNER/NAME=DIR --work DIR
              [--env KEY=VALUE]... [--input KEY=VALUE]... [--event NAME]
              [--before-job COMMAND]
--input sets an input of every use of the --action action, over `with:`.
Exit status: 0 when every job succeeded, 1 when one failed, 2 on bad usage.
"""

import argparse
import fnmatch
import hashlib
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml


def log(message):
    print(f"workflow: {message}", file=sys.stderr, flush=True)


# ---- expressions -----------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|&&|\|\||[()!<>,.\[\]])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


class Expression:
    """A small recursive-descent evaluator of GitHub's expression syntax."""

    def __init__(self, text, contexts, functions):
        self.tokens = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = TOKEN.match(text, position)
            if not match or match.end() == position:
                raise ValueError(f"cannot read expression {text!r} at {position}")
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0
        self.contexts = contexts
        self.functions = functions

    def value(self):
        result = self.or_()
        if self.index != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.index]}")
        return result

    def peek(self):
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self, expected=None):
        kind, text = self.tokens[self.index]
        if expected is not None and text != expected:
            raise ValueError(f"expected {expected!r}, found {text!r}")
        self.index += 1
        return kind, text

    def or_(self):
        left = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            left = left if truthy(left) else right
        return left

    def and_(self):
        left = self.compare()
        while self.peek() == "&&":
            self.take()
            right = self.compare()
            left = right if truthy(left) else left
        return left

    def compare(self):
        left = self.unary()
        while self.peek() in ("==", "!=", "<", ">", "<=", ">="):
            _, op = self.take()
            right = self.unary()
            left = compare(left, op, right)
        return left

    def unary(self):
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self):
        kind, text = self.take()
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == "(":
            self.take()
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return self.functions[text](*args)
        value = self.contexts.get(text)
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = self.or_()
                self.take("]")
            value = value.get(str(key)) if isinstance(value, dict) else None
        return value


def truthy(value):
    return value not in (None, False, 0, 0.0, "")


def compare(left, op, right):
    """GitHub's loose comparison: numbers when both sides read as one,
    else strings, case-insensitively."""

    def number(value):
        if isinstance(value, bool):
            return float(value)
        if value is None or value == "":
            return 0.0
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    a, b = number(left), number(right)
    if a is None or b is None:
        a, b = str(left).lower(), str(right).lower()
    return {"==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def text_of(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def expand(value, contexts, functions):
    """A YAML value with every ${{ }} replaced by its value, as text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return text_of(value)
    return EMBEDDED.sub(lambda m: text_of(Expression(m.group(1), contexts, functions).value()), value)


def condition(text, contexts, functions):
    """A step's or job's `if:`, which may be bare or wrapped in ${{ }}."""
    if isinstance(text, bool):
        return text
    text = text.strip()
    whole = EMBEDDED.fullmatch(text)
    if whole:
        text = whole.group(1)
    return truthy(Expression(text, contexts, functions).value())


# ---- files the runner reads back --------------------------------------------


def read_pairs(path):
    """GITHUB_OUTPUT / GITHUB_ENV: `key=value` lines and `key<<EOF` blocks."""
    pairs = {}
    if not path.exists():
        return pairs
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            while lines[index] != delimiter:
                block.append(lines[index])
                index += 1
            index += 1
            pairs[key] = "\n".join(block)
        else:
            key, value = line.split("=", 1)
            pairs[key] = value
    return pairs


# ---- the runner --------------------------------------------------------------


class Job:
    def __init__(self, runner, job_id, spec, matrix, needs):
        self.runner = runner
        self.id = job_id
        self.spec = spec
        self.matrix = matrix
        self.needs = needs
        suffix = "-".join(text_of(v) for v in matrix.values())
        self.name = f"{job_id}-{suffix}" if suffix else job_id
        self.home = runner.work / "jobs" / self.name
        self.workspace = self.home / "workspace"
        self.temp = self.home / "temp"
        self.files = self.home / "files"
        for folder in (self.workspace, self.temp, self.files):
            folder.mkdir(parents=True)
        self.summary = self.home / "summary.md"
        self.summary.write_text("")
        self.paths = []  # GITHUB_PATH additions, newest first
        self.env_added = {}  # GITHUB_ENV additions
        self.failed = False
        self.steps = {}
        self.record = []
        self.counter = itertools.count(1)
        self.post = []  # what runs once the steps are done, as post steps

    def functions(self):
        return {
            "always": lambda: True,
            "success": lambda: not self.failed,
            "failure": lambda: self.failed,
            "cancelled": lambda: False,
            "contains": lambda a, b: str(b).lower() in str(a).lower(),
            "startsWith": lambda a, b: str(a).lower().startswith(str(b).lower()),
            "hashFiles": self.hash_files,
        }

    def hash_files(self, *patterns):
        """GitHub's hashFiles: a SHA-256 over each matched file's SHA-256, in
        path order; empty when nothing matches."""
        files = sorted({p for pattern in patterns for p in self.workspace.glob(pattern) if p.is_file()})
        if not files:
            return ""
        digest = hashlib.sha256()
        for file in files:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        return digest.hexdigest()

    def github(self, action_path=None):
        context = dict(self.runner.github)
        context.update(job=self.id, workspace=str(self.workspace))
        if action_path:
            context["action_path"] = str(action_path)
        return context

    def contexts(self, env, steps, inputs=None, action_path=None):
        contexts = {
            "github": self.github(action_path),
            "env": env,
            "matrix": self.matrix,
            "steps": steps,
            "needs": self.needs,
            "runner": {"os": "Linux", "arch": "X64", "temp": str(self.temp)},
        }
        if inputs is not None:
            contexts["inputs"] = inputs
        return contexts

    def run(self):
        log(f"job {self.name}: start")
        env = dict(self.runner.env)
        for scope in (self.runner.workflow.get("env"), self.spec.get("env")):
            for key, value in (scope or {}).items():
                env[key] = expand(value, self.contexts(env, self.steps), self.functions())
        self.env = env
        for index, step in enumerate(self.spec.get("steps", [])):
            self.step(step, self.steps, env, f"{index + 1}")
        for post in self.post:
            post()
        result = "failure" if self.failed else "success"
        log(f"job {self.name}: {result}")
        return result

    def step(self, step, steps, env, where, inputs=None, action_path=None):
        """Run one step (of the job, or of a composite action), recording it
        in `steps` under its id."""
        contexts = self.contexts(env, steps, inputs, action_path)
        title = step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0]
        title = expand(title, contexts, self.functions())
        entry = {"where": where, "name": title, "outcome": "skipped", "outputs": {}}
        self.record.append(entry)
        if not condition(step.get("if", "success()"), contexts, self.functions()):
            log(f"  step {where} {title}: skipped (if: {step.get('if')})")
            self.remember(step, steps, entry)
            return
        step_env = dict(env)
        step_env.update(self.env_added)
        for key, value in (step.get("env") or {}).items():
            step_env[key] = expand(value, self.contexts(step_env, steps, inputs, action_path), self.functions())
        contexts = self.contexts(step_env, steps, inputs, action_path)
        log(f"  step {where} {title}")
        if "run" in step:
            ok, outputs = self.shell(step, step_env, contexts, action_path)
        else:
            with_ = {
                key: expand(value, contexts, self.functions())
                for key, value in (step.get("with") or {}).items()
            }
            ok, outputs = self.uses(step["uses"], with_, step_env, where)
        entry["outcome"] = "success" if ok else "failure"
        entry["outputs"] = outputs
        if not ok:
            self.failed = True
            log(f"  step {where} {title}: failed")
        self.remember(step, steps, entry)

    @staticmethod
    def remember(step, steps, entry):
        if "id" in step:
            steps[step["id"]] = {
                "outputs": entry["outputs"],
                "outcome": entry["outcome"],
                "conclusion": entry["outcome"],
            }

    def shell(self, step, env, contexts, action_path):
        shell = step.get("shell", "bash")
        if shell != "bash":
            raise SystemExit(f"workflow: step {step}: only bash steps run here")
        number = next(self.counter)
        script = self.files / f"step-{number}.sh"
        script.write_text(expand(step["run"], contexts, self.functions()), encoding="utf-8")
        output = self.files / f"output-{number}"
        added_env = self.files / f"env-{number}"
        added_path = self.files / f"path-{number}"
        summary = self.files / f"summary-{number}.md"
        for file in (output, added_env, added_path, summary):
            file.write_text("")
        process_env = dict(env)
        process_env.update(
            GITHUB_OUTPUT=str(output),
            GITHUB_ENV=str(added_env),
            GITHUB_PATH=str(added_path),
            GITHUB_STEP_SUMMARY=str(summary),
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_JOB=self.id,
            RUNNER_TEMP=str(self.temp),
            PATH=os.pathsep.join(self.paths + [env["PATH"]]),
        )
        if action_path:
            process_env["GITHUB_ACTION_PATH"] = str(action_path)
        directory = self.workspace / expand(step.get("working-directory", "."), contexts, self.functions())
        status = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=directory,
            env=process_env,
            stdin=subprocess.DEVNULL,
            check=False,
        ).returncode
        # Read back as the runner does after every step, passed or failed.
        for line in reversed(added_path.read_text().splitlines()):
            if line.strip():
                self.paths.insert(0, line.strip())
        self.env_added.update(read_pairs(added_env))
        with self.summary.open("a", encoding="utf-8") as job_summary:
            job_summary.write(summary.read_text(encoding="utf-8"))
        if status != 0:
            log(f"    bash exited {status}")
        return status == 0, read_pairs(output)

    def uses(self, name, with_, env, where):
        action = name.split("@")[0]
        if action == self.runner.action_name:
            return self.composite(with_, env, where)
        if action == "actions/checkout":
            return self.checkout(), {}
        if action == "actions/upload-artifact":
            return self.upload(with_), {}
        if action == "actions/download-artifact":
            return self.download(with_), {}
        if action == "actions/cache":
            return True, self.cache(with_)
        log(f"    skipped: {name} publishes to GitHub, which this runner does not reach")
        return True, {}

    def composite(self, with_, env, where):
        path = self.runner.action_dir
        spec = yaml.safe_load((path / "action.yml").read_text(encoding="utf-8"))
        inputs = {key: text_of(value.get("default", "")) for key, value in spec.get("inputs", {}).items()}
        for key, value in {**with_, **self.runner.inputs}.items():
            if key not in inputs:
                log(f"    unknown input {key!r} of {self.runner.action_name}")
                return False, {}
            inputs[key] = value
        outer_failed = self.failed
        self.failed = False
        steps = {}
        for index, step in enumerate(spec["runs"]["steps"]):
            self.step(step, steps, env, f"{where}.{index + 1}", inputs=inputs, action_path=path)
        ok = not self.failed
        self.failed = outer_failed
        contexts = self.contexts(env, steps, inputs, path)
        outputs = {
            key: expand(value.get("value", ""), contexts, self.functions())
            for key, value in spec.get("outputs", {}).items()
        }
        return ok, outputs

    def checkout(self):
        source = self.runner.checkout
        listed = subprocess.run(
            ["git", "-C", str(source), "ls-files", "-z", "."],
            capture_output=True,
            check=True,
        ).stdout.decode()
        for relative in filter(None, listed.split("\0")):
            target = self.workspace / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / relative, target)
        log(f"    checked out {source} into {self.workspace}")
        return True

    def upload(self, with_):
        """upload-artifact: the files under its paths, stored relative to
        their least common ancestor; hidden files only when asked."""
        name = with_.get("name", "artifact")
        hidden = with_.get("include-hidden-files", "false") == "true"
        paths = [self.workspace / line.strip() for line in with_["path"].splitlines() if line.strip()]
        files = []
        roots = []
        for path in paths:
            if path.is_dir():
                roots.append(path)
                files.extend(p for p in sorted(path.rglob("*")) if p.is_file())
            elif path.is_file():
                roots.append(path.parent)
                files.append(path)
        if not hidden:
            files = [f for f in files if not any(part.startswith(".") for part in f.relative_to(self.workspace).parts)]
        if not files:
            log(f"    upload-artifact {name}: no files found")
            return with_.get("if-no-files-found", "warn") != "error"
        root = Path(os.path.commonpath(roots))
        store = self.runner.work / "artifacts" / name
        if store.exists():
            log(f"    upload-artifact: an artifact named {name} exists already")
            return False
        for file in files:
            target = store / file.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
        log(f"    uploaded {len(files)} files as {name}")
        return True

    def download(self, with_):
        """download-artifact: by name or pattern, into `path`, each artifact
        in a folder of its own name unless merge-multiple (or a single name)."""
        store = self.runner.work / "artifacts"
        names = sorted(p.name for p in store.iterdir()) if store.exists() else []
        if "name" in with_:
            chosen, separate = [n for n in names if n == with_["name"]], False
        else:
            pattern = with_.get("pattern", "*")
            chosen = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
            separate = with_.get("merge-multiple", "false") != "true"
        destination = self.workspace / with_.get("path", ".")
        for name in chosen:
            target = destination / name if separate else destination
            shutil.copytree(store / name, target, dirs_exist_ok=True)
        log(f"    downloaded {', '.join(chosen) or 'nothing'} into {destination}")
        return bool(chosen) or "name" not in with_


    def cache(self, with_):
        """actions/cache: restore the paths saved under `key`; on a miss,
        save them under it after the job, if it succeeded."""
        store = self.runner.work / "caches" / with_["key"]
        paths = [line.strip() for line in with_["path"].splitlines() if line.strip()]
        if store.exists():
            shutil.copytree(store, self.workspace, dirs_exist_ok=True)
            log(f"    cache {with_['key']}: restored")
            return {"cache-hit": "true"}

        def save():
            if self.failed:
                return
            for path in paths:
                source = self.workspace / path
                target = store / path
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, target)
                elif source.is_file():
                    shutil.copy2(source, target)
            log(f"  post: cache {with_['key']}: saved {', '.join(paths)}")

        self.post.append(save)
        log(f"    cache {with_['key']}: not found")
        return {"cache-hit": "false"}


class Runner:
    def __init__(self, args):
        self.workflow = yaml.safe_load(Path(args.workflow).read_text(encoding="utf-8"))
        self.checkout = Path(args.checkout).resolve()
        self.action_name, action_dir = args.action.split("=", 1)
        self.action_dir = Path(action_dir).resolve()
        self.work = Path(args.work).resolve()
        self.inputs = dict(pair.split("=", 1) for pair in args.input)
        self.before_job = shlex.split(args.before_job or "")
        self.env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
        self.env.update(dict(pair.split("=", 1) for pair in args.env))
        run_id = self.env.get("GITHUB_RUN_ID", "1")
        self.env.update(
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_RUN_ID=run_id,
            GITHUB_RUN_ATTEMPT="1",
            GITHUB_EVENT_NAME=args.event,
            GITHUB_REPOSITORY="acme/shop",
            RUNNER_OS="Linux",
            RUNNER_ARCH="X64",
        )
        self.github = {
            "event_name": args.event,
            "repository": "acme/shop",
            "run_id": run_id,
            "run_attempt": "1",
        }

    def order(self):
        """Job ids in `needs` order."""
        jobs = self.workflow["jobs"]
        done, order = set(), []
        while len(order) < len(jobs):
            ready = [
                job for job, spec in jobs.items()
                if job not in done and set(as_list(spec.get("needs"))) <= done
            ]
            if not ready:
                raise SystemExit("workflow: the jobs' needs form a cycle")
            for job in ready:
                done.add(job)
                order.append(job)
        return order

    def run(self):
        results = {}
        report = []
        for job_id in self.order():
            spec = self.workflow["jobs"][job_id]
            needs = {need: {"result": results[need], "outputs": {}} for need in as_list(spec.get("needs"))}
            combos = matrix(spec.get("strategy", {}).get("matrix"))
            outcomes = []
            for combo in combos:
                job = Job(self, job_id, spec, combo, needs)
                functions = job.functions()
                functions["success"] = lambda: all(n["result"] == "success" for n in needs.values())
                functions["failure"] = lambda: any(n["result"] == "failure" for n in needs.values())
                contexts = job.contexts(dict(self.env), {})
                if not condition(spec.get("if", "success()"), contexts, functions):
                    log(f"job {job.name}: skipped")
                    outcomes.append("skipped")
                    continue
                if self.before_job:
                    log(f"before job {job.name}: {shlex.join(self.before_job)}")
                    subprocess.run(self.before_job, check=True, stdin=subprocess.DEVNULL)
                result = job.run()
                outcomes.append(result)
                report.append(
                    {
                        "job": job_id,
                        "matrix": combo,
                        "result": result,
                        "steps": job.record,
                        "summary": job.summary.read_text(encoding="utf-8"),
                        "workspace": str(job.workspace),
                    }
                )
            results[job_id] = "failure" if "failure" in outcomes else (
                "skipped" if outcomes and all(o == "skipped" for o in outcomes) else "success")
        (self.work / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        return 0 if all(r != "failure" for r in results.values()) else 1


def as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def matrix(spec):
    """The combinations of a strategy's matrix (include/exclude aside)."""
    if not spec:
        return [{}]
    keys = [k for k in spec if k not in ("include", "exclude")]
    return [dict(zip(keys, values)) for values in itertools.product(*(spec[k] for k in keys))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", required=True)
    parser.add_argument("--checkout", required=True)
    parser.add_argument("--action", required=True, help="OWNER/NAME=DIR holding action.yml")
    parser.add_argument("--work", required=True)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--event", default="push")
    parser.add_argument("--before-job", help="a command run before each job")
    args = parser.parse_args()
    return Runner(args).run()


if __name__ == "__main__":
    sys.exit(main())
