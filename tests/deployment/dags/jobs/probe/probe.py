"""A job for the deployment scenarios: prints the environment variables it is asked about, ticks once a second
for --seconds, then writes --out (its run's only output)."""

import argparse
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=1)
parser.add_argument("--out", required=True)
parser.add_argument("--print-env", default="")
args = parser.parse_args()
print("probe started", flush=True)
for name in filter(None, args.print_env.split(",")):
    print(f"env {name}={os.environ.get(name, '<unset>')}", flush=True)
started = time.monotonic()
tick = 0
while time.monotonic() - started < args.seconds:
    time.sleep(min(1.0, args.seconds))
    tick += 1
    print(f"tick {tick}", flush=True)
with open(args.out, "w") as fh:
    fh.write(f"ran {args.seconds} s, pid {os.getpid()}\n")
print("probe done", flush=True)
