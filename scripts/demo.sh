#!/usr/bin/env bash
# make demo: runs examples/demo/app.py under pysup on this machine, shows
# pysup's records and how to curl the app and the probe endpoints, then
# waits for Ctrl-C to show the graceful stop. DEMO_AUTO=1 stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PYSUP=${PYSUP:-bin/pysup}
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
APP_PORT=${APP_PORT:-8000}
HTTP_ADDR=${HTTP_ADDR:-127.0.0.1:9180}
export PORT=$APP_PORT
export PYSUP_HTTP_ADDR=$HTTP_ADDR
export PYSUP_PRESET=python
export PYSUP_DRAIN_DELAY=${PYSUP_DRAIN_DELAY:-2s}
export PYSUP_STOP_TIMEOUT=${PYSUP_STOP_TIMEOUT:-5s}
export PYSUP_READY_CHECK="http://127.0.0.1:$APP_PORT/healthz?period=500ms"
export PYSUP_LIVE_CHECK="tcp://127.0.0.1:$APP_PORT?period=2s"

log=$(mktemp)
"$PYSUP" -- "$PY" examples/demo/app.py >"$log" 2>&1 &
pid=$!
stop() {
  echo; echo "== SIGTERM to pysup: /readyz fails at once, the app keeps serving for $PYSUP_DRAIN_DELAY, then gets INT"
  kill -TERM $pid 2>/dev/null || true
  sleep 0.2
  printf '   /readyz while draining: '; curl -s -o /dev/null -w '%{http_code}\n' "http://$HTTP_ADDR/readyz" || true
  set +e; wait $pid; code=$?; set -e
  echo "== pysup exited with status $code; its output:"
  cat "$log"; rm -f "$log"
  exit 0
}
trap stop INT TERM

printf "== waiting for readiness"
for _ in $(seq 100); do
  if curl -fs -o /dev/null "http://$HTTP_ADDR/readyz"; then break; fi
  kill -0 $pid 2>/dev/null || { echo; cat "$log"; exit 1; }
  printf .; sleep 0.1
done
echo
show() { echo "\$ curl -s $1"; curl -s -w '   [HTTP %{http_code}]\n' "$1"; }
show "http://127.0.0.1:$APP_PORT/"
show "http://127.0.0.1:$APP_PORT/json"
show "http://127.0.0.1:$APP_PORT/error"
show "http://$HTTP_ADDR/readyz"
show "http://$HTTP_ADDR/livez"
show "http://$HTTP_ADDR/startupz"
sleep 0.3
echo "== pysup's output so far (the app's lines as JSON records, pysup's own diagnostics):"
cat "$log"
if [ "${DEMO_AUTO:-}" = 1 ]; then stop; fi
echo
echo "pysup (pid $pid) keeps running. Try: curl http://127.0.0.1:$APP_PORT/slow & then press Ctrl-C."
tail -n0 -f "$log" &
wait $pid || true

