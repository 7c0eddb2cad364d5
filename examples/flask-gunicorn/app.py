"""A Flask web app run by gunicorn under pysup.

GET /          answers hello and logs one JSON line with request fields
GET /healthz   answers ok quietly (pysup's liveness check)
GET /slow?s=N  sleeps N seconds (default 2): stop the pod meanwhile to see the
               request finish during the graceful stop

Metrics use prometheus_client's multiprocess mode: each gunicorn worker
writes its samples to PROMETHEUS_MULTIPROC_DIR and pysup serves the
aggregate at :9180/metrics, so the app needs no metrics endpoint of its own.
"""
import logging
import os
import time

from flask import Flask, request
from prometheus_client import Counter, Histogram

app = Flask(__name__)
log = logging.getLogger("web")

REQUESTS = Counter("web_requests_total", "HTTP requests answered", ["path", "status"])
LATENCY = Histogram("web_request_duration_seconds", "HTTP request latency", ["path"])


@app.before_request
def start_timer():
    request.environ["web.start"] = time.monotonic()


@app.after_request
def count(response):
    if request.path != "/healthz":
        REQUESTS.labels(request.path, str(response.status_code)).inc()
        LATENCY.labels(request.path).observe(time.monotonic() - request.environ["web.start"])
    return response


@app.get("/")
def hello():
    # With python-json-logger, extra fields become JSON fields, which pysup
    # keeps as they are and enriches with the pod's metadata.
    log.info("hello served", extra={"path": request.path, "worker_pid": os.getpid()})
    return "hello from Flask under gunicorn under pysup\n"


@app.get("/healthz")
def healthz():
    return "ok\n"


@app.get("/slow")
def slow():
    seconds = float(request.args.get("s", "2"))
    log.info("slow request started", extra={"seconds": seconds})
    time.sleep(seconds)
    log.info("slow request done", extra={"seconds": seconds})
    return "slow done\n"
