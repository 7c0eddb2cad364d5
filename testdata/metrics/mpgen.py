"""Fill a multiprocess directory (argv[1]) with WORKERS fake workers
(argv[2]) of about SERIES series each (argv[3]), written by the real
prometheus_client: each worker is a forked process with its own pid."""
import os
import random
import sys

path, workers, series = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.environ["PROMETHEUS_MULTIPROC_DIR"] = path

from prometheus_client import Counter, Gauge, Histogram  # noqa: E402

# Per worker: counters, gauges (livesum) and histograms (14 entries each).
NC, NG = series // 2, series // 4
NH = max(1, (series - NC - NG) // 14)
C = Counter("bench_requests", "Requests.", ["route", "code"])
G = Gauge("bench_inflight", "In flight.", ["route"], multiprocess_mode="livesum")
H = Histogram("bench_latency_seconds", "Latency.", ["route"])

for w in range(workers):
    pid = os.fork()
    if pid == 0:
        rnd = random.Random(w)
        for i in range(NC):
            C.labels(route="/r%d" % (i // 5), code=str(200 + i % 5)).inc(rnd.randint(1, 100))
        for i in range(NG):
            G.labels(route="/r%d" % i).set(rnd.random())
        for i in range(NH):
            h = H.labels(route="/r%d" % i)
            for _ in range(5):
                h.observe(rnd.random())
        os._exit(0)
    os.waitpid(pid, 0)
