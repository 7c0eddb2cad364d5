#!/bin/sh
# Side-by-side figures of the metrics part (run from anywhere; make bench
# calls it). Generated data goes to a temp dir, removed at the end.
#   1. aggregating a prometheus_client multiprocess directory of 32
#      workers (96 files, ~3,000 exposed samples, ~21 MB), written by the
#      real prometheus_client: MultiProcessCollector + generate_latest in
#      /usr/bin/python3 against pysup's reader + text encoding, cold (a
#      new reader: nothing cached, every file mapped and parsed) and warm
#      (one reader, values read afresh), in ROUNDS interleaved rounds on
#      the same directory, so that the machine's load hits all three
#      alike. Wall time is the best round; CPU time (the process's, every
#      thread) is printed beside it because on a shared machine wall time
#      also counts waiting for a core, and because pysup reads a cold
#      directory on every core while Python uses one: with one core (a pod
#      limited to one CPU) a collection takes about its CPU time. Ratios
#      are against the 10x target, which is for speed: wall time.
#   2. a full /metrics scrape through pysup with a 10,000-series app.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
ROUNDS=${ROUNDS:-5}
TARGET=10
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
DIR=$TMP/multiproc
mkdir -p "$DIR"
$PY "$ROOT/testdata/metrics/mpgen.py" "$DIR" 32
FILES=$(ls "$DIR" | wc -l)
SIZE=$(du -sh --apparent-size "$DIR" | cut -f1)
SAMPLES=$($PY "$ROOT/testdata/metrics/mpc.py" "$DIR" | grep -vc '^#')
cd "$ROOT"
go test -c -o "$TMP/multiproc.test" ./internal/metrics/multiproc/
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
: >"$TMP/runs"
i=0
while [ "$i" -lt "$ROUNDS" ]; do
	i=$((i + 1))
	# python: wall, size, cpu (seconds per collection)
	$PY "$ROOT/testdata/metrics/mpc.py" "$DIR" --bench 10 | awk '{print "python", $1*1e9, $3*1e9}' >>"$TMP/runs"
	PYSUP_BENCH_MULTIPROC_DIR=$DIR "$TMP/multiproc.test" -test.run '^$' \
		-test.bench 'Collect(Cold|Warm)$' -test.benchtime 30x | awk '/^Benchmark/ {
			cpu = 0
			for (f = 1; f < NF; f++) if ($(f + 1) == "cpu-ns/op") cpu = $f
			name = ($1 ~ /Cold/) ? "cold" : "warm"
			print name, $3, cpu
		}' >>"$TMP/runs"
	GOMAXPROCS=1 PYSUP_BENCH_MULTIPROC_DIR=$DIR "$TMP/multiproc.test" -test.run '^$' \
		-test.bench 'CollectCold$' -test.benchtime 30x | awk '/^Benchmark/ {
			cpu = 0
			for (f = 1; f < NF; f++) if ($(f + 1) == "cpu-ns/op") cpu = $f
			print "cold1", $3, cpu
		}' >>"$TMP/runs"
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "multiprocess directory: $FILES files, $SIZE, $SAMPLES exposed samples; $ROUNDS rounds, best (median) per collection"
sort -k1,1 -k2,2n "$TMP/runs" | awk -v target="$TARGET" '
	{ n[$1]++; wall[$1, n[$1]] = $2; cpus[$1, n[$1]] = $3 }
	function med(a, k,    m, i, j, t, v) {
		m = n[k]
		for (i = 1; i <= m; i++) v[i] = a[k, i]
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
	}
	function best(a, k,    i, b) { b = a[k, 1]; for (i = 2; i <= n[k]; i++) if (a[k, i] < b) b = a[k, i]; return b }
	function line(label, k) {
		printf "%-46s wall %7.2f ms (%7.2f)   cpu %7.2f ms (%7.2f)", label,
			best(wall, k) / 1e6, med(wall, k) / 1e6, best(cpus, k) / 1e6, med(cpus, k) / 1e6
		if (k != "python") {
			rw = best(wall, "python") / best(wall, k)
			rc = best(cpus, "python") / best(cpus, k)
			printf "   %5.1fx wall, %5.1fx cpu: %s", rw, rc, (rw >= target) ? ((rc >= target) ? "target met" : "target met in wall time; CPU below it") : "target MISSED"
		}
		printf "\n"
	}
	END {
		line("python MultiProcessCollector + generate_latest", "python")
		line("pysup reader + text, cold (nothing cached)", "cold")
		line("  the same on one core (GOMAXPROCS=1)", "cold1")
		line("pysup reader + text, warm (cached)", "warm")
		printf "target: pysup at least %dx faster than python, cold and warm\n", target
	}'
SCRAPE=$(go test ./internal/metrics/ -run '^$' -bench 'Scrape10k$' -benchtime 30x -count 3 | awk '/^Benchmark/ {print $3}')
echo "$SCRAPE" | sort -n | awk 'NR == 1 {b = $1} {v[NR] = $1} END {printf "%-46s wall %7.2f ms (%7.2f)\n", "full /metrics scrape, 10,000-series app", b / 1e6, v[int((NR + 1) / 2)] / 1e6}'
