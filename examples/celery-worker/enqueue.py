"""Sends a task to the worker's broker, e.g. with kubectl exec:
    python3 enqueue.py add 2 3
    python3 enqueue.py slow 5
"""
import sys

import tasks


def number(s):
    return float(s) if "." in s else int(s)


name, *args = sys.argv[1:] or ["add", "2", "3"]
values = [number(a) for a in args]
result = getattr(tasks, name).delay(*values)
print(f"sent {name}{tuple(values)} as {result.id}")
