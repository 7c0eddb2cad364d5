"""Sends tasks to the worker's broker, e.g. with kubectl exec:
    python3 enqueue.py add 2 3
    python3 enqueue.py slow 5
"""
import sys

import tasks

name, *args = sys.argv[1:] or ["add", "2", "3"]
result = getattr(tasks, name).delay(*(float(a) if "." in a else int(a) for a in args))
print(f"sent {name}{tuple(args)} as {result.id}")
