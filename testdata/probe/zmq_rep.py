"""pyzmq REP server for the zmq check.

usage: zmq_rep.py PORT [REPLIES]
Answers every request with b"pong"; with REPLIES, answers that many and then
keeps receiving without answering: a hung app whose socket is still open.
"""
import sys

import zmq

port = int(sys.argv[1])
replies = int(sys.argv[2]) if len(sys.argv) > 2 else -1
ctx = zmq.Context()
sock = ctx.socket(zmq.REP)
sock.bind("tcp://127.0.0.1:%d" % port)
print("bound", flush=True)
n = 0
while True:
    msg = sock.recv_multipart()
    if replies >= 0 and n >= replies:
        # Hung: never answer, never read again.
        while True:
            zmq.select([], [], [], 3600)
    sock.send(b"pong")
    n += 1
