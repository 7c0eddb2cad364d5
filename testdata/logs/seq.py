# Prints N sequenced lines "seq=<i> <padding>" (~120 bytes) to stdout.
# argv: N [pause_every pause_seconds]. N=0 floods until killed.
import sys, time

n = int(sys.argv[1])
every = int(sys.argv[2]) if len(sys.argv) > 2 else 0
pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
pad = "x" * 100
i = 0
w = sys.stdout.write
while n == 0 or i < n:
    w("seq=%07d %s\n" % (i, pad))
    i += 1
    if every and i % every == 0:
        sys.stdout.flush()
        time.sleep(pause)
sys.stdout.flush()
