#!/usr/bin/env bash
# Benchmark shard-plan against pytest-split's least_duration algorithm on the
# same generated suites and durations. Installs pytest-split into a virtual
# environment under target/ (never committed), builds the release binary, and
# prints a Markdown table. `--quick` skips the 1,000,000-test scenarios.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check pytest-split
cargo build --release --locked --bin shard-plan
"$venv/bin/python" bench/shard-plan/bench.py target/release/shard-plan "$@"
