"""The echo server of the "Cloud Native Python in Kubernetes" talk
(EuroPython), under pysup (PYSUP_PRESET=python).

A pyzmq REP socket: "ping" gets "pong" (pysup's zmq readiness and liveness
checks send it through this very socket), anything else comes back as JSON
naming the pod that answered. On SIGINT, which the python preset sends after
the drain delay, the request in hand is answered and the server exits 0.
"""
import json
import logging
import os
import sys

import zmq

logging.basicConfig(stream=sys.stdout, level=os.environ.get("LOG_LEVEL", "INFO"),
                    format="%(levelname)s:%(name)s:%(message)s")
log = logging.getLogger("echo-server")
POD = os.environ.get("POD_NAME") or os.uname().nodename


def main():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 2000)  # replies in flight still leave at exit
    addr = f"tcp://{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('ZMQ_PORT', '5556')}"
    sock.bind(addr)
    log.info("echo server listening on %s", addr)
    served = 0
    try:
        while True:
            msg = sock.recv()
            if msg == b"ping":
                sock.send(b"pong")
                continue
            served += 1
            log.info("echo %r", msg.decode(errors="replace"))
            sock.send(json.dumps({"echo": msg.decode(errors="replace"), "server": POD}).encode())
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        ctx.term()
        log.info("echo server stopped after %d requests", served)


if __name__ == "__main__":
    main()
