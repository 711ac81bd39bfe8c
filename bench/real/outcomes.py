#!/usr/bin/env python3
"""Outcomes of a bench arm, from its JUnit reports, and their comparison.

  outcomes.py ids OUT.tsv JUNIT...   every test case as ID<TAB>OUTCOME (passed,
                                     failed, error, skipped), one line each;
                                     prints "tests passed failed errors skipped"
  outcomes.py diff ARM=TSV...        the tests whose outcome differs between
                                     arms (an arm that lacks a test says
                                     "missing"); exit 1 if any
  outcomes.py coverage A.json B.json whether two coverage JSON reports (coverage
                                     json format) cover the same lines and
                                     branches per file; exit 1 if not

The id is `classname::name` as pytest writes them; reports of several
sessions (shards, groups) are read together. A test reported twice (a
rerun) keeps its last outcome.
"""

import json
import sys
import xml.etree.ElementTree as ET


def cases(path):
    for case in ET.parse(path).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        if "failure" in tags:
            outcome = "failed"
        elif "error" in tags:
            outcome = "error"
        elif "skipped" in tags:
            outcome = "skipped"
        else:
            outcome = "passed"
        yield f"{case.get('classname', '')}::{case.get('name', '')}", outcome


def ids(out, reports):
    seen = {}
    for report in reports:
        try:
            seen.update(cases(report))
        except (OSError, ET.ParseError) as why:
            print(f"outcomes: no report {report}: {why}", file=sys.stderr)
    with open(out, "w") as tsv:
        for test in sorted(seen):
            tsv.write(f"{test}\t{seen[test]}\n")
    counts = [sum(1 for o in seen.values() if o == kind) for kind in ("passed", "failed", "error", "skipped")]
    print(len(seen), *counts)


def read_tsv(path):
    with open(path) as tsv:
        return dict(line.rstrip("\n").split("\t") for line in tsv if line.strip())


def diff(specs):
    arms = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        arms[name] = read_tsv(path)
    everything = sorted(set().union(*arms.values()))
    differing = 0
    for test in everything:
        seen = {name: outcomes.get(test, "missing") for name, outcomes in arms.items()}
        if len(set(seen.values())) > 1:
            differing += 1
            print(test + ": " + ", ".join(f"{name} {outcome}" for name, outcome in seen.items()))
    return 1 if differing else 0


def covered(path):
    with open(path) as report:
        files = json.load(report)["files"]
    return {
        name: (sorted(data.get("executed_lines", [])), sorted(map(tuple, data.get("executed_branches", []))))
        for name, data in files.items()
    }


def coverage(first, second):
    a, b = covered(first), covered(second)
    differing = [name for name in sorted(set(a) | set(b)) if a.get(name) != b.get(name)]
    for name in differing[:20]:
        print(f"coverage differs: {name}")
    print(f"{len(set(a) | set(b))} files, {len(differing)} differ")
    return 1 if differing else 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "ids":
        ids(argv[1], argv[2:])
        return 0
    if len(argv) >= 2 and argv[0] == "diff":
        return diff(argv[1:])
    if len(argv) == 3 and argv[0] == "coverage":
        return coverage(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
