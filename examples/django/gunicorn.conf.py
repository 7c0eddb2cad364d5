"""gunicorn settings for the shop under pysup (PYSUP_PRESET=gunicorn).

No `workers`: gunicorn reads WEB_CONCURRENCY, which pysup sets from the
container's CPU and memory limits (PYSUP_WEB_CONCURRENCY=auto,
PYSUP_WORKER_MEMORY per worker). pysup sends TERM to the master after the
drain delay; graceful_timeout (15) fits in PYSUP_STOP_TIMEOUT (20s).
"""
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "15"))
# Django is loaded in the master before gunicorn's READY=1 (pysup's
# readiness): the first requests do not wait for every worker to import
# the project, and the workers share its pages. Safe with Django, which
# opens database connections on the first query, in the worker.
preload_app = True
# The worker heartbeat files: /tmp is an emptyDir, the root filesystem is
# read-only.
worker_tmp_dir = os.environ.get("TMPDIR", "/tmp")

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.jsonlogger.JsonFormatter",
            "format": "%(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
    },
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
    },
}
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus'
