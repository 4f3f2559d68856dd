"""``cmd`` becoming the job's script (``jobs/command.py``): pure; the same rules run in a container in
``test_cmd_args.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dsjobs.config import config_from_mapping
from airflow_provider_dsjobs.jobs.command import ArithmeticArg, UnknownVariable, references, render
from airflow_provider_dsjobs.jobs.plan import PlanError, plan_job
from airflow_provider_dsjobs.settings import Settings

HOSTILE = "x; rm -rf / | y && $(id) `id` 'q' \"d\" *\nz"


@pytest.mark.parametrize(
    "cmd",
    [
        "run ${V}",
        'run "${V}"',
        "run \"a ${V} b\" 'c'",
        "sh -c 'run ${V}'",
        "cat <<EOF\n${V}\nEOF",
        "cat <<'EOF'\n${V}\nEOF",
        'echo $(echo ${V}) `echo ${V}` "$(echo "${V}")"',
    ],
)
def test_an_arg_value_never_enters_the_script(cmd: str) -> None:
    script = render(cmd, {}, {"V": HOSTILE})
    assert HOSTILE not in script.text and "rm -rf" not in script.text and "${V}" not in script.text
    assert "${DSJOBS_ARG_V}" in script.text
    assert script.env == {"DSJOBS_ARG_V": HOSTILE}


def test_arg_names_that_are_not_shell_identifiers_get_an_indexed_variable() -> None:
    script = render("run ${A-B} ${A_B} ${9x}", {}, {"A_B": "1", "A-B": "2", "9x": "3"})
    assert script.text == "set -f\nrun ${DSJOBS_ARGX_1} ${DSJOBS_ARG_A_B} ${DSJOBS_ARG_9x}"
    assert script.env == {"DSJOBS_ARG_A_B": "1", "DSJOBS_ARGX_1": "2", "DSJOBS_ARG_9x": "3"}


@pytest.mark.parametrize(
    ("cmd", "noglob"),
    [
        ("run ${V}", True),  # unquoted arg, no glob of cmd's own: a `*` in the value stays a `*`
        ("[ -f x ] && run ${V}; echo $? $* $#", True),  # a test command and special parameters are no globs
        ("run \"${V}\" 'a*'", False),  # quoted: the shell never globs it anyway
        ("sh -c 'run ${V}'", False),  # a nested shell does not inherit set -f
        ("run ${V} *.csv", False),  # cmd globs itself: pathname expansion stays on
        ("run ${V} part[0-9].txt", False),
        ("run ${V} file?.txt", False),
        ("case $x in a*) run ${V};; esac", False),  # conservative: any unquoted `*`
        ("run ${V} $((2*3)) $(( (1+2)*3 ))", True),  # arithmetic is no glob
        (". ./env.sh && run ${V}", False),  # a sourced script may glob: set -f would reach it
        ("x; source env.sh; run ${V}", False),
        ('eval "$X"; run ${V}', False),
        ("run ./a.sh ${V}", True),
    ],
)
def test_set_f_only_where_it_protects_a_value_and_changes_nothing_else(cmd: str, noglob: bool) -> None:
    assert render(cmd, {}, {"V": "*"}).text.startswith("set -f\n") is noglob


@pytest.mark.parametrize(
    ("cmd", "contexts"),
    [
        ("a ${X} \"${X}\" '${X}'", ["plain", "double", "single"]),
        ('a "$(b ${X} "${X}")" `c ${X}`', ["plain", "double", "plain"]),
        ("cat <<-EOF\n\tit's ${X}\n\tEOF\necho ${X}", ["heredoc", "plain"]),
        ("cat <<\\EOF >f\n${X}\nEOF\necho '${X}'", ["literal", "single"]),
        ('cat <<< "${X}" ${X}', ["double", "plain"]),
        ("# it's ${X}\necho ${X}", ["literal", "plain"]),
        ("echo $((1<<2)) ${X}\n${X}", ["plain", "plain"]),
        ("echo a#b ${X}", ["plain"]),
        (
            'echo $(( (${X} + 1) * 2 )) ${X} "$((${X}))"; ((${X} > 1)) && echo ${X}',
            ["arith", "plain", "arith", "arith", "plain"],
        ),
    ],
)
def test_where_each_reference_stands(cmd: str, contexts: list[str]) -> None:
    refs, _ = references(cmd)
    assert [r.context for r in refs] == contexts and {r.name for r in refs} == {"X"}


def test_plain_paths_stay_text_and_unusual_ones_come_from_the_env() -> None:
    paths = {"P": "/job/inputs/P/a.csv", "Q": "/job/outputs/Q/it's $(x).txt"}
    script = render("""cp ${P} ${Q}; echo "${Q}" > '${Q}'; cat <<E\n${Q}\nE""", paths, {})
    assert script.text == (
        'cp /job/inputs/P/a.csv "${DSJOBS_PATH_0}"; echo "${DSJOBS_PATH_0}" > \'${DSJOBS_PATH_0}\'; '
        "cat <<E\n${DSJOBS_PATH_0}\nE"
    )
    assert script.env == {"DSJOBS_PATH_0": paths["Q"]}


@pytest.mark.parametrize("cmd", ["echo '$((' ${N} '))'", "echo '${N}' # $(( ${N} ))", 'echo "(( ${N} ))"'])
def test_an_arg_outside_arithmetic_may_hold_anything(cmd: str) -> None:
    assert render(cmd, {}, {"N": "a[$(id)]"}).env == {"DSJOBS_ARG_N": "a[$(id)]"}


def test_the_arg_wins_over_secrets_and_env_vars_of_the_same_names(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "cmd": "run ${V}",
        "args": {"V": "from-args"},
        "env": {"vars": [{"V": "env-var"}, {"DSJOBS_ARG_V": "shadow"}]},
    }
    cfg = config_from_mapping(data, base_dir=tmp_path)
    secrets = {"DSJOBS_ARG_V": "secret-shadow", "V": "secret"}
    settings = Settings(default_image="img", project_secrets=lambda _s: secrets)
    plan = plan_job(cfg, settings, job_id="j1", environ={})
    assert plan.env["DSJOBS_ARG_V"] == "from-args"
    assert plan.env["V"] == "env-var"  # the program's own $V is the config's env var, as before
    assert "from-args" not in plan.script and "from-args" not in " ".join(plan.command)


def test_a_nul_in_an_arg_is_one_clear_error(tmp_path: Path) -> None:
    cfg = config_from_mapping({"cmd": "run ${V}", "args": {"V": "a\0b"}}, base_dir=tmp_path, source="c.yaml")
    with pytest.raises(PlanError, match=r"^c.yaml: args.V: the value holds a NUL character"):
        plan_job(cfg, Settings(default_image="img"), job_id="j1", environ={})


ARITH_CMDS = [
    "run $(( ${N} + 1 ))",
    'run "$((${N}))"',
    "((${N} > 1)) && run",
    "bash -c 'echo $(( ${N} + 1 ))'",  # the nested shell evaluates it
    "cat <<EOF\n$(( ${N} * 2 ))\nEOF",
]


@pytest.mark.parametrize("value", ["a[$(id)]", "1+1", "x", ""])
@pytest.mark.parametrize("cmd", ARITH_CMDS)
def test_an_arg_in_arithmetic_must_be_a_whole_number(tmp_path: Path, value: str, cmd: str) -> None:
    """bash evaluates what ``$((...))`` expands as an expression, and ``a[$(id)]`` would run ``id``."""
    cfg = config_from_mapping({"cmd": cmd, "args": {"N": " -12 "}}, base_dir=tmp_path, source="c.yaml")
    assert plan_job(cfg, Settings(default_image="img"), job_id="j1", environ={}).env["DSJOBS_ARG_N"] == " -12 "
    forked = config_from_mapping({"cmd": cmd, "args": {"N": value}}, base_dir=tmp_path, source="c.yaml")
    with pytest.raises(PlanError, match=r"^c.yaml: args.N: `\$\{N\}` stands inside `\$\(\(...\)\)` in cmd, so its"):
        plan_job(forked, Settings(default_image="img"), job_id="j1", environ={})


PIECES = ["${V}", "${P}", "'", '"', "$(", ")", "(", "`", "<<EOF\n", "\nEOF\n", "<<<", "#", "\n", " ", "$((", "))"]
PIECES += ["((", "*", "[", "]", "\\", "a", ";", "|", "$", "{", "}"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.text(max_size=20))
def test_whatever_cmd_says_the_value_never_enters_the_script(pieces: list[str], tail: str) -> None:
    value, path = "VALUE-MARK; $(id) " + tail, "/job/inputs/P/PATH-MARK $(id).txt"
    try:
        script = render("".join(pieces), {"P": path}, {"V": value})
    except (ArithmeticArg, UnknownVariable):
        return
    assert "VALUE-MARK" not in script.text and "PATH-MARK" not in script.text
    assert script.env["DSJOBS_ARG_V"] == value
