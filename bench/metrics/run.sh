#!/bin/sh
# Side-by-side figures of the metrics part (run from anywhere; make bench
# calls it). Generated data goes to a temp dir, removed at the end.
#   1. aggregating a prometheus_client multiprocess directory of 32
#      workers (96 files, ~3,000 exposed samples, ~21 MB), written by the
#      real prometheus_client: MultiProcessCollector + generate_latest in
#      /usr/bin/python3 against pysup's reader (+ text encoding), cold
#      (new reader: nothing cached) and warm (cached layout, fresh values);
#   2. a full /metrics scrape through pysup with a 10,000-series app.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
DIR=$TMP/multiproc
mkdir -p "$DIR"
$PY "$ROOT/testdata/metrics/mpgen.py" "$DIR" 32
FILES=$(ls "$DIR" | wc -l)
SIZE=$(du -sh --apparent-size "$DIR" | cut -f1)
SAMPLES=$($PY "$ROOT/testdata/metrics/mpc.py" "$DIR" | grep -vc '^#')
PYSEC=$($PY "$ROOT/testdata/metrics/mpc.py" "$DIR" --bench 10 | cut -d' ' -f1)
cd "$ROOT"
GO=$(PYSUP_BENCH_MULTIPROC_DIR=$DIR go test ./internal/metrics/multiproc/ -run '^$' \
	-bench 'Collect(Cold|Warm)$' -benchtime 30x -count 3 | awk '/^Benchmark/ {print $1, $3}')
SCRAPE=$(go test ./internal/metrics/ -run '^$' -bench 'Scrape10k$' -benchtime 30x -count 3 | awk '/^Benchmark/ {print $3}')
best() { echo "$GO" | awk -v n="$1" '$1 ~ n {print $2}' | sort -n | head -1; }
COLD=$(best Cold)
WARM=$(best Warm)
echo "multiprocess directory: $FILES files, $SIZE, $SAMPLES exposed samples"
awk -v py="$PYSEC" -v cold="$COLD" -v warm="$WARM" 'BEGIN {
	printf "%-48s %10.2f ms\n", "python MultiProcessCollector + generate_latest", py*1000
	printf "%-48s %10.2f ms  (%.1fx faster)\n", "pysup reader + text, cold (nothing cached)", cold/1e6, py*1e9/cold
	printf "%-48s %10.2f ms  (%.1fx faster)\n", "pysup reader + text, warm (cached)", warm/1e6, py*1e9/warm
}'
echo "$SCRAPE" | sort -n | head -1 | awk '{printf "%-48s %10.2f ms\n", "full /metrics scrape, 10,000-series app", $1/1e6}'
