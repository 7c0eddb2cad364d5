# Writes N lines of 120 bytes to stdout, as fast as Python can (a prebuilt
# line per write call, so the capture, not the formatting, is measured).
import sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
line = "INFO:app.worker:request handled in 12ms for user 42 from 10.0.0.7 path /api/v1/items status=200 " + "x" * 22 + "\n"
w = sys.stdout.write
for _ in range(n):
    w(line)
