"""``@task.dsjobs``: a function that reads an input, writes an output and returns JSON, fed a hostile string and
an upstream XCom; a downstream task branches on its return value."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="dsjobs_test_decorator", schedule=None, start_date=datetime(2025, 1, 1), catchup=False)
def dsjobs_test_decorator() -> None:
    @task
    def scale() -> int:
        return 10

    @task.dsjobs(inputs={"DATA": "data/numbers.txt"}, outputs={"OUT": "total.txt"}, env_vars={"MODE": "sum"})
    def total(factor: int, note: str) -> dict:
        import os
        import sys

        with open(os.environ["DATA"], encoding="utf-8") as fh:
            numbers = [int(x) for x in fh.read().split()]
        with open(os.environ["OUT"], "w", encoding="utf-8") as fh:
            fh.write(str(sum(numbers)))
        print(f"python {sys.version_info[0]}.{sys.version_info[1]} in the job, mode {os.environ['MODE']}")
        return {"total": sum(numbers) * factor, "note": note}

    @task.branch
    def pick(result: dict) -> str:
        return "big" if result["total"] > 100 else "small"

    @task
    def big() -> str:
        return "big"

    @task
    def small() -> str:
        return "small"

    pick(total(scale(), "a; echo INJECTED $(id) `id`")) >> [big(), small()]


dsjobs_test_decorator()
