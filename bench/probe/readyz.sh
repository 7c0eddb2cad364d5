#!/bin/sh
# /readyz latency under ~2,000 req/s while the child floods stdout.
#
# usage: bench/probe/readyz.sh [SECONDS] [RATE]
#        FLOOD=0 bench/probe/readyz.sh   (baseline: a quiet child)
#
# Builds bin/pysup, runs it on 127.0.0.1:$PORT (default 19180) with a
# Python child printing JSON log lines as fast as it can, and drives
# /readyz with wrk (-t2 -c16 --latency). wrk has no fixed-rate mode (wrk2's
# -R), so a Lua delay() paces each of the 16 connections at RATE/16
# requests a second: a closed loop that approximates RATE while the
# answers stay fast (the delay is not counted in the latency). The script
# prints wrk's latency distribution (p50, p99), the request rate reached
# and the child's stdout lines per second through pysup.
set -eu

secs=${1:-10}
rate=${2:-2000}
port=${PORT:-19180}
addr=127.0.0.1:$port
conns=16
root=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cd "$root"
go build -o bin/pysup ./cmd/pysup

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# Milliseconds between requests on one connection.
cat >"$tmp/pace.lua" <<LUA
function delay()
  return $(awk "BEGIN { printf \"%d\", 1000 * $conns / $rate }")
end
LUA

# The child floods stdout with JSON lines; pysup parses and re-encodes each.
flood='while True: w(line)'
[ "${FLOOD:-1}" = 0 ] && flood='import time; time.sleep(3600)'
launched=$(date +%s.%N)
PYSUP_HTTP_ADDR=$addr PYSUP_DRAIN_DELAY=0 bin/pysup -- "$py" -c '
import json, sys
line = json.dumps({"level": "info", "message": "x" * 80}) + "\n"
w = sys.stdout.write
'"$flood" 2>"$tmp/stderr" | wc -l >"$tmp/lines" &
pid=$(jobs -p | head -n1)
# $pid is the pipeline's last process under some shells; find pysup itself.
pysup=$(pgrep -n -f "^bin/pysup -- $py" || true)

i=0
until curl -fsS "http://$addr/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		echo "pysup did not become ready on $addr:" >&2
		cat "$tmp/stderr" >&2
		exit 1
	fi
	sleep 0.1
done

wrk -t2 -c$conns -d"${secs}s" --latency -s "$tmp/pace.lua" "http://$addr/readyz"
end=$(date +%s.%N)

[ -n "$pysup" ] && kill -TERM "$pysup" 2>/dev/null || true
wait 2>/dev/null || true
pid=
lines=$(cat "$tmp/lines" 2>/dev/null || echo 0)
awk -v l="$lines" -v s="$launched" -v e="$end" 'BEGIN { printf "child stdout through pysup: %d lines in %.1f s (~%.0f lines/s)\n", l, e - s, l / (e - s) }'
