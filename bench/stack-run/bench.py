#!/usr/bin/env python3
"""Measure stack-run on the example Django project (examples/shop).

For the sequential baseline it times what the team did before:
`docker-compose run --rm app pytest` (sidecars up, the whole suite, then
`down -v`). Then for each N it plans N shards with shard-plan and times
stack-run: wall time, each shard's time from stack-run's start to its first
finished test (the first PASSED/FAILED line in OUT/shard-K/log.txt, polled
every 50 ms), and the up/run/down seconds stack-run reports.

Usage: bench/stack-run/bench.py [N ...]   (default: 1 2 4; run as root from
the repository root after `make images` and `cargo build`; SHOP=DIR measures
another copy of the example)
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOP = Path(os.environ.get("SHOP", ROOT / "examples" / "shop"))
BIN = ROOT / "target" / "debug"
FIRST_TEST = re.compile(r" (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)")


def environment():
    env = dict(os.environ)
    for line in (ROOT / "images" / "local.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def compose(env, *args, **kwargs):
    return subprocess.run(
        ["docker-compose", "-p", "bench-seq", "-f", str(SHOP / "docker-compose.yml"), *args],
        env=env, check=False, **kwargs)


def sequential(env):
    # The example's fixed container_name and host port allow one plain copy per
    # machine: take the lock its tests take (tests/util.rs, example_stack_lock).
    lock = socket.socket(socket.AF_UNIX)
    while True:
        try:
            lock.bind("\0shardstack-example-stack")
            break
        except OSError:
            time.sleep(0.5)
    start = time.monotonic()
    compose(env, "run", "--rm", "-T", "app", "pytest", "-q",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    compose(env, "down", "-v", "--remove-orphans", "-t", "0",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    lock.close()
    return elapsed


def collect(env):
    out = compose(env, "run", "--rm", "-T", "--no-deps", "app", "pytest", "--collect-only", "-q",
                  capture_output=True, text=True)
    compose(env, "down", "-v", "--remove-orphans", "-t", "0", capture_output=True)
    return out.stdout


def sharded(env, tests, shards, work):
    plan = subprocess.run([str(BIN / "shard-plan"), "--shards", str(shards)], input=tests,
                          capture_output=True, text=True, check=True).stdout
    out = work / f"n{shards}"
    start = time.monotonic()
    child = subprocess.Popen(
        [str(BIN / "stack-run"), "-f", str(SHOP / "docker-compose.yml"), "-s", "app",
         "--prefix", "bench", "-o", str(out), "--", "pytest", "-v", "@{tests}",
         "--junit-xml={out}/junit.xml"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    child.stdin.write(plan)
    child.stdin.close()
    first = {}
    while child.poll() is None:
        for shard in range(1, shards + 1):
            log = out / f"shard-{shard}" / "log.txt"
            if shard not in first and log.exists() and FIRST_TEST.search(log.read_text(errors="replace")):
                first[shard] = time.monotonic() - start
        time.sleep(0.05)
    wall = time.monotonic() - start
    results = [json.loads(line) for line in child.stdout.read().splitlines()]
    return wall, first, results


def main():
    counts = [int(n) for n in sys.argv[1:]] or [1, 2, 4]
    env = environment()
    tests = collect(env)
    print(f"{sum(1 for l in tests.splitlines() if '::' in l)} tests")
    print(f"sequential (docker-compose run app pytest + down): {sequential(env):.1f}s")
    with tempfile.TemporaryDirectory(prefix="stack-run-bench-") as work:
        for shards in counts:
            wall, first, results = sharded(env, tests, shards, Path(work))
            statuses = ",".join(r["status"] for r in sorted(results, key=lambda r: r["shard"]))
            print(f"N={shards}: wall {wall:.1f}s ({statuses})")
            for r in sorted(results, key=lambda r: r["shard"]):
                print(f"  shard {r['shard']}: first test at {first.get(r['shard'], float('nan')):.1f}s, "
                      f"up {r['up_seconds']:.1f}s run {r['run_seconds']:.1f}s down {r['down_seconds']:.1f}s")


if __name__ == "__main__":
    main()
