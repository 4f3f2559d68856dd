"""Train a small model with ``@task.dsjobs`` and branch on the metric it returns.

``train`` runs in a container as a job (its source and arguments travel with it; its Python environment is pinned
from the worker's and cached). It fits a logistic regression by gradient descent on a synthetic, seeded data set
(standard library only: the container needs no network), keeps the weights as an output, and returns its metrics.
``decide`` branches on the returned accuracy: ``promote`` when it reaches the threshold, ``report_low`` otherwise.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task


@dag(
    dag_id="dsjobs_train_decorator",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    params={"epochs": Param(200, type="integer", minimum=1, maximum=5000), "threshold": Param(0.85, type="number")},
    tags=["dsjobs", "example"],
)
def dsjobs_train_decorator() -> None:
    @task.dsjobs(outputs={"MODEL": "model.json"})
    def train(epochs: int, seed: int = 7) -> dict:
        import json
        import math
        import os
        import random

        rng = random.Random(seed)
        # two clusters in the plane: label 1 around (1, 1), label 0 around (-1, -1)
        rows = [((rng.gauss(c, 0.9), rng.gauss(c, 0.9)), int(c > 0)) for c in (1, -1) for _ in range(200)]
        rng.shuffle(rows)
        train_rows, test_rows = rows[:300], rows[300:]
        w, b = [0.0, 0.0], 0.0
        epochs = int(epochs)  # a rendered template arrives as text
        for _ in range(epochs):
            gw, gb = [0.0, 0.0], 0.0
            for (x1, x2), y in train_rows:
                p = 1 / (1 + math.exp(-(w[0] * x1 + w[1] * x2 + b)))
                gw[0] += (p - y) * x1
                gw[1] += (p - y) * x2
                gb += p - y
            n = len(train_rows)
            w = [w[0] - 0.1 * gw[0] / n, w[1] - 0.1 * gw[1] / n]
            b -= 0.1 * gb / n
        hits = sum((w[0] * x1 + w[1] * x2 + b > 0) == bool(y) for (x1, x2), y in test_rows)
        with open(os.environ["MODEL"], "w", encoding="utf-8") as fh:
            json.dump({"w": w, "b": b}, fh)
        accuracy = hits / len(test_rows)
        print(f"dsjobs-progress: 100 trained {epochs} epochs, accuracy {accuracy:.3f}")
        return {"accuracy": accuracy, "epochs": epochs}

    @task.branch
    def decide(metrics: dict, params: dict | None = None) -> str:
        threshold = float((params or {}).get("threshold", 0.85))
        return "promote" if metrics["accuracy"] >= threshold else "report_low"

    @task
    def promote(metrics: dict) -> str:
        return f"promoted a model with accuracy {metrics['accuracy']:.3f}"

    @task
    def report_low(metrics: dict) -> str:
        return f"accuracy {metrics['accuracy']:.3f} is below the threshold: not promoted"

    metrics = train("{{ params.epochs }}")
    decide(metrics) >> [promote(metrics), report_low(metrics)]


dsjobs_train_decorator()
