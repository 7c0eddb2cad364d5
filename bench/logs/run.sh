#!/bin/sh
# Logs benchmarks, side by side (issue 4):
#  (a) Python printing 1,000,000 lines of ~120 bytes: piped to cat >/dev/null
#      vs through the logs pipeline with JSON enrichment to /dev/null, with
#      default buffering and with PYTHONUNBUFFERED=1. Target: <= 1.25x cat
#      (the ratio of the best runs; the ratio of the medians is printed too).
#  (b) enrichment throughput on one core (Go benchmark) vs Python logging
#      with a JSON formatter. Target: >= 30x.
# Measures bin/pysup (make bench builds it; PYSUP_BENCH_BIN overrides), or
# the stand-in driver bench/logs/pipe when there is no binary.
set -eu
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
N=${N:-1000000}
RUNS=${RUNS:-5}
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

# run CMD: wall seconds, appended to $2, and CPU seconds of everything CMD
# ran (python + the capture: the children the shell waited for, from its
# /proc stat), appended to $3.
hz=$(getconf CLK_TCK)
run() {
	s=$(date +%s.%N)
	sh -c "$1; read -r st </proc/\$\$/stat; echo \"\$st\" >$tmp/stat"
	e=$(date +%s.%N)
	echo "$e - $s" | bc >>"$2"
	sed 's/^.*) //' "$tmp/stat" | awk -v hz="$hz" '{ print ($14 + $15) / hz }' >>"$3"
}

# best and median of the numbers on stdin
stats() {
	sort -g | awk '{ v[NR] = $1 } END { printf "%.3f %.3f\n", v[1], (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# cat and pysup alternate, RUNS times each, so both see the same moments of
# a shared machine; best-of and median are printed, ratios of each.
echo "(a) $N lines of ~120 bytes, $RUNS runs each, alternating (wall s); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-11s %9s %9s %9s %9s %8s %8s %8s %8s %12s\n' mode cat_best cat_med pysup_best pysup_med ratio_b ratio_m cpu_cat cpu_pysup pysup_lines/s
for mode in buffered unbuffered; do
	envs=""
	[ "$mode" = unbuffered ] && envs="PYTHONUNBUFFERED=1"
	: >"$tmp/cat"
	: >"$tmp/pysup"
	: >"$tmp/cat.cpu"
	: >"$tmp/pysup.cpu"
	for _ in $(seq "$RUNS"); do
		run "env $envs $PY bench/logs/emit.py $N | cat >/dev/null" "$tmp/cat" "$tmp/cat.cpu"
		run "env $envs $drv $PY bench/logs/emit.py $N >/dev/null" "$tmp/pysup" "$tmp/pysup.cpu"
	done
	set -- $(stats <"$tmp/cat") $(stats <"$tmp/pysup") $(stats <"$tmp/cat.cpu") $(stats <"$tmp/pysup.cpu")
	ratio=$(echo "$3 / $1" | bc -l)
	verdict=ok
	[ "$(echo "$ratio > 1.25" | bc)" = 1 ] && verdict=missed
	printf '%-11s %9.3f %9.3f %9.3f %9.3f %7.2fx %7.2fx %8.2f %8.2f %12.0f  %s (target <= 1.25x)\n' "$mode" "$1" "$2" "$3" "$4" \
		"$ratio" "$(echo "$4 / $2" | bc -l)" "$6" "$8" "$(echo "$N / $3" | bc -l)" "$verdict"
done
echo "cpu_*: median CPU seconds of python + cat, python + pysup"

echo
echo "(b) enrichment on one core"
pyrate=$($PY bench/logs/python_json.py 200000)
go test ./internal/logs/ -run XXX -bench 'Enrich' -benchtime 2s -cpu 1 | tee "$tmp/bench.txt" | grep Benchmark
printf '%-22s %14s %10s\n' what records/s vs_python
printf '%-22s %14s %10s\n' python-json-logger "$pyrate" 1.0x
grep Benchmark "$tmp/bench.txt" | while read -r name _ _ _ mbs _ rps _; do
	printf '%-22s %14.0f %9.1fx   (%s MB/s)\n' "$name" "$rps" "$(echo "$rps / $pyrate" | bc -l)" "$mbs"
done
