# Python's logging with basicConfig defaults (stderr, "LEVEL:name:message"),
# a logger.exception with a traceback, and plain prints on stdout.
import logging

logging.basicConfig(level=logging.DEBUG)
log = logging.getLogger("app.db")
print("hello from stdout", flush=True)
log.debug("debug line")
log.info("connected to %s", "db1")
log.warning("slow query: %dms", 1200)
try:
    {}["missing"]
except KeyError:
    log.exception("lookup failed")
log.error("plain error")
logging.getLogger().critical("going down")
