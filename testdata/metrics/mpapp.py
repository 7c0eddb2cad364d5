"""WSGI app for pysup's multiprocess tests: prometheus_client in
multiprocess mode with every metric type and gauge mode, run by gunicorn
with several workers (PROMETHEUS_MULTIPROC_DIR set by the test)."""
import os

from prometheus_client import Counter, Gauge, Histogram, Summary

REQUESTS = Counter("app_requests", "Requests handled.", ["path", "code"])
LATENCY = Histogram("app_latency_seconds", "Request latency.", ["path"])
SIZE = Summary("app_response_bytes", "Response size.", ["path"])
PLAIN = Counter("app_plain", "A counter without labels.")
GAUGES = {
    mode: Gauge("app_gauge_" + mode, "Gauge in mode " + mode, ["kind"], multiprocess_mode=mode)
    for mode in ("all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum")
}

PID = os.getpid()
for mode, g in GAUGES.items():
    g.labels(kind="pid").set(PID % 1000)
    g.labels(kind="one").set(1)


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    n = len(path)
    REQUESTS.labels(path=path, code="200").inc()
    PLAIN.inc(0.5)
    LATENCY.labels(path=path).observe(n / 100.0)
    SIZE.labels(path=path).observe(n * 10)
    for g in GAUGES.values():
        g.labels(kind="last").set(n)
    body = b"ok %d\n" % PID
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
