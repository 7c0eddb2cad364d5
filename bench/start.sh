#!/usr/bin/env bash
# Cost of one start, side by side in one run: N starts of /bin/true bare,
# under pysup, tini and catatonit; python3 -c pass bare and under pysup; and
# pysup's idle memory while the child sleeps. Every optional part of pysup
# is off (no HTTP server, no log capture) so this is the PID-1 core alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PYSUP=${PYSUP:-bin/pysup}
N=${N:-50}
ROUNDS=${ROUNDS:-5}
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
export PYSUP_HTTP_ADDR= PYSUP_LOG=false PYSUP_DIAG_LEVEL=error
# A configuration error would exit 2 at once and look fast: check first.
"$PYSUP" -- /bin/true || { echo "pysup -- /bin/true failed" >&2; exit 1; }

# loop_ms CMD...: best of ROUNDS wall times of N runs, in ms.
loop_ms() {
  local best=
  for _ in $(seq "$ROUNDS"); do
    local t0 t1
    t0=$(date +%s%N)
    for _ in $(seq "$N"); do "$@" >/dev/null 2>&1; done
    t1=$(date +%s%N)
    local ms=$(( (t1 - t0) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}

per_start() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN { printf "%.2f", (a - b) / n }'; }

echo "== start cost: $N starts, best of $ROUNDS rounds"
bare=$(loop_ms /bin/true)
ps=$(loop_ms "$PYSUP" -- /bin/true)
printf "%-28s %6s ms  (%s ms/start)\n" "bare /bin/true" "$bare" "$(awk -v a=$bare -v n=$N 'BEGIN{printf "%.2f", a/n}')"
printf "%-28s %6s ms  adds %s ms/start\n" "pysup -- /bin/true" "$ps" "$(per_start $ps $bare)"
for init in tini catatonit; do
  if command -v $init >/dev/null; then
    args=(--); [ $init = tini ] && args=(-s --)  # -s: subreaper, as pysup is here
    t=$(loop_ms $init "${args[@]}" /bin/true)
    printf "%-28s %6s ms  adds %s ms/start\n" "$init -- /bin/true" "$t" "$(per_start $t $bare)"
    eval "${init}_ms=$t"
  fi
done
if [ -n "${tini_ms:-}" ]; then
  awk -v p="$ps" -v t="$tini_ms" -v c="${catatonit_ms:-0}" -v b="$bare" 'BEGIN {
    printf "ratio of added cost: pysup/tini %.2f", (p-b)/(t-b);
    if (c > 0) printf ", pysup/catatonit %.2f", (p-b)/(c-b);
    printf "  (target: <= 1 against tini)\n" }'
fi

pyb=$(loop_ms $PY -c pass)
pys=$(loop_ms "$PYSUP" -- $PY -c pass)
printf "%-28s %6s ms\n" "bare python3 -c pass" "$pyb"
printf "%-28s %6s ms  adds %s ms/start (x%s)\n" "pysup -- python3 -c pass" "$pys" "$(per_start $pys $pyb)" \
  "$(awk -v a=$pys -v b=$pyb 'BEGIN{printf "%.3f", a/b}')"

# idle_rss NAME CMD...: VmRSS and VmHWM of CMD one second after it started
# a sleeping child.
idle_rss() {
  local name=$1; shift
  "$@" sleep 3 >/dev/null 2>&1 &
  local pid=$!
  sleep 1
  local rss hwm
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill -TERM $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  printf "%-28s VmRSS %6.2f MiB  VmHWM %6.2f MiB\n" "$name" "$(awk -v k=$rss 'BEGIN{print k/1024}')" "$(awk -v k=$hwm 'BEGIN{print k/1024}')"
}
echo "== idle memory while the child sleeps (target for pysup: < 10 MiB)"
idle_rss "pysup" "$PYSUP" --
command -v tini >/dev/null && idle_rss "tini" tini -s --
command -v catatonit >/dev/null && idle_rss "catatonit" catatonit --
