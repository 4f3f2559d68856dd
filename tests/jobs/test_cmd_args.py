"""Run-time values in ``cmd`` are data: an ``args`` value (config default, fork override) reaches the program
through the shell's own variable expansion, never as shell code; an unusual file name behind ``${VAR}`` likewise.
Real Docker engine, local store."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.config.overrides import Overrides
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

#: Every kind of shell syntax a value could smuggle in, and a glob that matches a file in the work dir.
HOSTILE = (
    "a; echo INJECTED-1 | cat && echo INJECTED-2 $(echo INJECTED-3) `echo INJECTED-4` 'q' \"d\" * ${HOME} "
    "> /tmp/x\necho INJECTED-5"
)

CMD = """\
printf '[%s]\\n' ${V} > ${OUT}
printf '<%s>\\n' "${V}" >> ${OUT}
printf '(%s)\\n' "x=${V}=y" >> ${OUT}
sh -c 'printf "{%s}\\n" "${V}"' >> ${OUT}
cat <<END >> ${OUT}
h=${V}
END
printf '%s|' ${FLAGS} ${HY-PHEN} $(( ${N} + 1 )) >> ${OUT}
"""


def _expected(value: str) -> str:
    words = "".join(f"[{w}]\n" for w in value.split())  # unquoted: split at blanks, nothing else
    return words + f"<{value}>\n(x={value}=y)\n{{{value}}}\nh={value}\n--alpha|--beta|h|y|42|"


def _job(tmp_path: Path, args: dict[str, str]) -> Path:
    config = {
        "name": "args-are-data",
        "cmd": CMD,
        "args": {"V": "plain", "FLAGS": "--alpha --beta", "HY-PHEN": "h y", "N": "41", **args},
        "inputs": ["seen.txt"],  # a file `*` would match if it were globbed
        "outputs": [{"out.txt": "OUT"}],
    }
    return write_job(tmp_path / "job", yaml.safe_dump(config), {"seen.txt": "here\n"})


def _output(service: JobService, record: JobRecord, name: str = "OUT") -> str:
    assert record.status == JobStatus.SUCCESS, record.status_details
    key = unquote(record.outputs[name][len(service.store.url.rstrip("/")) + 1 :])
    return service.store.get_bytes(key).decode()


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_a_hostile_arg_stays_data_in_every_place_cmd_uses_it(
    local_settings: Settings, tmp_path: Path, shell: str
) -> None:
    if shell == "bash":  # a secret whose name sh would drop makes the script run under bash (runtime/shell.py)
        local_settings = dataclasses.replace(local_settings, project_secrets=lambda _s: {"MY-SECRET": "s"})
    service = JobService(local_settings)
    record = service.wait(service.submit(load_config(_job(tmp_path, {"V": HOSTILE}))).id)
    out = _output(service, record)
    assert out == _expected(HOSTILE)
    assert not any(line.startswith("INJECTED") for line in out.splitlines())
    logs = "\n".join(line for _, line in service.logs(record.id))
    assert "INJECTED" not in logs


def test_a_fork_arg_override_stays_data(local_settings: Settings, tmp_path: Path) -> None:
    service = JobService(local_settings)
    source = service.wait(service.submit(load_config(_job(tmp_path, {}))).id)
    assert _output(service, source) == _expected("plain")
    fork = service.wait(service.fork(source.id, Overrides(args={"V": HOSTILE})).id)
    assert _output(service, fork) == _expected(HOSTILE)


PATH_CMD = """\
cat ${IN} > ${OUT}
echo "two $(basename "${OUT}")" >> "${OUT}"
sh -c 'echo three >> "${OUT}"'
ls *.txt >> ${OUT}
"""


def test_unusual_file_names_stay_one_word_and_never_run(local_settings: Settings, tmp_path: Path) -> None:
    odd_in = "my data $(echo INJECTED-IN).txt"
    odd_out = "r `echo INJECTED-OUT` 'q' \"d\"; $HOME.txt"
    config = {
        "cmd": PATH_CMD,
        "inputs": [{odd_in: "IN"}, "plain.txt"],
        "outputs": [{odd_out: "OUT"}],
    }
    cfg = write_job(tmp_path / "job", yaml.safe_dump(config), {odd_in: "one\n", "plain.txt": "p\n"})
    service = JobService(local_settings)
    record = service.wait(service.submit(load_config(cfg)).id)
    assert _output(service, record) == f"one\ntwo {odd_out}\nthree\nplain.txt\n"  # `*.txt` in cmd still globs
