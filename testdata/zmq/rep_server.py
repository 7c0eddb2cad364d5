"""A pyzmq REP server for pysup's balancer tests and benchmark.

Replies NAME|REQUEST to each request after sleeping --sleep milliseconds.
Prints READY once bound. On SIGTERM it finishes the request in hand, then
exits (a graceful server, as the drain scenario needs).
"""
import argparse
import signal
import sys
import time

import zmq

p = argparse.ArgumentParser()
p.add_argument("--bind", required=True)
p.add_argument("--name", required=True)
p.add_argument("--sleep", type=float, default=0.0, help="milliseconds per request")
a = p.parse_args()

stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
ctx = zmq.Context()
s = ctx.socket(zmq.REP)
s.setsockopt(zmq.LINGER, 1000)
s.bind(a.bind)
print("READY", flush=True)
name = a.name.encode()
delay = a.sleep / 1000.0
poller = zmq.Poller()
poller.register(s, zmq.POLLIN)
n = 0
while not stop:
    if not poller.poll(100):
        continue
    req = s.recv()
    if delay:
        time.sleep(delay)
    s.send(name + b"|" + req)
    n += 1
s.close()
ctx.term()
print("SERVED", n, flush=True)
sys.exit(0)
