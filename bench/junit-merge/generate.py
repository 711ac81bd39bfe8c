#!/usr/bin/env python3
"""Write FILES pytest-style JUnit reports holding CASES test cases in all.

Usage: generate.py DIR FILES CASES [OUTPUT_BYTES_PER_CASE]

Every 50th case fails, every 40th other one is skipped, every 97th has a
teardown error too; each case carries OUTPUT_BYTES_PER_CASE bytes of
captured stdout (default 0), so the same script makes both the many-files
input and a single huge file.
"""
import os
import sys


def outcome(n):
    failed = n % 50 == 0
    return failed, not failed and n % 40 == 0, n % 97 == 0


def main():
    out_dir, files, cases = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    output_bytes = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    os.makedirs(out_dir, exist_ok=True)
    per_file = cases // files
    line = "captured output line with <markup> & entities\n"
    output = (line * (output_bytes // len(line) + 1))[:output_bytes]
    output = output.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for shard in range(files):
        numbers = range(shard * per_file, (shard + 1) * per_file)
        outcomes = [outcome(n) for n in numbers]
        with open(os.path.join(out_dir, f"shard-{shard + 1}.xml"), "w") as f:
            f.write('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
                    f'<testsuite name="pytest" errors="{sum(o[2] for o in outcomes)}" '
                    f'failures="{sum(o[0] for o in outcomes)}" '
                    f'skipped="{sum(o[1] for o in outcomes)}" tests="{per_file}" '
                    'time="123.456" timestamp="2026-01-01T00:00:00" hostname="ci">\n')
            for n, (failed, skipped, errored) in zip(numbers, outcomes):
                parts = [f'<testcase classname="tests.test_mod{n // 100}.TestClass" '
                         f'name="test_case_{n}[param-{n % 7}]" file="tests/test_mod{n // 100}.py" '
                         f'line="{n % 500}" time="0.{n % 1000:03d}">']
                if failed:
                    parts.append('<failure message="AssertionError: assert 1 == 2">'
                                 'def test():\n&gt;   assert 1 == 2\nE   AssertionError</failure>')
                if skipped:
                    parts.append('<skipped type="pytest.skip" message="not here">skip</skipped>')
                if errored:
                    parts.append('<error message="failed on teardown">RuntimeError: boom</error>')
                if output:
                    parts.append(f"<system-out>{output}</system-out>")
                parts.append("</testcase>\n")
                f.write("".join(parts))
            f.write("</testsuite></testsuites>\n")


if __name__ == "__main__":
    main()
