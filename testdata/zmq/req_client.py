"""pyzmq REQ clients for pysup's balancer tests and benchmark.

--clients REQ sockets (one thread each) connect to --connect and send
numbered requests until --count requests each are answered, --duration
seconds have passed, or the file --stop-file exists. A reply must echo the
request after "NAME|"; replies are counted per server NAME. A request not
answered within --timeout ms is lost (the socket is then replaced).
Prints one JSON line: {"ok", "lost", "bad", "by_server", "seconds", "rps"}.
With --dealer a single DEALER socket keeps --clients requests in flight.
"""
import argparse
import json
import os
import threading
import time

import zmq

p = argparse.ArgumentParser()
p.add_argument("--connect", required=True, action="append")
p.add_argument("--clients", type=int, default=1)
p.add_argument("--count", type=int, default=0)
p.add_argument("--duration", type=float, default=0.0)
p.add_argument("--stop-file", default="")
p.add_argument("--timeout", type=int, default=5000)
p.add_argument("--dealer", action="store_true")
p.add_argument("--size", type=int, default=0, help="payload padding bytes")
a = p.parse_args()

ctx = zmq.Context()
lock = threading.Lock()
res = {"ok": 0, "lost": 0, "bad": 0, "by_server": {}}
t0 = time.monotonic()
pad = b"x" * a.size


def done(i):
    if a.count and i >= a.count:
        return True
    if a.duration and time.monotonic() - t0 >= a.duration:
        return True
    if a.stop_file and os.path.exists(a.stop_file):
        return True
    return False


def count(rep, want):
    name, _, body = rep.partition(b"|")
    with lock:
        if body != want:
            res["bad"] += 1
            return
        res["ok"] += 1
        k = name.decode()
        res["by_server"][k] = res["by_server"].get(k, 0) + 1


def req_client(c):
    def mk():
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        for ep in a.connect:
            s.connect(ep)
        return s

    s = mk()
    i = 0
    while not done(i):
        want = b"c%d-%d" % (c, i) + pad
        s.send(want)
        if s.poll(a.timeout):
            count(s.recv(), want)
        else:
            with lock:
                res["lost"] += 1
            s.close()
            s = mk()
        i += 1
    s.close()


def dealer_client():
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    for ep in a.connect:
        s.connect(ep)
    inflight = {}
    i = 0
    while True:
        while len(inflight) < a.clients and not done(i):
            want = b"d-%d" % i + pad
            s.send_multipart([b"", want])
            inflight[want] = time.monotonic()
            i += 1
        if not inflight:
            break
        if s.poll(a.timeout):
            frames = s.recv_multipart()
            name, _, body = frames[-1].partition(b"|")
            if body in inflight:
                del inflight[body]
            count(frames[-1], body)
        else:
            with lock:
                res["lost"] += len(inflight)
            inflight.clear()
    s.close()


if a.dealer:
    dealer_client()
else:
    ts = [threading.Thread(target=req_client, args=(c,)) for c in range(a.clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
res["seconds"] = time.monotonic() - t0
res["rps"] = res["ok"] / res["seconds"] if res["seconds"] else 0
print(json.dumps(res), flush=True)
ctx.term()
