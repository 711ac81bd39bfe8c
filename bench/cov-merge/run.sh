#!/usr/bin/env bash
# cov-merge against `coverage combine && coverage xml` on the same shards of a
# large generated project. Usage: bench/cov-merge/run.sh [MODULES] [FUNCTIONS] [SHARDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
modules="${1:-300}" functions="${2:-40}" shards="${3:-8}"

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin cov-merge
merge="$root/target/release/cov-merge"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 "$here/gen.py" . "$modules" "$functions"
export PYTHONDONTWRITEBYTECODE=1

echo "project: $modules modules x $functions functions, $shards shards (coverage $(python3 -m coverage --version | head -1 | awk '{print $3}'))"
data=()
for k in $(seq 1 "$shards"); do
    python3 -m coverage run --branch --data-file=".coverage.$k" driver.py "$k" "$shards" "$modules" "$functions"
    python3 -m coverage json -q --data-file=".coverage.$k" -o "shard-$k.json"
    python3 -m coverage xml -q --data-file=".coverage.$k" -o "shard-$k.xml"
    data+=(".coverage.$k")
done
du -ch shard-*.json | tail -1 | sed 's/total/of shard JSON reports/'
du -ch shard-*.xml | tail -1 | sed 's/total/of shard Cobertura reports/'

# Best of three wall-clock times of a command, in seconds.
best() {
    local best=""
    for _ in 1 2 3; do
        local start end t
        start=$(date +%s.%N)
        "$@" >/dev/null
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    printf '%.3f' "$best"
}

combine() {
    rm -f .coverage.all
    python3 -m coverage combine --keep -q --data-file=.coverage.all "${data[@]}"
    python3 -m coverage xml -q --data-file=.coverage.all -o combined.xml
}

t_coverage=$(best combine)
t_json=$(best "$merge" --format cobertura -o merged-from-json.xml shard-*.json)
t_xml=$(best "$merge" --format cobertura -o merged-from-xml.xml shard-*.xml)
rss=$( { /usr/bin/time -f '%M' "$merge" --format cobertura -o /dev/null shard-*.json; } 2>&1 )

# The merged reports equal coverage.py's, timestamp and generator comment aside.
strip() { grep -v -e '<!-- Generated' "$1" | sed 's/ timestamp="[0-9]*"//'; }
diff <(strip combined.xml) <(strip merged-from-json.xml) >/dev/null && same_json=identical || same_json=DIFFERENT
diff <(strip combined.xml) <(strip merged-from-xml.xml) >/dev/null && same_xml=identical || same_xml=DIFFERENT

printf '%-52s %8ss\n' "coverage combine --keep && coverage xml" "$t_coverage"
printf '%-52s %8ss  %5.1fx faster, output %s\n' "cov-merge --format cobertura shard-*.json" "$t_json" "$(echo "$t_coverage / $t_json" | bc -l)" "$same_json"
printf '%-52s %8ss  %5.1fx faster, output %s\n' "cov-merge --format cobertura shard-*.xml" "$t_xml" "$(echo "$t_coverage / $t_xml" | bc -l)" "$same_xml"
echo "cov-merge peak memory (JSON inputs): $((rss / 1024)) MiB"
