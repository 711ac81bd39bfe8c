#!/usr/bin/env python3
"""Readiness-detection latency of wait-for and of wait-for-it.sh, side by side.

Each trial starts the waiter on a free loopback port nothing listens on,
opens the port after a random delay, and times from the listen() to the
waiter's exit: how late the waiter notices that the service is up. It also
records the CPU time the waiter spent polling, per second of waiting.

Usage: latency.py WAIT_FOR_IT_SH [--wait-for PATH] [--trials N]
(WAIT_FOR_IT_SH: vishnubob/wait-for-it's script, fetched by you; it is not
part of this repository.)
"""

import argparse
import os
import random
import resource
import socket
import statistics
import subprocess
import time


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def trial(waiter, delay):
    """Latency (s) and CPU seconds per waited second for one trial."""
    port = free_port()
    cpu_before = children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(
        [waiter, "-q", "-t", "30", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL,
    )
    time.sleep(delay)
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen(16)
        opened = time.perf_counter()
        status = process.wait()
        noticed = time.perf_counter()
    if status != 0:
        raise SystemExit(f"{waiter} exited with {status}")
    cpu = children_cpu() - cpu_before
    return noticed - opened, cpu / (noticed - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wait_for_it", help="path of wait-for-it.sh")
    parser.add_argument("--wait-for", default="target/release/wait-for")
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    delays = [rng.uniform(0.2, 1.2) for _ in range(args.trials)]
    print(f"{args.trials} trials each, port opened 0.2-1.2 s after start (same delays for both)")
    print(f"{'waiter':<16} {'min ms':>8} {'median ms':>10} {'p90 ms':>8} {'max ms':>8} {'CPU ms/s':>9}")
    for waiter in [args.wait_for, args.wait_for_it]:
        results = [trial(os.path.abspath(waiter), delay) for delay in delays]
        latencies = sorted(latency * 1000 for latency, _ in results)
        cpu = statistics.median(share * 1000 for _, share in results)
        p90 = latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))]
        print(
            f"{os.path.basename(waiter):<16} {latencies[0]:>8.1f} {statistics.median(latencies):>10.1f}"
            f" {p90:>8.1f} {latencies[-1]:>8.1f} {cpu:>9.1f}"
        )


if __name__ == "__main__":
    main()
