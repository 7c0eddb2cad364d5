"""An app speaking sd_notify, as systemd's sd_notify(3) describes.

usage: notify_app.py [--via-child] [--beats N] [--after SECONDS] MESSAGE...
Sends each MESSAGE (e.g. READY=1, "STATUS=warming up") to $NOTIFY_SOCKET,
waiting --after seconds before the first. With --beats N it then sends
WATCHDOG=1 N times, every half of $WATCHDOG_USEC, and stops: a hung app.
With --via-child the messages are sent by a child process (a worker).
It then sleeps until killed.
"""
import os
import socket
import subprocess
import sys
import time


def send(msg):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(addr)
    s.sendall(msg.encode())
    s.close()


args = sys.argv[1:]
via_child, beats, after = False, 0, 0.0
while args and args[0].startswith("--"):
    opt = args.pop(0)
    if opt == "--via-child":
        via_child = True
    elif opt == "--beats":
        beats = int(args.pop(0))
    elif opt == "--after":
        after = float(args.pop(0))

if via_child:
    # The worker lingers so that pysup can place it in the process tree.
    code = "import sys; sys.argv = sys.argv[1:]; exec(open(%r).read())" % __file__
    rest = [a for a in sys.argv[1:] if a != "--via-child"]
    subprocess.Popen([sys.executable, "-c", code, "notify_app.py"] + rest)
else:
    time.sleep(after)
    for m in args:
        send(m)
    if beats:
        interval = int(os.environ["WATCHDOG_USEC"]) / 1e6 / 2
        for _ in range(beats):
            send("WATCHDOG=1")
            time.sleep(interval)
    print("sent", flush=True)
while True:
    time.sleep(3600)
