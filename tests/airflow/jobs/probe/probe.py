"""Test job: sleep, print, write --out, exit with --exit-code; on SIGTERM print a line and exit 143."""

import argparse
import json
import os
import signal
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--sleep", type=float, default=0)
parser.add_argument("--exit-code", type=int, default=0)
parser.add_argument("--out", required=True)
parser.add_argument("--message", default="probe done")
parser.add_argument("--dataset", default=None)
args = parser.parse_args()


def on_term(signum: int, frame: object) -> None:
    print("probe got SIGTERM, shutting down cleanly", flush=True)
    sys.exit(143)


signal.signal(signal.SIGTERM, on_term)
print("probe started", flush=True)
print("note is " + os.environ.get("PROBE_NOTE", "unset"), flush=True)
deadline = time.monotonic() + args.sleep
while time.monotonic() < deadline:
    time.sleep(0.1)
with open(args.out, "w", encoding="utf-8") as fh:
    fh.write(args.message + "\n")
if args.dataset:
    os.makedirs(args.dataset, exist_ok=True)
    with open(os.path.join(args.dataset, "part-0.txt"), "w", encoding="utf-8") as fh:
        fh.write("dataset row\n")
print(args.message, flush=True)
if os.environ.get("DSJOBS_RESULT_FILE"):  # a value for the DAG: XCom "result"
    with open(os.environ["DSJOBS_RESULT_FILE"], "w", encoding="utf-8") as fh:
        json.dump({"exit_code": args.exit_code, "message": args.message}, fh)
sys.exit(args.exit_code)
