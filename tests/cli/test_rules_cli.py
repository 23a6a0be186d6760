from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from zhixiang.cli import app
from zhixiang.demo import demo_policies_dir

runner = CliRunner()


def test_policies_check_passes_on_demo_and_fails_with_location(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["policies", "check"])
    assert ok.exit_code == 0, ok.output
    assert "通过 14 项政策" in ok.output

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (demo_policies_dir() / "export-award.yaml")
        .read_text("utf-8")
        .replace("出口额 >= 500万元", "出口额 >= 500万吨"),
        "utf-8",
    )
    failed = runner.invoke(app, ["policies", "check", str(bad)])
    assert failed.exit_code == 1
    assert "bad.yaml:11:21" in failed.output and "未知单位 万吨" in failed.output


def test_demo_match_and_explain_end_to_end(home: Path) -> None:
    demo = runner.invoke(app, ["demo", "--count", "2000"])
    assert demo.exit_code == 0, demo.output
    assert "匹配结果" in demo.output and "matches.parquet" in demo.output

    import duckdb

    with duckdb.connect(str(home / "zhixiang.duckdb"), read_only=True) as con:
        code = con.sql(
            "SELECT entity_id FROM matches WHERE status = 'eligible' LIMIT 1"
        ).fetchone()[0]
    explained = runner.invoke(app, ["explain", code, "--json"])
    assert explained.exit_code == 0, explained.output
    assert f'"entity_id": "{code}"' in explained.output

    misses = runner.invoke(app, ["near-misses", "export-award", "--limit", "5"])
    assert misses.exit_code == 0 and "export-award" in misses.output, misses.output

    wrong = runner.invoke(app, ["explain", code[:-1] + ("0" if code[-1] != "0" else "1")])
    assert wrong.exit_code == 2 and "校验位错误" in wrong.output


def test_match_without_data_says_what_to_do(home: Path) -> None:
    result = runner.invoke(app, ["match"])
    assert result.exit_code == 2
    assert "没有主体表 enterprise" in result.output
