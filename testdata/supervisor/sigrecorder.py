"""Records the signals it receives, one 'NAME TIME' line each, in $OUT.

TERM_ACTION: record (default), exit:N, ignore, default (die of TERM),
sleep:SECONDS (exit 0 that long after TERM).
GRANDCHILD=ignore-term starts a grandchild in the same group that ignores
TERM and writes its pid to $OUT as 'grandchild PID'.
"""
import os
import signal
import sys
import time

# os.write on an O_APPEND fd: a buffered file object raises "reentrant
# call" when a second signal arrives while the first handler writes.
fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)


def write(line):
    os.write(fd, line.encode())



action = os.environ.get("TERM_ACTION", "record")
names = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH",
         "SIGALRM", "SIGCONT", "SIGPWR", "SIGXCPU", "SIGVTALRM", "SIGTERM"]


def name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"


def record(signum, frame):
    write(f"{name(signum)} {time.time():.6f}\n")
    if signum != signal.SIGTERM:
        return
    if action.startswith("exit:"):
        sys.exit(int(action[5:]))
    if action.startswith("sleep:"):
        time.sleep(float(action[6:]))
        write("done\n")
        sys.exit(0)


for n in names:
    signal.signal(getattr(signal, n), record)
signal.signal(signal.SIGRTMIN + 1, record)
if action == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
elif action == "default":
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

if os.environ.get("GRANDCHILD") == "ignore-term":
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)
    write(f"grandchild {pid}\n")

write("ready\n")
while True:
    time.sleep(0.05)
