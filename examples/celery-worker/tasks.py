"""A Celery worker under pysup (PYSUP_PRESET=celery).

pysup sends TERM to the worker's main process: celery's warm shutdown, in
which running tasks finish before the worker exits. task_time_limit keeps
every task below PYSUP_STOP_TIMEOUT, so a warm shutdown always fits in the
pod's grace period.

The broker comes from CELERY_BROKER_URL: redis://... in Kubernetes; kombu's
filesystem transport (filesystem://, with CELERY_BROKER_DIR) runs without a
server, for tests and local runs.
"""
import logging
import os
import sys
import time

from celery import Celery, signals
from celery.utils.log import get_task_logger
from pythonjsonlogger import jsonlogger

app = Celery("tasks", broker=os.environ.get("CELERY_BROKER_URL", "filesystem://"))
app.conf.update(
    # Few tasks reserved ahead: the warm shutdown waits for the running
    # ones and hands the reserved ones back to the broker.
    worker_prefetch_multiplier=1,
    worker_concurrency=int(os.environ.get("CELERY_CONCURRENCY", "2")),
    task_soft_time_limit=int(os.environ.get("TASK_SOFT_TIME_LIMIT", "12")),
    task_time_limit=int(os.environ.get("TASK_TIME_LIMIT", "15")),
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
if app.conf.broker_url.startswith("filesystem://"):
    folder = os.environ.get("CELERY_BROKER_DIR", "/tmp/broker")
    os.makedirs(folder, exist_ok=True)
    app.conf.broker_transport_options = {
        "data_folder_in": folder, "data_folder_out": folder,
    }

log = get_task_logger(__name__)


@signals.setup_logging.connect
def json_logging(**_):
    # Connecting to setup_logging keeps celery from configuring logging:
    # every line, celery's own included, goes to stdout as JSON.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(jsonlogger.JsonFormatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


@app.task
def add(x, y):
    log.info("adding", extra={"x": x, "y": y})
    return x + y


@app.task
def slow(seconds):
    log.info("slow task started", extra={"seconds": seconds})
    time.sleep(seconds)
    log.info("slow task done", extra={"seconds": seconds})
    return seconds
