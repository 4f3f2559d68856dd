"""Prints lines (stdout and stderr), sleeps ``SLEEP`` seconds in between, and writes its output file."""

import os
import sys
import time

pause = float(os.environ.get("SLEEP", "0"))
for i in range(int(os.environ.get("LINES", "3"))):
    print(f"{os.environ['GREETING']} from the plugin job, line {i}", flush=True)
    time.sleep(pause)
print("a warning on stderr", file=sys.stderr, flush=True)
with open(sys.argv[1], "w") as fh:
    fh.write("result of the plugin job\n")
