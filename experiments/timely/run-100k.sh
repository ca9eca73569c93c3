#!/usr/bin/env bash
# The 100 000-user market of experiments/scale.toml across 2 timely processes on
# loopback, to convergence, against the flat runtime (README, "Past one machine: the
# `timely` runtime"). Too slow for the test suite: minutes per runtime on 2 cores.
#
# Usage: experiments/timely/run-100k.sh [BROKERFLOW] [DIR]
#   BROKERFLOW  the release binary (default target/release/brokerflow)
#   DIR         where the market, outputs and measurements go (default a new temp dir)
# Environment: PORT (first loopback port, default 2101), VARIANT (welfare-seeking),
# RUNTIMES ("flat timely"; a runtime already run in DIR is not run again if left out).
#
# Prints, per runtime: rounds, stop reason, wall time and max RSS (GNU time; with
# --processes 2 the larger of the two processes), the protocol's messages and bytes
# per round (timely's line on stderr); then whether the flows CSV and the JSON (without
# its wall-clock `seconds` and the runtime's name) are byte-identical.
set -euo pipefail
bf=$(realpath "${1:-target/release/brokerflow}")
dir=${2:-$(mktemp -d -t brokerflow-timely-100k.XXXXXX)}
port=${PORT:-2101}
variant=${VARIANT:-welfare-seeking}
mkdir -p "$dir"
cd "$dir"
[ -e market.json ] || "$bf" generate --users 100000 --brokers 2500 --providers 5000 --seed 3 --output market.json
echo "market: $dir/market.json ($(sha256sum market.json | cut -c1-16)...)"
for runtime in ${RUNTIMES:-flat timely}; do
    cluster=()
    [ "$runtime" = timely ] && cluster=(--runtime timely --processes 2 --port "$port")
    /usr/bin/time -v -o "$runtime.time" "$bf" run market.json --variant "$variant" --inject demand \
        "${cluster[@]}" --json --flows "$runtime-flows.csv" >"$runtime.json" 2>"$runtime.err"
    jq 'del(.seconds, .provenance.engine_runtime)' "$runtime.json" >"$runtime.comparable.json"
    printf '%s: %s rounds, stop %s, %s s (engine), wall %s, max RSS %s kB\n' "$runtime" \
        "$(jq .rounds "$runtime.json")" "$(jq -r .stop "$runtime.json")" "$(jq .seconds "$runtime.json")" \
        "$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$runtime.time")" \
        "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$runtime.time")"
    grep -h 'timely on' "$runtime.err" || true
done
[ -e flat.json ] && [ -e timely.json ] || exit 0
sha256sum flat-flows.csv timely-flows.csv flat.comparable.json timely.comparable.json
cmp flat-flows.csv timely-flows.csv && cmp flat.comparable.json timely.comparable.json &&
    echo "identical: flows CSV and JSON (apart from seconds and provenance.engine_runtime)"
