#!/usr/bin/env bash
# make bench: every benchmark script, then the Go benchmarks.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for s in bench/start.sh bench/*/*.sh; do
  [ -x "$s" ] || continue
  echo "#### $s"
  "$s" || { echo "FAILED: $s"; status=1; }
  echo
done
echo "#### go test -bench"
go test -run '^$' -bench . -benchmem ./... || status=1
exit $status
