# An uncaught exception with a chained traceback (raise ... from ...) after
# a handled one (During handling ...), then the interpreter exits with 1.
import sys

def parse(s):
    return int(s)

def load():
    try:
        parse("x")
    except ValueError:
        try:
            {}["k"]  # KeyError during handling of the ValueError
        except KeyError as e:
            raise RuntimeError("config broken") from e

print("starting", flush=True)
sys.stderr.write("WARNING:root:about to fail\n")
load()
