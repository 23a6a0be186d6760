"""`zhixiang --help` starts fast: no heavy library is imported until a command needs it."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from zhixiang.cli import COMMANDS, _load

HEAVY = (
    "alembic", "duckdb", "fastapi", "ibis", "jieba", "numpy", "pandas", "psycopg", "pyarrow",
    "pyspark", "scipy", "sklearn", "sqlalchemy", "uvicorn", "zhixiang.matching", "zhixiang.rules",
)  # fmt: skip
BUDGET_CPU_SECONDS = 0.5

PROBE = """
import json, sys
from zhixiang.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} | set(sys.modules))), file=sys.stderr)
"""


def _run(*args: str) -> tuple[set[str], float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return set(json.loads(done.stderr.strip().splitlines()[-1])), cpu


@pytest.mark.parametrize("args", [["--help"], [], ["near-misses", "--help"]])
def test_start_up_imports_nothing_heavy(args: list[str]) -> None:
    modules, _ = _run(*args)
    assert not modules & set(HEAVY), f"imported at start-up: {sorted(modules & set(HEAVY))}"


def test_importing_the_cli_imports_nothing_heavy() -> None:
    modules, _ = _run("--version-does-not-exist")
    assert not modules & set(HEAVY)


def test_help_stays_within_the_cpu_budget() -> None:
    _run("--help")  # warm the file cache
    cpu = min(_run("--help")[1] for _ in range(3))
    assert cpu < BUDGET_CPU_SECONDS, f"zhixiang --help took {cpu:.2f} CPU-s"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_registered_command_loads(name: str) -> None:
    command = _load(name)
    assert command.name == name.split(" ")[-1]
    assert COMMANDS[name][1], "each command needs a help text for the listing"
