"""gunicorn settings for running under pysup (PYSUP_PRESET=gunicorn).

pysup sends TERM to the gunicorn master after the drain delay; gunicorn then
lets workers finish their requests for graceful_timeout. Keep
graceful_timeout below PYSUP_STOP_TIMEOUT, which is below the pod's
terminationGracePeriodSeconds minus PYSUP_DRAIN_DELAY.
"""
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
# gunicorn reads WEB_CONCURRENCY itself; size it from the container's CPU limit.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "15"))
# The worker heartbeat files: /tmp is an emptyDir, the root filesystem is
# read-only.
worker_tmp_dir = os.environ.get("TMPDIR", "/tmp")

# JSON logs from gunicorn itself and from the app, on stdout, through
# python-json-logger; pysup merges the fields into its records.
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
