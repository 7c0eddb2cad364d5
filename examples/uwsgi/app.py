"""A plain WSGI app run by uWSGI under pysup (PYSUP_PRESET=uwsgi).

GET /          answers hello and logs a line
GET /healthz   answers ok quietly (pysup's liveness check)
GET /slow?s=N  sleeps N seconds (default 2): stop the pod meanwhile and the
               request still finishes, because the preset makes TERM a
               graceful stop (uWSGI 2.0 treats a bare TERM as a brutal reload)
"""
import logging
import os
import sys
import time
from urllib.parse import parse_qs

logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                    format="%(levelname)s:%(name)s:%(message)s")
log = logging.getLogger("uwsgi-app")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        body = b"ok\n"
    elif path == "/slow":
        seconds = float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["2"])[0])
        log.info("slow request started (%.1fs) in worker %d", seconds, os.getpid())
        time.sleep(seconds)
        log.info("slow request done")
        body = b"slow done\n"
    else:
        log.info("hello served by worker %d", os.getpid())
        body = b"hello from uWSGI under pysup\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
