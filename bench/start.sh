#!/usr/bin/env bash
# Cost of one start, side by side in one run: N starts of /bin/true bare,
# under pysup, tini -s and catatonit; N runs of an empty Go program (the Go
# runtime's start and exit alone, no child); /bin/true under two Go floors
# built here (bench/startfloor: a Go PID 1 that registers pysup's signals,
# becomes a subreaper, starts and waits; then the same linking pysup's
# third-party packages); python3 -c pass bare and under pysup; then the idle memory of
# each while its child sleeps. Every optional part of pysup is off (no HTTP
# server, no log capture) so this is the PID-1 core alone.
#
# Rounds are interleaved (each round runs every command once), so a load
# change on a shared machine hits them all alike; each figure is the best
# round. Wall time is what a user waits; CPU (user+sys of the loop, from
# bash's time) is less sensitive to a loaded machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PYSUP=${PYSUP:-bin/pysup}
# PYSUP_BASELINE=path/to/older/pysup adds its rows, for a before/after in
# the same run.
BASE=${PYSUP_BASELINE:-}
N=${N:-50}
ROUNDS=${ROUNDS:-7}
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
export PYSUP_HTTP_ADDR= PYSUP_LOG=false PYSUP_DIAG_LEVEL=error
# A configuration error would exit 2 at once and look fast: check first.
"$PYSUP" -- /bin/true || { echo "pysup -- /bin/true failed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
FLOOR= DEPSFLOOR= EMPTY=
if command -v go >/dev/null; then
  # Built as the Makefile builds pysup (GOFLAGS, such as its tags, apply).
  build() { CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" "$@"; }
  build -o "$tmp/empty" ./bench/startfloor/empty && EMPTY=$tmp/empty
  build -o "$tmp/floor" ./bench/startfloor && FLOOR=$tmp/floor
  # A -tags flag replaces the one in GOFLAGS (nethttpomithttp2): give both.
  tags=$(printf '%s\n' ${GOFLAGS:-} | sed -n 's/^-tags=//p' | tail -n 1)
  build -tags "${tags:+$tags,}startfloor_deps" -o "$tmp/depsfloor" ./bench/startfloor && DEPSFLOOR=$tmp/depsfloor
fi

names=() ; cmds=()
add() { names+=("$1"); cmds+=("$2"); }
add "bare /bin/true" "/bin/true"
add "pysup -- /bin/true" "$PYSUP -- /bin/true"
[ -n "$BASE" ] && add "baseline -- /bin/true" "$BASE -- /bin/true"
command -v tini >/dev/null && add "tini -s -- /bin/true" "tini -s -- /bin/true"  # -s: subreaper, as pysup is here
command -v catatonit >/dev/null && add "catatonit -- /bin/true" "catatonit -- /bin/true"
# The Go runtime alone, no child: its cost over /bin/true is the least any
# Go PID 1 adds, before it starts a child at all.
[ -n "$EMPTY" ] && add "Go empty main (no child)" "$EMPTY"
[ -n "$FLOOR" ] && add "Go floor /bin/true" "$FLOOR /bin/true"
[ -n "$DEPSFLOOR" ] && add "Go floor+deps /bin/true" "$DEPSFLOOR /bin/true"
add "bare python3 -c pass" "$PY -c pass"
add "pysup -- python3 -c pass" "$PYSUP -- $PY -c pass"
[ -n "$BASE" ] && add "baseline -- python3 -c pass" "$BASE -- $PY -c pass"

# loop CMD: "wall_ms cpu_ms" of N runs of CMD (word-split, no quoting).
loop() {
  local TIMEFORMAT='%3R %3U %3S' t
  # shellcheck disable=SC2086
  t=$( { time (for _ in $(seq "$N"); do $1 >/dev/null 2>&1; done); } 2>&1 )
  awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%d %d", a[1] * 1000, (a[2] + a[3]) * 1000 }'
}

declare -a wall cpu walls
for _ in $(seq "$ROUNDS"); do
  for i in "${!cmds[@]}"; do
    read -r w c <<<"$(loop "${cmds[$i]}")"
    if [ -z "${wall[$i]:-}" ] || [ "$w" -lt "${wall[$i]}" ]; then wall[$i]=$w; fi
    if [ -z "${cpu[$i]:-}" ] || [ "$c" -lt "${cpu[$i]}" ]; then cpu[$i]=$c; fi
    walls[$i]="${walls[$i]:-} $w"
  done
done
# median ROUND-TIMES...: the middle one, what a typical round took.
median() { printf "%s\n" "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

idx() { local i; for i in "${!names[@]}"; do [ "${names[$i]}" = "$1" ] && { echo "$i"; return; }; done; }
per() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN { printf "%.2f", (a - b) / n }'; }
echo "== start cost: $N starts, best of $ROUNDS interleaved rounds (wall; CPU = user+sys; median round's wall)"
b=$(idx "bare /bin/true"); pb=$(idx "bare python3 -c pass")
for i in "${!names[@]}"; do
  base=$b; case ${names[$i]} in *python3*) base=$pb ;; esac
  if [ "$i" = "$b" ] || [ "$i" = "$pb" ]; then
    printf "%-26s %6s ms (%s ms/start)   CPU %6s ms                median %6s ms/start\n" "${names[$i]}" "${wall[$i]}" \
      "$(per "${wall[$i]}" 0)" "${cpu[$i]}" "$(per "$(median ${walls[$i]})" 0)"
  else
    # shellcheck disable=SC2086
    printf "%-26s %6s ms adds %6s ms/start   CPU adds %6s ms/start   median adds %6s ms/start\n" "${names[$i]}" "${wall[$i]}" \
      "$(per "${wall[$i]}" "${wall[$base]}")" "$(per "${cpu[$i]}" "${cpu[$base]}")" \
      "$(per "$(median ${walls[$i]})" "$(median ${walls[$base]})")"
  fi
done
p=$(idx "pysup -- /bin/true")
for ref in "tini -s -- /bin/true" "catatonit -- /bin/true" "Go empty main (no child)" "Go floor+deps /bin/true"; do
  r=$(idx "$ref"); [ -n "$r" ] || continue
  name=${ref% /bin/true}; name=${name% --}; name=${name% (no child)}
  awk -v p="${wall[$p]}" -v t="${wall[$r]}" -v pc="${cpu[$p]}" -v tc="${cpu[$r]}" -v b="${wall[$b]}" -v bc="${cpu[$b]}" -v name="$name" 'BEGIN {
    printf "ratio of added cost, pysup / %s: wall %.2f, CPU %.2f\n", name, (p - b) / (t - b), (pc - bc) / (tc - bc) }'
done
echo "(target: pysup adds no more than tini -s; the Go floors show what any Go PID 1 pays here)"

# idle_rss NAME CMD...: VmRSS (anonymous + file-backed) of CMD one second
# after it started a sleeping child; the median of 3 starts.
idle_rss() {
  local name=$1; shift
  local samples=()
  for _ in 1 2 3; do
    "$@" sleep 3 >/dev/null 2>&1 &
    local pid=$!
    sleep 1
    samples+=("$(awk '/^VmRSS/ {r=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {print r, a, f}' /proc/$pid/status)")
    kill -TERM $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
  done
  local med
  med=$(printf "%s\n" "${samples[@]}" | sort -n | sed -n 2p)
  local size=""
  [ -f "$1" ] && size=$(awk -v s="$(stat -c %s "$1")" 'BEGIN { printf "binary %.2f MiB", s / 1048576 }')
  awk -v m="$med" -v name="$name" -v size="$size" 'BEGIN { split(m, a, " ");
    printf "%-26s VmRSS %6.2f MiB  (anon %5.2f, file %5.2f)  %s\n", name, a[1] / 1024, a[2] / 1024, a[3] / 1024, size }'
}
echo "== idle memory while the child sleeps, median of 3 (target for pysup: VmRSS < 10 MiB)"
idle_rss "pysup" "$PYSUP" --
[ -n "$BASE" ] && idle_rss "baseline" "$BASE" --
command -v tini >/dev/null && idle_rss "tini -s" "$(command -v tini)" -s --
command -v catatonit >/dev/null && idle_rss "catatonit" "$(command -v catatonit)" --
[ -n "$FLOOR" ] && idle_rss "Go floor" "$FLOOR"
[ -n "$DEPSFLOOR" ] && idle_rss "Go floor+deps" "$DEPSFLOOR"
exit 0
