"""Compare shard-plan with pytest-split's least_duration on the same input.

For each scenario this script generates a suite (node ids shaped like a real
one: packages, modules, classes, functions, parametrizations), its true
durations, and the `.test_durations` file an earlier run would have left
(the true durations with run-to-run noise, minus the tests added since, plus
the tests removed since). Both planners get the same ids and the same file:

- shard-plan, the release binary, timed from start to exit (reading,
  planning, writing the plan): wall clock, and CPU time (user + system);
- pytest-split's LeastDurationAlgorithm, imported from the installed
  package and called on stand-in items that carry a `nodeid`, timed from
  loading the JSON to the returned groups: wall clock, and process CPU time.

CPU time is what to compare on a busy machine; wall clock on an idle one.

Both plans are then scored on the true durations: the longest shard over the
mean shard (1.0000 is perfect), averaged over `runs` suites generated with
different seeds. Usage: bench.py SHARD_PLAN_BINARY [--quick].
"""

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

from pytest_split.algorithms import Algorithms


class Item:
    """What the algorithm reads from a pytest item: its node id."""

    __slots__ = ("nodeid",)

    def __init__(self, nodeid):
        self.nodeid = nodeid


def suite(tests, seed):
    """Ids in collection order and their true seconds.

    Durations are log-normal, with a factor per module, per class and per
    function, so that neighbours resemble each other as in real suites, and
    a heavy tail (a few tests take tens of seconds).
    """
    rng = random.Random(seed)
    ids, seconds = [], []
    module = 0
    while len(ids) < tests:
        module += 1
        path = f"tests/app{module % 40}/test_mod{module}.py"
        module_factor = rng.lognormvariate(0, 1.0)
        for cls in range(rng.randint(0, 4) + 1):
            prefix = f"{path}::TestCase{cls}::" if cls else f"{path}::"
            class_factor = module_factor * rng.lognormvariate(0, 0.7)
            for function in range(rng.randint(1, 12)):
                base = 0.05 * class_factor * rng.lognormvariate(0, 1.0)
                params = rng.choice([1, 1, 1, 2, 3, 5, 10, 30])
                for param in range(params):
                    name = f"test_f{function}" + (f"[p{param}]" if params > 1 else "")
                    ids.append(prefix + name)
                    seconds.append(base * rng.lognormvariate(0, 0.3))
    return ids[:tests], seconds[:tests]


def recorded(ids, seconds, seed, new_share, removed_share, noise):
    """The durations an earlier run left: off by run-to-run `noise` (the
    sigma of a log-normal factor), without the tests added since
    (`new_share` of them), with tests since removed."""
    rng = random.Random(seed + 1)
    durations = {}
    for test, true in zip(ids, seconds):
        if rng.random() >= new_share:
            durations[test] = true * rng.lognormvariate(0, noise) if noise else true
    for gone in range(int(len(ids) * removed_share)):
        durations[f"tests/removed/test_gone{gone}.py::test_x"] = rng.lognormvariate(0, 1)
    return durations


def score(shard_of, seconds, shards):
    """Longest shard over mean shard of a plan, on the true durations."""
    loads = [0.0] * shards
    for shard, true in zip(shard_of, seconds):
        loads[shard] += true
    mean = sum(loads) / shards
    return max(loads) / mean


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_shard_plan(binary, tests_path, durations_path, shards, ids):
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [binary, "--shards", str(shards), "--durations", durations_path, tests_path],
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    cpu = children_cpu() - cpu
    shard_of_id = {}
    for line in done.stdout.splitlines():
        shard, test = line.split("\t", 1)
        shard_of_id[test] = int(shard) - 1
    assert len(shard_of_id) == len(ids), "shard-plan lost tests"
    return [shard_of_id[test] for test in ids], elapsed, cpu


def run_pytest_split(durations_path, shards, ids):
    items = [Item(test) for test in ids]
    cpu = time.process_time()
    start = time.perf_counter()
    with open(durations_path) as file:
        durations = json.load(file)
    groups = Algorithms.least_duration.value(shards, items, durations)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    shard_of_id = {}
    for shard, group in enumerate(groups):
        for item in group.selected:
            shard_of_id[item.nodeid] = shard
    return [shard_of_id[test] for test in ids], elapsed, cpu


def main():
    binary = os.path.abspath(sys.argv[1])
    quick = "--quick" in sys.argv
    scenarios = [
        # (tests, shards, share of tests new since the durations, share
        # removed, run-to-run noise, seeds averaged over)
        (5_000, 4, 0.0, 0.0, 0.0, 1),
        (5_000, 16, 0.0, 0.0, 0.0, 1),
        (5_000, 4, 0.03, 0.02, 0.0, 5),
        (5_000, 16, 0.03, 0.02, 0.0, 5),
        (5_000, 16, 0.03, 0.02, 0.15, 5),
        (50_000, 8, 0.0, 0.0, 0.0, 1),
        (50_000, 64, 0.0, 0.0, 0.0, 1),
        (50_000, 8, 0.05, 0.02, 0.0, 3),
        (50_000, 64, 0.05, 0.02, 0.0, 3),
        (50_000, 64, 0.05, 0.02, 0.15, 3),
    ]
    if not quick:
        scenarios += [
            (1_000_000, 8, 0.0, 0.0, 0.0, 1),
            (1_000_000, 32, 0.02, 0.01, 0.15, 1),
        ]
    print(
        "| tests | shards | new / removed | noise | runs | shard-plan max/mean "
        "| pytest-split max/mean | shard-plan s (CPU) | pytest-split s (CPU) | CPU time ratio |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="shard-plan-bench-") as scratch:
        for tests, shards, new_share, removed_share, noise, runs in scenarios:
            totals = [0.0] * 6
            for run in range(runs):
                seed = tests + shards + 1000 * run
                ids, seconds = suite(tests, seed)
                durations = recorded(ids, seconds, seed, new_share, removed_share, noise)
                tests_path = os.path.join(scratch, "tests.txt")
                durations_path = os.path.join(scratch, ".test_durations")
                with open(tests_path, "w") as file:
                    file.write("\n".join(ids) + "\n")
                with open(durations_path, "w") as file:
                    json.dump(durations, file)
                ours, our_time, our_cpu = run_shard_plan(
                    binary, tests_path, durations_path, shards, ids
                )
                theirs, their_time, their_cpu = run_pytest_split(durations_path, shards, ids)
                measured = [
                    score(ours, seconds, shards),
                    score(theirs, seconds, shards),
                    our_time,
                    our_cpu,
                    their_time,
                    their_cpu,
                ]
                for i, value in enumerate(measured):
                    totals[i] += value / runs
            our_balance, their_balance, our_time, our_cpu, their_time, their_cpu = totals
            print(
                f"| {tests:,} | {shards} | {new_share:.0%} / {removed_share:.0%} | {noise} | {runs} "
                f"| {our_balance:.5f} | {their_balance:.5f} "
                f"| {our_time:.2f} ({our_cpu:.2f}) | {their_time:.2f} ({their_cpu:.2f}) "
                f"| {their_cpu / our_cpu:.1f}x |",
                flush=True,
            )

if __name__ == "__main__":
    main()
