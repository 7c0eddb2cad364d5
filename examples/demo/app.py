"""A small stdlib-only web app for `make demo`.

GET /        answers hello and logs a line
GET /healthz answers ok quietly (pysup's readiness check)
GET /json    logs a structured JSON line
GET /error   logs an exception with its (chained) traceback
GET /slow    sleeps 2 s: stop pysup meanwhile to see the graceful drain
"""
import json
import logging
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s")
log = logging.getLogger("demo")
HOST = os.environ.get("HOST", "127.0.0.1")  # 0.0.0.0 in the container image
PORT = int(os.environ.get("PORT", "8000"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, "ok\n")
        elif self.path == "/error":
            try:
                try:
                    {}["missing"]
                except KeyError as e:
                    raise RuntimeError("lookup failed") from e
            except RuntimeError:
                log.exception("request failed")
            self.answer(500, "error logged\n")
        elif self.path == "/json":
            print(json.dumps({"level": "info", "message": "order placed", "order_id": 42}), flush=True)
            self.answer(200, "json logged\n")
        elif self.path == "/slow":
            time.sleep(2)
            self.answer(200, "slow done\n")
        else:
            log.info("hello from %s", self.client_address[0])
            self.answer(200, "hello from a Python app under pysup\n")

    def answer(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        if self.path != "/healthz":
            log.info("access: " + fmt, *args)


if __name__ == "__main__":
    server = ThreadingHTTPServer((HOST, PORT), Handler)
    server.daemon_threads = False
    server.block_on_close = True
    log.info("listening on %s:%d", HOST, PORT)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("KeyboardInterrupt: finishing in-flight requests")
    finally:
        server.server_close()
        log.info("bye")
    sys.exit(0)
