"""A WSGI app with a slow endpoint: /slow?s=SECONDS sleeps, then answers
'done'. Used to check that a graceful stop finishes in-flight requests."""
import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("PATH_INFO") == "/slow":
        # Tells a test the request reached a worker: a stop sent before
        # that would test nothing.
        marker = os.environ.get("SLOW_MARKER")
        if marker:
            open(marker, "a").close()
        time.sleep(float(qs.get("s", ["1"])[0]))
        body = b"done"
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


app = application
