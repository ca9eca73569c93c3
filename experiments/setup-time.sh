#!/usr/bin/env bash
# Times the README's two set-up commands as a newcomer meets them: a fresh clone into a
# temporary folder with its own target folder (the cargo registry is the caller's, so
# run `cargo fetch` once beforehand for "a warm registry"), then
#   1. cargo run --release -- compare graphs/markets/tiny.json
#   2. cargo test --release --workspace            (shares the first command's build)
# Goal: the first within 2 minutes, the second within 8 minutes after it.
# Usage: experiments/setup-time.sh [REPOSITORY]   (default: this checkout's repository)
# Writes the times to stdout and cargo's build timings (--timings) of the first
# command to the clone's target/cargo-timings/. Say whether the machine was loaded.
set -euo pipefail
repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/brokerflow"
cd "$work/brokerflow"
export CARGO_TARGET_DIR="$work/brokerflow/target" CARGO_TERM_COLOR=never
echo "clone of $repo at $(git rev-parse --short HEAD); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$SECONDS
cargo build --release --timings 2>&1 | tail -1
cargo run --release -q -- compare graphs/markets/tiny.json >/dev/null
first=$((SECONDS - start))
echo "first command (cargo run --release -- compare graphs/markets/tiny.json): ${first} s"
start=$SECONDS
cargo test --release --workspace -q 2>&1 | grep -E "^test result" | awk '{p+=$4; f+=$6} END {print "tests passed " p ", failed " f}'
second=$((SECONDS - start))
echo "second command (cargo test --release --workspace): ${second} s"
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
