"""Print MultiProcessCollector's exposition of a directory (argv[1]) as
generate_latest does, or with --bench N time N collections: prints the
wall and the CPU seconds of one collection and the exposition's size."""
import sys
import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

path = sys.argv[1]
registry = CollectorRegistry()
MultiProcessCollector(registry, path=path)
if len(sys.argv) > 3 and sys.argv[2] == "--bench":
    n = int(sys.argv[3])
    generate_latest(registry)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        out = generate_latest(registry)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    print("%.6f %d %.6f" % (elapsed / n, len(out), cpu / n))
else:
    sys.stdout.write(generate_latest(registry).decode())
