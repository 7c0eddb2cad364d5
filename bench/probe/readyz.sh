#!/bin/sh
# /readyz latency under ~2,000 req/s from wrk, side by side in one run
# (issue 3). Target: p99 under 2 ms while the child floods stdout.
#
# usage: bench/probe/readyz.sh [SECONDS] [RATE]
#        RUNS=3 (rounds), MODES="quiet flood unbuffered", PORT=19180
#
# Each round runs pysup once per mode, in turn, for SECONDS each:
#   quiet       the child sleeps: the floor of wrk + loopback + net/http on
#               this machine at this moment;
#   flood       the child prints ~120-byte JSON lines to stdout as fast as
#               it can (default buffering: 8 KiB writes); pysup parses and
#               re-encodes each, and its stdout goes to wc -l;
#   unbuffered  the same with PYTHONUNBUFFERED=1 (one write per line).
# wrk (Debian's) has no fixed-rate mode, so a Lua delay() paces each of
# the 20 connections: a closed loop whose rate is RATE while an answer and
# wrk's own timer rounding take about 0.8 ms (the rate reached is printed;
# the delay is not part of the latency). One wrk thread: at this rate it needs a few percent of a
# core, and a second thread would only take a core from what is measured.
# Measures bin/pysup (built when missing; PYSUP_BENCH_BIN overrides).
set -eu

secs=${1:-10}
rate=${2:-2000}
runs=${RUNS:-3}
modes=${MODES:-quiet flood unbuffered}
port=${PORT:-19180}
addr=127.0.0.1:$port
conns=20
py=/usr/bin/python3
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
bin=${PYSUP_BENCH_BIN:-bin/pysup}
[ -x "$bin" ] || go build -o "$bin" ./cmd/pysup

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# Milliseconds between requests on one connection, kept fractional by
# carrying the remainder (wrk's delay is whole milliseconds).
awk -v c=$conns -v r="$rate" 'BEGIN {
	printf "local d = %.3f\nlocal acc = 0\n", 1000 * c / r - 0.8
	print "function delay()\n  acc = acc + d\n  local n = math.floor(acc)\n  acc = acc - n\n  return n\nend"
}' >"$tmp/pace.lua"

# to_ms VALUE: wrk's "612.00us" / "1.25ms" / "1.02s" in milliseconds.
to_ms() {
	echo "$1" | awk '/us$/ { sub("us", ""); print $0 / 1000; next }
		/ms$/ { sub("ms", ""); print $0 + 0; next }
		/s$/ { sub("s", ""); print $0 * 1000 }'
}

# one MODE: prints "MODE req/s p50_ms p99_ms lines/s".
one() {
	mode=$1
	flood='while True: w(line)'
	envs=
	case $mode in
	quiet) flood='import time; time.sleep(3600)' ;;
	unbuffered) envs=PYTHONUNBUFFERED=1 ;;
	esac
	rm -f "$tmp/out"
	mkfifo "$tmp/out"
	wc -l <"$tmp/out" >"$tmp/lines" &
	wcpid=$!
	env $envs PYSUP_HTTP_ADDR=$addr PYSUP_DRAIN_DELAY=0 "$bin" -- "$py" -c '
import json, sys
line = json.dumps({"level": "info", "message": "x" * 80}) + "\n"
w = sys.stdout.write
'"$flood" >"$tmp/out" 2>"$tmp/stderr" &
	pid=$!
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
	s=$(date +%s.%N)
	wrk -t1 -c$conns -d"${secs}s" --latency -s "$tmp/pace.lua" "http://$addr/readyz" >"$tmp/wrk"
	e=$(date +%s.%N)
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
	wait "$wcpid" || true
	p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$tmp/wrk")")
	p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$tmp/wrk")")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk")
	lines=$(cat "$tmp/lines")
	echo "$mode $rps $p50 $p99 $(echo "$lines / ($e - $s)" | bc)"
}

echo "/readyz at ~$rate req/s (wrk -t1 -c$conns, paced), $secs s per mode, $runs rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-11s %6s %9s %9s %9s %14s\n' mode round req/s p50_ms p99_ms child_lines/s
for r in $(seq "$runs"); do
	for m in $modes; do
		one "$m" >"$tmp/result"
		set -- $(cat "$tmp/result")
		printf '%-11s %6s %9.0f %9.2f %9.2f %14s\n' "$1" "$r" "$2" "$3" "$4" "$5"
		echo "$1 $4" >>"$tmp/p99"
	done
done
echo
echo "median p99 over $runs rounds (target: < 2 ms while flooding)"
for m in $modes; do
	med=$(awk -v m="$m" '$1 == m { print $2 }' "$tmp/p99" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	q=$(awk -v m=quiet '$1 == m { print $2 }' "$tmp/p99" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	verdict=ok
	[ "$m" != quiet ] && [ "$(echo "$med >= 2" | bc)" = 1 ] && verdict=missed
	[ "$m" = quiet ] && verdict=floor
	ratio=
	[ -n "$q" ] && [ "$m" != quiet ] && ratio=$(printf '(%.1fx quiet)' "$(echo "$med / $q" | bc -l)")
	printf '%-11s %8.2f ms %s %s\n' "$m" "$med" "$ratio" "$verdict"
done
