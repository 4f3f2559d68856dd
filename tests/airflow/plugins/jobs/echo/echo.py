"""``echo.py RESULT LINES SLEEP``: prints LINES lines (and one on stderr), SLEEP seconds apart, then writes RESULT."""

import os
import sys
import time

pause = float(sys.argv[3])
for i in range(int(sys.argv[2])):
    print(f"{os.environ['GREETING']} from the plugin job, line {i}", flush=True)
    time.sleep(pause)
print("a warning on stderr", file=sys.stderr, flush=True)
with open(sys.argv[1], "w") as fh:
    fh.write("result of the plugin job\n")
