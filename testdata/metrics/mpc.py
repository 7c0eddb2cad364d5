"""Print MultiProcessCollector's exposition of a directory (argv[1]) as
generate_latest does, or with --bench N time N collections."""
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
    start = time.perf_counter()
    for _ in range(n):
        out = generate_latest(registry)
    elapsed = time.perf_counter() - start
    print("%.6f %d" % (elapsed / n, len(out)))
else:
    sys.stdout.write(generate_latest(registry).decode())
