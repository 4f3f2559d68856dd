"""``@task.dsjobs``: a Python function runs as a DataSphere-style job in a container.

::

    @task.dsjobs(cloud_instance_types=["c1.4"], inputs={"DATA": "data/train.csv"}, outputs={"MODEL": "model.json"})
    def train(epochs: int) -> dict:
        import os, json
        rows = open(os.environ["DATA"]).read().splitlines()
        ...
        return {"accuracy": 0.93}

The function's source (without the decorator) and its arguments (JSON: literals, XCom values, params) become a job
whose ``cmd`` runs it; its return value (JSON) comes back through ``DSJOBS_RESULT_FILE`` as the task's XCom. The
environment is ``env.python: auto`` by default: the function's imports are pinned to the versions installed where
the task runs (or in the connection's ``python_interpreter``), built once and cached. ``inputs``/``outputs`` map a
variable to a path (relative to the DAG folder for inputs); inside the function ``os.environ[VAR]`` is its path in
the container. Everything else (``image``, ``env_vars``, ``cloud_instance_types``, deferral, retries that
re-attach, masking, the Jobs page) is ``DataSphereJobOperator``'s.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk.bases.decorator import DecoratedOperator, TaskDecorator, task_decorator_factory

from airflow_provider_dsjobs.compat import AirflowFailException
from airflow_provider_dsjobs.config import ConfigError, JobConfig, config_from_mapping
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.operators.job import DataSphereJobOperator

SCRIPT = "dsjobs_task.py"
ARGS = "dsjobs_task_args.json"

#: What runs the function in the container: arguments from the JSON file, variables' paths into ``os.environ``,
#: the return value as JSON into ``DSJOBS_RESULT_FILE``.
_RUNNER = """

if __name__ == "__main__":
    import json as _json
    import os as _os
    import sys as _sys

    for _pair in _sys.argv[1:]:
        _name, _, _path = _pair.partition("=")
        _os.environ[_name] = _path
    with open({args!r}, encoding="utf-8") as _fh:
        _call = _json.load(_fh)
    _value = {name}(*_call["args"], **_call["kwargs"])
    with open(_os.environ["DSJOBS_RESULT_FILE"], "w", encoding="utf-8") as _fh:
        _json.dump(_value, _fh)
"""


class DsJobsDecoratedOperator(DecoratedOperator, DataSphereJobOperator):
    """The operator behind ``@task.dsjobs``: ``DataSphereJobOperator`` with a config built from the function."""

    custom_operator_name = "@task.dsjobs"
    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *(f for f in DataSphereJobOperator.template_fields if f != "config"),
    )

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        image: str | None = None,
        inputs: Mapping[str, str] | None = None,
        outputs: Mapping[str, str] | None = None,
        python: str | Mapping[str, Any] = "auto",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("job_name", kwargs.get("task_id"))
        super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs, config={}, **kwargs)
        self.image = image
        self.inputs = dict(inputs or {})
        self.outputs = dict(outputs or {})
        self.python = python
        self._job_dir: Path | None = None

    def execute(self, context: Any) -> Any:
        """The job operator's run. ``DecoratedOperator.execute`` is skipped: it only turns asset arguments and
        return values into inlets and outlets, and here both are JSON values (on Airflow 3.0 it also reads an
        ``xcom_push`` attribute task SDK operators lack)."""
        self._job_dir = Path(tempfile.mkdtemp(prefix="dsjobs-task-"))
        try:
            return DataSphereJobOperator.execute(self, context)
        finally:
            shutil.rmtree(self._job_dir, ignore_errors=True)

    def _load_config(self) -> JobConfig:
        """The job the function becomes: its source and arguments in a scratch job directory."""
        job_dir = self._job_dir or Path(tempfile.mkdtemp(prefix="dsjobs-task-"))
        self._job_dir = job_dir
        name = self.python_callable.__name__
        (job_dir / SCRIPT).write_text(self.get_python_source() + _RUNNER.format(args=ARGS, name=name))
        try:
            call = json.dumps({"args": list(self.op_args), "kwargs": dict(self.op_kwargs)})
        except (TypeError, ValueError) as exc:
            raise AirflowFailException(f"@task.dsjobs {self.task_id}: arguments must be JSON values ({exc})") from None
        (job_dir / ARGS).write_text(call)
        folder = self._dag_folder()
        variables = [*self.inputs, *self.outputs]
        config: dict[str, Any] = {
            "cmd": " ".join([f"python3 {SCRIPT}", *(f"{v}=${{{v}}}" for v in variables)]),
            "inputs": [SCRIPT, ARGS, *({str(folder / p): v} for v, p in self.inputs.items())],
            "outputs": [{p: v} for v, p in self.outputs.items()],
            "env": {"python": self.python, **({"docker": self.image} if self.image else {})},
        }
        try:
            return config_from_mapping(
                config,
                base_dir=job_dir,
                source=f"<@task.dsjobs {self.task_id}>",
                catalog=self.hook.settings.instance_catalog,
            )
        except ConfigError as exc:
            raise AirflowFailException(f"Invalid @task.dsjobs {self.task_id}: {exc}") from None

    def _complete(self, context: Any, record: JobRecord) -> Any:
        """What the function returned (``None`` when it returned nothing), after the operator's own checks."""
        super()._complete(context, record)
        return record.result


def dsjobs_task(
    python_callable: Callable[..., Any] | None = None, multiple_outputs: bool | None = None, **kwargs: Any
) -> TaskDecorator:
    """``@task.dsjobs(...)``: run the function as a job (see the module docstring for the arguments)."""
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=multiple_outputs,
        decorated_operator_class=DsJobsDecoratedOperator,
        **kwargs,
    )
