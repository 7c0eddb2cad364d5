"""Fill a multiprocess directory (argv[1]) with WORKERS fake workers
(argv[2], default 32) written by the real prometheus_client, each a forked
process with its own pid. Per worker: 400 counters, 80 gauges in mode
"all" (one exposed series per worker each) and 8 histograms (16 entries
each), about 500 series; help texts are long, as real ones can be, which
is what makes files big (each entry's key repeats the help). With 32
workers: 96 files, ~3,000 exposed samples, ~21 MB."""
import os
import random
import sys

path = sys.argv[1]
workers = int(sys.argv[2]) if len(sys.argv) > 2 else 32
os.environ["PROMETHEUS_MULTIPROC_DIR"] = path

from prometheus_client import Counter, Gauge, Histogram  # noqa: E402

HELP = "Requests handled by the application, by route and status code. " * 11
C = Counter("bench_requests", HELP, ["route", "code"])
G = Gauge("bench_worker_queue", HELP, ["queue"], multiprocess_mode="all")
H = Histogram("bench_latency_seconds", HELP, ["route"])

for w in range(workers):
    pid = os.fork()
    if pid == 0:
        rnd = random.Random(w)
        for i in range(400):
            C.labels(route="/api/v1/items/%d/details" % (i // 5), code=str(200 + i % 5)).inc(rnd.randint(1, 100))
        for i in range(80):
            G.labels(queue="q%d" % i).set(rnd.random())
        for i in range(8):
            h = H.labels(route="/api/v1/items/%d/details" % i)
            for _ in range(5):
                h.observe(rnd.random())
        os._exit(0)
    os.waitpid(pid, 0)
