"""A singleton for the leader election tests. It holds an exclusive flock
on $LOCK for its whole life: a second copy started while one runs records
'CONTENTION NAME TIME'. It appends 'start NAME TIME' when it has the lock
and 'stop NAME TIME' on SIGTERM or SIGINT to $OUT; NAME is $POD_NAME."""
import fcntl
import os
import signal
import sys
import time

name = os.environ["POD_NAME"]
fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)


def record(what):
    os.write(fd, f"{what} {name} {time.time():.6f}\n".encode())


lock = open(os.environ["LOCK"], "a")
try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    record("CONTENTION")
    fcntl.flock(lock, fcntl.LOCK_EX)


def stop(signum, frame):
    record("stop")
    sys.exit(0)


# Before "start": a test may stop the child as soon as it sees it.
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
record("start")
while True:
    time.sleep(1)
