#!/usr/bin/env bash
# ZeroMQ balancing benchmark, side by side in one run: 4 pyzmq REP servers
# whose handler sleeps 2 ms, and a pyzmq DEALER client keeping 64 requests
# in flight for DURATION seconds (default 5):
#   1. one connection to one server (what a Service VIP gives),
#   2. through pysup's balancer to all four,
#   3. libzmq's own multi-connect DEALER to the same four.
# Targets: 2 >= 3.5x 1, and 2 within 15% of 3. Also per-server shares and
# the CPU the balancer spends per request.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
DUR=${DURATION:-5}
SLEEP_MS=${SLEEP_MS:-2}
INFLIGHT=${INFLIGHT:-64}
if ! $PY -c 'import zmq' 2>/dev/null; then
  echo "bench/zmq: skipped: $PY lacks pyzmq (make deps)"; exit 0
fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

go build -o "$tmp/zmqbench" ./bench/zmq
eps=()
for i in 1 2 3 4; do
  p=$(port)
  $PY testdata/zmq/rep_server.py --bind tcp://127.0.0.1:$p --name s$i --sleep "$SLEEP_MS" > "$tmp/s$i.out" &
  pids+=($!)
  eps+=("tcp://127.0.0.1:$p")
done
for i in 1 2 3 4; do until grep -q READY "$tmp/s$i.out" 2>/dev/null; do sleep 0.05; done; done

client() { $PY testdata/zmq/req_client.py --dealer --clients "$INFLIGHT" --duration "$DUR" --timeout 10000 "$@"; }

single=$(client --connect "${eps[0]}")

fp=$(port)
backends=$(IFS=,; echo "${eps[*]}")
GOMAXPROCS=${LB_GOMAXPROCS:-} "$tmp/zmqbench" -frontend "tcp://127.0.0.1:$fp" -backends "$backends" > "$tmp/lb.out" &
lbpid=$!; pids+=($lbpid)
until grep -q READY "$tmp/lb.out" 2>/dev/null; do sleep 0.05; done
sleep 0.3
viapysup=$(client --connect "tcp://127.0.0.1:$fp")
kill -TERM $lbpid; wait $lbpid || true
lbstats=$(tail -n 1 "$tmp/lb.out")

args=(); for e in "${eps[@]}"; do args+=(--connect "$e"); done
libzmq=$(client "${args[@]}")

$PY - "$single" "$viapysup" "$libzmq" "$lbstats" "$INFLIGHT" "$SLEEP_MS" <<'PYEOF'
import json, sys
single, lb, lz, st = (json.loads(a) for a in sys.argv[1:5])
print(f"4 pyzmq REP servers (handler sleeps {sys.argv[6]} ms), pyzmq DEALER client, {sys.argv[5]} requests in flight")
print(f"{'setup':<36}{'req/s':>10}{'lost':>6}  shares s1/s2/s3/s4")
def row(name, r):
    tot = sum(r["by_server"].values()) or 1
    sh = "/".join(f"{100*r['by_server'].get(f's{i}',0)/tot:.0f}%" for i in range(1,5))
    print(f"{name:<36}{r['rps']:>10.0f}{r['lost']:>6}  {sh}")
row("one connection to one server", single)
row("pysup balancer -> 4 servers", lb)
row("libzmq multi-connect DEALER -> 4", lz)
print(f"pysup vs one server: {lb['rps']/single['rps']:.2f}x (target >= 3.5x)")
print(f"pysup vs libzmq DEALER: {100*(lb['rps']/lz['rps']-1):+.1f}% (target within -15%)")
print(f"pysup CPU: {st['cpu_us_per_req']:.1f} us per request ({st['requests']:.0f} requests, {st['user_seconds']:.2f} s user + {st['sys_seconds']:.2f} s system, max RSS {st['max_rss_kib']/1024:.1f} MiB)")
PYEOF
