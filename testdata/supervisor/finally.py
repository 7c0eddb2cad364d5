"""A plain Python program whose cleanup must run on stop: it writes
'cleanup' to $OUT from a finally block."""
import os
import time

out = open(os.environ["OUT"], "a", buffering=1)
out.write("ready\n")
try:
    while True:
        time.sleep(0.05)
finally:
    out.write("cleanup\n")
