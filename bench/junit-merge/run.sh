#!/bin/sh
# junit-merge against junitparser on the same generated input, side by side,
# then junit-merge alone on one ~1 GB file to show its memory stays flat.
# Needs python3 with junitparser (pip install junitparser) and GNU time.
# Usage: bench/junit-merge/run.sh [FILES CASES HUGE_CASES]   (default 200 500000 200000)
set -eu
cd "$(dirname "$0")/../.."
files=${1:-200}
cases=${2:-500000}
huge_cases=${3:-200000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --locked --bin junit-merge >/dev/null 2>&1
bench=bench/junit-merge

# Run a command under GNU time; print "wall-seconds cpu-seconds peak-RSS-MiB".
# A failed command ends the benchmark, its output on stderr.
measure() {
    /usr/bin/time -v "$@" >/dev/null 2>"$work/time" || { cat "$work/time" >&2; exit 1; }
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = t[n] + 60 * t[n - 1] + 3600 * (n > 2 ? t[n - 2] : 0) }
                /User time|System time/ { cpu += $2 }
                /Maximum resident/ { kb = $2 }
                END { printf "%.2f %.2f %.0f\n", s, cpu, kb / 1024 }' "$work/time"
}

root() { head -c 400 "$1" | grep -o '<testsuites[^>]*>' | head -1; }

python3 "$bench/generate.py" "$work/many" "$files" "$cases"
echo "input: $files files, $cases test cases, $(du -sm "$work/many" | cut -f1) MiB"

measure target/release/junit-merge -o "$work/junit-merge.xml" "$work/many" >"$work/measured"
read -r jm_s jm_cpu jm_mb <"$work/measured"
measure python3 "$bench/junitparser_merge.py" "$work/junitparser.xml" "$work"/many/*.xml >"$work/measured"
read -r jp_s jp_cpu jp_mb <"$work/measured"
printf '%-12s %8s %8s %10s\n' tool wall-s cpu-s "peak MiB"
printf '%-12s %8s %8s %10s\n' junit-merge "$jm_s" "$jm_cpu" "$jm_mb" junitparser "$jp_s" "$jp_cpu" "$jp_mb"
awk -v a="$jp_s" -v b="$jm_s" 'BEGIN { printf "wall time ratio junitparser / junit-merge: %.1f\n", a / b }'
echo "junit-merge: $(root "$work/junit-merge.xml")"
echo "junitparser: $(root "$work/junitparser.xml")"
rm -rf "$work/many" "$work"/*.xml

# One file of ~1 GB: 200,000 cases with 5 kB of captured output each.
python3 "$bench/generate.py" "$work/huge" 1 "$huge_cases" 5000
echo "input: 1 file, $(du -sm "$work/huge" | cut -f1) MiB"
measure target/release/junit-merge -o "$work/huge.xml" "$work/huge/shard-1.xml" >"$work/measured"
read -r huge_s huge_cpu huge_mb <"$work/measured"
echo "junit-merge: $huge_s s wall, $huge_cpu s cpu, peak $huge_mb MiB"
