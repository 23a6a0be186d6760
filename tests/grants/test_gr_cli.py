"""`zhixiang grants`: plain-word help for each step, and refusals that say what to do."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from zhixiang.cli import app

runner = CliRunner()


def test_grants_help_lists_every_step_in_plain_words() -> None:
    result = runner.invoke(app, ["grants", "--help"])
    assert result.exit_code == 0, result.output
    for command in ("propose", "approve", "object", "decide", "export", "paid", "status", "list"):
        assert command in result.output
    assert "免申即享" in runner.invoke(app, ["--help"]).output


def test_propose_without_a_match_run_says_what_to_do(home: Path) -> None:
    result = runner.invoke(app, ["grants", "propose", "specialized-sme-award", "-p", "2026"])
    assert result.exit_code == 4 and "zhixiang match" in result.output
    bad = runner.invoke(app, ["grants", "status", "99"])
    assert bad.exit_code == 4 and "没有编号为 99 的兑现批次" in bad.output
