#!/usr/bin/env bash
# Times whole `broker` commands with hyperfine (Debian's `hyperfine` package):
# start-up, a store read through a clone, and a short ping run, beside the
# C++ broker-node's ping run when the reference tools are there.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench/cli.sh needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
REF="${BROKER_REF_BIN:-../shared/tools/broker-ref/bin}"
PORT=29771
BROKER="deno run -A cli/main.ts"

$BROKER node --disable-ssl -m pong '--topics=["/bench/ping"]' -p $PORT >/dev/null 2>&1 &
PONG=$!
trap 'kill $PONG 2>/dev/null || true' EXIT
sleep 2

runs=(
  "$BROKER --help"
  "$BROKER node --disable-ssl -m ping '--topics=[\"/bench/ping\"]' -n 100 -s 10 '--peers=[<tcp://127.0.0.1:$PORT>]'"
)
if [ -x "$REF/broker-node" ]; then
  runs+=("$REF/broker-node --disable-ssl -m ping '--topics=[\"/bench/ping\"]' -n 100 -s 10 '--peers=[<tcp://127.0.0.1:$PORT>]'")
fi
hyperfine --warmup 1 --runs 5 "${runs[@]}"
