from __future__ import annotations

from pathlib import Path

import pytest
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


def test_demo_match_and_explain_end_to_end(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIXIANG_DEMO_LAWS_LIMIT", "40")  # the full laws import: tests/knowledge
    demo = runner.invoke(app, ["demo", "--count", "2000"])
    assert demo.exit_code == 0, demo.output
    assert "匹配结果" in demo.output and "已发布为当前批次" in demo.output

    from zhixiang.matching import open_results

    with open_results(home / "results") as results:
        code = results.rows("export-award", "eligible", limit=1)[0].entity_id
        run_id = results.run.run_id
    explained = runner.invoke(app, ["explain", code, "--json"])
    assert explained.exit_code == 0, explained.output
    assert f'"entity_id": "{code}"' in explained.output

    misses = runner.invoke(app, ["near-misses", "export-award", "--limit", "5"])
    assert misses.exit_code == 0 and "export-award" in misses.output, misses.output
    assert run_id in misses.output

    missing = runner.invoke(app, ["near-misses", "no-such-policy"])
    assert missing.exit_code == 4 and "没有政策 no-such-policy" in missing.output

    again = runner.invoke(app, ["match"])
    assert again.exit_code == 0 and "增量" in again.output, again.output
    listed = runner.invoke(app, ["runs"])
    assert listed.exit_code == 0 and run_id in listed.output

    wrong = runner.invoke(app, ["explain", code[:-1] + ("0" if code[-1] != "0" else "1")])
    assert wrong.exit_code == 2 and "校验位错误" in wrong.output


def test_near_misses_before_any_run_is_an_error(home: Path) -> None:
    result = runner.invoke(app, ["near-misses"])
    assert result.exit_code == 4 and "尚未运行批量匹配" in result.output


def test_match_without_data_says_what_to_do(home: Path) -> None:
    result = runner.invoke(app, ["match"])
    assert result.exit_code == 4
    assert "找不到数据仓库文件" in result.output and "请先导入数据" in result.output
