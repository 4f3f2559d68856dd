"""``sleeper.py SECONDS``: prints one line, then nothing for SECONDS; on each SIGTERM prints a line, exits 1 s later."""

import signal
import sys
import time


def on_term(signum, frame):
    print("got SIGTERM", flush=True)
    time.sleep(1)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print("sleeper started", flush=True)
time.sleep(float(sys.argv[1]))
