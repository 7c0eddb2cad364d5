"""A batch job run by a CronJob under pysup (PYSUP_PRESET=python).

It processes BATCH_ITEMS items and records them with prometheus_client in
multiprocess mode: the samples live in PROMETHEUS_MULTIPROC_DIR, so nobody
has to scrape the short-lived process. pysup pushes its exposition to the
Pushgateway (PYSUP_PUSHGATEWAY_URL) while the job runs and once more after
it exits: the final counters arrive, grouped by job, namespace and pod.

BATCH_FAIL=1 makes the job fail after its items (the container then exits
1, and the final push still lands), to see a failure end to end.
"""
import logging
import os
import sys
import time

from prometheus_client import Counter, Gauge, Histogram

logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                    format="%(levelname)s:%(name)s:%(message)s")
log = logging.getLogger("batch")

ITEMS = Counter("batch_items_processed_total", "Items the job processed")
DURATION = Histogram("batch_item_duration_seconds", "Time spent per item",
                     buckets=(0.001, 0.01, 0.1, 1, 10))
# max: the value survives the process in multiprocess mode.
LAST_SUCCESS = Gauge("batch_last_success_timestamp_seconds",
                     "When the job last finished without error", multiprocess_mode="max")


def process(item):
    time.sleep(float(os.environ.get("BATCH_ITEM_SECONDS", "0.01")))
    return item * item


def main():
    n = int(os.environ.get("BATCH_ITEMS", "50"))
    log.info("batch started: %d items", n)
    total = 0
    for item in range(n):
        with DURATION.time():
            total += process(item)
        ITEMS.inc()
    if os.environ.get("BATCH_FAIL") == "1":
        raise RuntimeError(f"batch failed after {n} items")
    LAST_SUCCESS.set_to_current_time()
    log.info("batch done: %d items, checksum %d", n, total)


if __name__ == "__main__":
    main()
