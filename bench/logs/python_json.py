# Python's own enrichment rate: logging with a JSON formatter
# (python-json-logger) writing N records to /dev/null; prints records/s.
import logging, sys, time
try:
    from pythonjsonlogger.json import JsonFormatter
except ImportError:
    from pythonjsonlogger.jsonlogger import JsonFormatter
n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
h = logging.StreamHandler(open("/dev/null", "w"))
h.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
log = logging.getLogger("bench")
log.addHandler(h)
log.propagate = False
log.setLevel(logging.INFO)
t = time.perf_counter()
for i in range(n):
    log.warning("request %07d handled in 12ms for user 42 from 10.0.0.7 path /api/v1/items ok", i)
dt = time.perf_counter() - t
print("%.0f" % (n / dt))
