"""The echo client: sends a request every ECHO_INTERVAL seconds and logs
each reply as a JSON line.

It connects to PYSUP_ZMQ_FRONTEND, its own pysup's ZeroMQ frontend on
127.0.0.1, as if that were the server: pysup spreads the requests over every
ready pod of the echo Service (PYSUP_ZMQ_BACKENDS=k8s://NS/SVC:PORT). That
address is the only thing the app knows about the balancing.
"""
import json
import os
import signal
import sys
import time

import zmq

FRONTEND = os.environ.get("PYSUP_ZMQ_FRONTEND", "tcp://127.0.0.1:5555")
INTERVAL = float(os.environ.get("ECHO_INTERVAL", "1"))
TIMEOUT_MS = int(float(os.environ.get("ECHO_TIMEOUT", "5")) * 1000)


def log(level, message, **fields):
    # A JSON line: pysup merges its fields and adds time and pod metadata.
    print(json.dumps({"level": level, "message": message, **fields}), flush=True)


def connect(ctx):
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(FRONTEND)
    return sock


def main():
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    ctx = zmq.Context()
    sock = connect(ctx)
    log("info", "echo client started", frontend=FRONTEND)
    n = 0
    try:
        while not stop:
            n += 1
            sock.send_string(f"hello {n}")
            if sock.poll(TIMEOUT_MS):
                reply = json.loads(sock.recv())
                log("info", "reply", request=n, echo=reply["echo"], server=reply["server"])
            else:
                # REQ is stuck after a lost reply: start again with a new one.
                log("warning", "no reply", request=n, timeout_ms=TIMEOUT_MS)
                sock.close()
                sock = connect(ctx)
            time.sleep(INTERVAL)
    except KeyboardInterrupt:
        pass
    sock.close()
    ctx.term()
    log("info", "echo client stopped", requests=n)


if __name__ == "__main__":
    sys.exit(main())
