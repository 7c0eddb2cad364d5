"""Creates N orphaned grandchildren that exit, then counts zombies.

Each intermediate child forks a grandchild and exits at once, so the
grandchild is re-parented to pysup (PID 1 or subreaper); the grandchild then
exits and must be reaped by pysup. After WAIT seconds, the script counts the
zombies whose parent is its own parent (pysup) and exits 0 when there are
none, 1 otherwise, writing to $OUT how many grandchildren pysup adopted and
how many zombies were left, and how many grandchildren were still alive
(none must be: a live one would make "no zombie" vacuous).
"""
import os
import sys
import time

n = int(os.environ.get("N", "200"))
wait = float(os.environ.get("WAIT", "1"))
sup = os.getppid()
# Grandchildren block on this pipe until every one of them is adopted and
# counted; closing it makes them all exit together.
r, w = os.pipe()
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)

adopted = 0
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        stat = open(f"/proc/{p}/stat").read()
    except OSError:
        continue
    if int(p) != os.getpid() and int(stat[stat.rindex(")") + 2:].split()[1]) == sup:
        adopted += 1

os.close(w)
time.sleep(wait)
zombies = live = 0
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        stat = open(f"/proc/{p}/stat").read()
    except OSError:
        continue
    fields = stat[stat.rindex(")") + 2:].split()
    if int(p) != os.getpid() and int(fields[1]) == sup:
        if fields[0] == "Z":
            zombies += 1
        else:
            live += 1
with open(os.environ["OUT"], "w") as f:
    f.write(f"adopted {adopted}\nzombies {zombies}\nlive {live}\n")
sys.exit(1 if zombies or live else 0)
