#!/bin/sh
# Logs benchmarks, side by side (issue 4):
#  (a) Python printing 1,000,000 lines of ~120 bytes: piped to cat >/dev/null
#      vs through the logs pipeline with JSON enrichment to /dev/null, with
#      default buffering and with PYTHONUNBUFFERED=1. Target: <= 1.25x cat.
#  (b) enrichment throughput on one core (Go benchmark) vs Python logging
#      with a JSON formatter. Target: >= 30x.
# Measures bin/pysup (make bench builds it; PYSUP_BENCH_BIN overrides), or
# the stand-in driver bench/logs/pipe when there is no binary.
set -eu
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
N=${N:-1000000}
RUNS=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PYSUP_BENCH_BIN=${PYSUP_BENCH_BIN:-bin/pysup}
if [ -x "$PYSUP_BENCH_BIN" ]; then
	# Only the log capture: no probe server, no diagnostics in the way.
	drv="env PYSUP_HTTP_ADDR=off PYSUP_DIAG_LEVEL=error $PYSUP_BENCH_BIN --"
else
	go build -o "$tmp/pipe" ./bench/logs/pipe
	drv="$tmp/pipe"
fi

# best of RUNS wall seconds of a shell command line
best() {
	b=""
	for _ in $(seq "$RUNS"); do
		s=$(date +%s.%N)
		sh -c "$1"
		e=$(date +%s.%N)
		t=$(echo "$e - $s" | bc)
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
	done
	echo "$b"
}

echo "(a) $N lines of ~120 bytes, best of $RUNS (wall s)"
printf '%-22s %10s %10s %8s %14s\n' mode cat pipeline ratio pipeline_lines/s
for mode in buffered unbuffered; do
	envs=""
	[ "$mode" = unbuffered ] && envs="PYTHONUNBUFFERED=1"
	c=$(best "env $envs $PY bench/logs/emit.py $N | cat >/dev/null")
	p=$(best "env $envs $drv $PY bench/logs/emit.py $N >/dev/null")
	printf '%-22s %10.3f %10.3f %7.2fx %14.0f\n' "$mode" "$c" "$p" "$(echo "$p / $c" | bc -l)" "$(echo "$N / $p" | bc -l)"
done

echo
echo "(b) enrichment on one core"
pyrate=$($PY bench/logs/python_json.py 200000)
go test ./internal/logs/ -run XXX -bench 'Enrich' -benchtime 2s -cpu 1 | tee "$tmp/bench.txt" | grep Benchmark
printf '%-22s %14s %10s\n' what records/s vs_python
printf '%-22s %14s %10s\n' python-json-logger "$pyrate" 1.0x
grep Benchmark "$tmp/bench.txt" | while read -r name _ _ _ mbs _ rps _; do
	printf '%-22s %14.0f %9.1fx   (%s MB/s)\n' "$name" "$rps" "$(echo "$rps / $pyrate" | bc -l)" "$mbs"
done
