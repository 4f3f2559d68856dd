"""Count --steps seconds, printing progress; on SIGTERM write a partial report and stop."""

import argparse
import signal
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, required=True)
parser.add_argument("--title", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()


def write(done: int, complete: bool) -> None:
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(f"{args.title}: {done}/{args.steps} steps{'' if complete else ' (stopped early)'}\n")


def stop(signum: int, frame: object) -> None:
    print(f"got {signal.Signals(signum).name}, writing a partial report", flush=True)
    write(done, complete=False)
    sys.exit(143)


done = 0
signal.signal(signal.SIGTERM, stop)
for done in range(1, args.steps + 1):
    time.sleep(1)
    print(f"step {done}/{args.steps}", flush=True)
write(done, complete=True)
print("report written", flush=True)
