"""The examples in docs/*.md that are marked runnable are run, so the docs cannot drift from the code.

Marking, in the fence's info string after the language:

- ```` ```sh run ````: each command runs in order (a `\\` continues a line, `#` starts a comment);
  `zhixiang …` runs in-process, `export NAME=value` sets a variable for the commands after it,
  anything else runs in bash. A command that exits non-zero fails the page.
- ```` ```python run ````: executed; the page's Python blocks share one namespace.
- ```` ```yaml file=my-policies/x.yaml ```` (any language): written to that path first, for the
  commands after it to read.

Each page runs in its own empty platform home (the working directory), with the real data of
`Settings.shared_data_dir` available as `$ZHIXIANG_SHARED_DATA` where present.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zhixiang.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs"
_FENCE = re.compile(r"^```(\S*)([^\n]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    options: tuple[str, ...]
    text: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def file(self) -> str | None:
        return next((o.removeprefix("file=") for o in self.options if o.startswith("file=")), None)

    @property
    def runnable(self) -> bool:
        return "run" in self.options


def blocks(page: Path) -> list[Block]:
    text = page.read_text("utf-8")
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        options = tuple(match.group(2).split())
        found.append(Block(page.name, line, match.group(1), options, match.group(3)))
    return [b for b in found if b.runnable or b.file]


PAGES = sorted(p.name for p in DOCS.glob("*.md") if blocks(p))


def _commands(text: str) -> list[str]:
    joined = re.sub(r"\s*\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def _run_shell(block: Block, env: dict[str, str], cwd: Path) -> None:
    runner = CliRunner()
    for command in _commands(block.text):
        words = shlex.split(command, comments=True)
        if not words:
            continue
        if words[0] == "export":
            for assignment in words[1:]:
                name, _, value = assignment.partition("=")
                env[name] = value
            continue
        if words[0] == "zhixiang":
            previous = Path.cwd()
            os.chdir(cwd)
            try:
                result = runner.invoke(app, words[1:], env=env, catch_exceptions=True)
            finally:
                os.chdir(previous)
            output, code = result.output, result.exit_code
            if result.exception and not isinstance(result.exception, SystemExit):
                output += f"\n{type(result.exception).__name__}: {result.exception}"
        else:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=cwd,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=120,
            )
            output, code = done.stdout + done.stderr, done.returncode
        assert code == 0, f"{block.where}: `{command}` exited {code}:\n{output[-2000:]}"


@pytest.mark.parametrize("page", PAGES)
def test_the_runnable_examples_of_each_page_run_as_written(
    page: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zhixiang.config import load_settings

    monkeypatch.chdir(home)
    env = {
        "ZHIXIANG_HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    shared = load_settings().shared_data_dir
    if shared.is_dir():
        env["ZHIXIANG_SHARED_DATA"] = str(shared)
    namespace: dict[str, object] = {"__name__": f"docs.{page}"}
    for block in blocks(DOCS / page):
        if block.file:
            target = home / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text, "utf-8")
        if not block.runnable:
            continue
        if block.language in {"sh", "bash", "shell", "console"}:
            _run_shell(block, env, home)
        elif block.language == "python":
            with monkeypatch.context() as patched:
                for name, value in env.items():
                    patched.setenv(name, value)
                exec(compile(block.text, block.where, "exec"), namespace)
        else:
            pytest.fail(f"{block.where}: cannot run a ```{block.language} block")


def test_the_marking_is_understood(tmp_path: Path) -> None:
    page = tmp_path / "sample.md"
    page.write_text(
        "```yaml file=a/b.yaml\nx: 1\n```\n\ntext\n\n```sh run\nzhixiang --help  # comment\n"
        "ls \\\n  a\n```\n\n```sh\nnot run\n```\n",
        "utf-8",
    )
    found = blocks(page)
    assert [(b.line, b.language, b.file, b.runnable) for b in found] == [
        (1, "yaml", "a/b.yaml", False),
        (7, "sh", None, True),
    ]
    assert _commands(found[1].text) == ["zhixiang --help  # comment", "ls a"]
