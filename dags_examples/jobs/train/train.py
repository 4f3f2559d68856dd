"""Fit y = a*x + b by least squares on the features CSV and write the coefficients to --model."""

import argparse
import csv

parser = argparse.ArgumentParser()
parser.add_argument("--features", required=True)
parser.add_argument("--model", required=True)
args = parser.parse_args()

xs, ys = [], []
with open(args.features, encoding="utf-8") as fh:
    for row in csv.DictReader(fh):
        xs.append(float(row["x"]))
        ys.append(float(row["y"]))
n = len(xs)
mean_x, mean_y = sum(xs) / n, sum(ys) / n
var_x = sum((x - mean_x) ** 2 for x in xs)
a = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var_x
b = mean_y - a * mean_x
with open(args.model, "w", encoding="utf-8") as fh:
    fh.write(f"a={a:.6f}\nb={b:.6f}\nrows={n}\n")
print(f"trained on {n} rows: a={a:.4f} b={b:.4f}", flush=True)
