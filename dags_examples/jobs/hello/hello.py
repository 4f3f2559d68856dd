"""Quickstart job: print a greeting and write it to the output file given by --out."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--name", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

greeting = f"Hello, {args.name}!"
print(greeting, flush=True)
with open(args.out, "w", encoding="utf-8") as fh:
    fh.write(greeting + "\n")
