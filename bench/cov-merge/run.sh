#!/usr/bin/env bash
# cov-merge against `coverage combine && coverage xml` on the same shards of a
# large generated project. Usage: bench/cov-merge/run.sh [MODULES] [FUNCTIONS] [SHARDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
modules="${1:-100}" functions="${2:-40}" shards="${3:-8}"

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin cov-merge
merge="$root/target/release/cov-merge"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 "$here/gen.py" . "$modules" "$functions"
export PYTHONDONTWRITEBYTECODE=1

echo "project: $modules modules x $functions functions, $shards shards (coverage $(python3 -c "import coverage; print(coverage.__version__)"))"
data=()
for k in $(seq 1 "$shards"); do
    python3 -m coverage run --branch --data-file=".coverage.$k" driver.py "$k" "$shards" "$modules" "$functions"
    python3 -m coverage json -q --data-file=".coverage.$k" -o "shard-$k.json"
    python3 -m coverage xml -q --data-file=".coverage.$k" -o "shard-$k.xml"
    data+=(".coverage.$k")
done
du -ch shard-*.json | tail -1 | sed 's/total/of shard JSON reports/'
du -ch shard-*.xml | tail -1 | sed 's/total/of shard Cobertura reports/'

# Best of three runs of a command: "wall-seconds cpu-seconds" (CPU time,
# user + system, is the steadier figure on a shared machine).
best() {
    local best_wall="" best_cpu=""
    for _ in 1 2 3; do
        local times wall cpu
        times=$( { /usr/bin/time -f '%e %U %S' "$@" >/dev/null; } 2>&1 | tail -1)
        wall=$(echo "$times" | awk '{print $1}')
        cpu=$(echo "$times" | awk '{print $2 + $3}')
        if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc)" = 1 ]; then best_wall=$wall; fi
        if [ -z "$best_cpu" ] || [ "$(echo "$cpu < $best_cpu" | bc)" = 1 ]; then best_cpu=$cpu; fi
    done
    echo "$best_wall $best_cpu"
}

cat > combine.sh <<SH
rm -f .coverage.all
python3 -m coverage combine --keep -q --data-file=.coverage.all ${data[*]}
python3 -m coverage xml -q --data-file=.coverage.all -o combined.xml
SH

t_coverage=$(best bash combine.sh)
t_json=$(best "$merge" --format cobertura -o merged-from-json.xml shard-*.json)
t_xml=$(best "$merge" --format cobertura -o merged-from-xml.xml shard-*.xml)
rss=$( { /usr/bin/time -f '%M' "$merge" --format cobertura -o /dev/null shard-*.json; } 2>&1 )

# The merged reports equal coverage.py's, timestamp and generator comment aside.
strip() { grep -v -e '<!-- Generated' "$1" | sed 's/ timestamp="[0-9]*"//'; }
diff <(strip combined.xml) <(strip merged-from-json.xml) >/dev/null && same_json=identical || same_json=DIFFERENT
diff <(strip combined.xml) <(strip merged-from-xml.xml) >/dev/null && same_xml=identical || same_xml=DIFFERENT

row() { # label, "wall cpu", [verdict]
    local wall=${2% *} cpu=${2#* }
    local c_wall=${t_coverage% *} c_cpu=${t_coverage#* }
    if [ -n "${3:-}" ]; then
        printf '%-46s %7ss %7ss  %6.1fx %6.1fx  %s\n' "$1" "$wall" "$cpu" \
            "$(echo "$c_wall / $wall" | bc -l)" "$(echo "$c_cpu / $cpu" | bc -l)" "$3"
    else
        printf '%-46s %7ss %7ss\n' "$1" "$wall" "$cpu"
    fi
}
printf '%-46s %8s %8s  %7s %7s  %s\n' "" wall cpu "x wall" "x cpu" "output vs coverage.py"
row "coverage combine --keep && coverage xml" "$t_coverage"
row "cov-merge --format cobertura shard-*.json" "$t_json" "$same_json"
row "cov-merge --format cobertura shard-*.xml" "$t_xml" "$same_xml"
echo "cov-merge peak memory (JSON inputs): $((rss / 1024)) MiB"
