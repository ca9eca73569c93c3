#!/bin/sh
# A liar with factor 10 at one broker, against the same broker down for the same
# rounds, on the bundled markets with several brokers: welfare-seeking, demand mode,
# default options. Writes liar.csv (one row per market and broker). Run from the
# repository root after `cargo build --release`:  sh experiments/faults/liar.sh
set -eu
bin=${BIN:-target/release/brokerflow}
out=experiments/faults/liar.csv
tmp=$(mktemp -d)
echo "market,broker,fault,rounds,reference_welfare,welfare_lost_per_round,percent_of_reference,jobs_lost,recovery_rounds" > "$out"
for m in tiny linked figure3; do
  for b in $(python3 -c "import json;print(' '.join(x['id'] for x in json.load(open('graphs/markets/$m.json'))['brokers']))"); do
    for kind in liar node-down; do
      if [ $kind = liar ]; then extra=", \"factor\": 10"; else extra=""; fi
      echo "{\"seed\": 1, \"faults\": [{\"from\": 1, \"to\": 2001, \"kind\": \"$kind\", \"node\": \"$b\"$extra}]}" > "$tmp/f.json"
      "$bin" run "graphs/markets/$m.json" --faults "$tmp/f.json" --json > "$tmp/r.json"
      python3 - "$m" "$b" "$kind" "$tmp/r.json" >> "$out" <<'PY'
import json, sys
m, b, kind, path = sys.argv[1:]
r = json.load(open(path))["faults"]
f = r["faults"][0]
ref = r["recovery"]["reference_welfare"]
per = f["welfare_lost"] / 2000
print(f"{m},{b},{kind},2000,{ref:.6g},{per:.6g},{100 * per / ref:.4g},{f['jobs_lost']:.6g},{r['recovery']['rounds']}")
PY
    done
  done
done
rm -r "$tmp"
cat "$out"
