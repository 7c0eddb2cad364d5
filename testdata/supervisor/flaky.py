"""Fails FAILS times (counted in $OUT), then exits 0."""
import os
import sys

with open(os.environ["OUT"], "a") as f:
    f.write("start\n")
with open(os.environ["OUT"]) as f:
    starts = sum(1 for line in f if line == "start\n")
sys.exit(0 if starts > int(os.environ.get("FAILS", "2")) else 4)
