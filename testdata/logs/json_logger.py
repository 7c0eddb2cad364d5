# python-json-logger on stdout, with extra fields and an exception.
import logging, sys
try:
    from pythonjsonlogger.json import JsonFormatter
except ImportError:  # older python-json-logger
    from pythonjsonlogger.jsonlogger import JsonFormatter

h = logging.StreamHandler(sys.stdout)
h.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
log = logging.getLogger("svc")
log.addHandler(h)
log.setLevel(logging.INFO)
log.info("user login", extra={"user_id": 42, "roles": ["admin", "dev"], "ok": True, "ratio": 0.5})
log.warning("disk almost full", extra={"stream": "app-stream", "time": "app-time"})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("division failed")
