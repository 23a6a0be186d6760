"""`zhixiang tickets hot-topics | score-replies` as a user runs them, bad files included."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from zhixiang.cli import app

runner = CliRunner()
HEADER = "留言编号,留言用户,留言主题,留言时间,留言详情,反对数,点赞数\n"
ROWS = (
    "".join(
        f"{i},U{i},丽发新城附近搅拌站噪音扰民,2019/11/{i + 1} 10:00:00,丽发新城小区旁搅拌站夜间施工噪音很大灰尘严重,0,{i}\n"
        for i in range(1, 6)
    )
    + "9,U9,咨询公积金提取,2019-11-03 09:00:00,离职后如何提取住房公积金,x,0\n10,U10,,2019/11/4,,0,0\n"
)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_hot_topics_writes_the_table_and_a_quarantine_list(tmp_path: Path) -> None:
    source, out = tmp_path / "m.csv", tmp_path / "hot.csv"
    source.write_text(HEADER + ROWS, encoding="gbk")
    result = runner.invoke(
        app, ["tickets", "hot-topics", "--input", str(source), "--output", str(out), "--top", "5"]
    )
    assert result.exit_code == 0, result.output
    [row] = read(out)
    assert list(row) == [
        "排名",
        "热度指数",
        "问题描述",
        "地点/人群",
        "时间范围",
        "留言数",
        "留言编号",
    ]
    assert row["排名"] == "1" and row["留言数"] == "5" and "丽发新城" in row["地点/人群"]
    assert row["留言编号"] == "1,2,3,4,5" and row["时间范围"] == "2019/11/02 至 2019/11/06"
    quarantine = read(tmp_path / "hot.quarantine.csv")
    assert {(q["记录号"], q["列"]) for q in quarantine} == {
        ("6", "反对数"),
        ("7", "留言主题/留言详情"),
    }
    assert "隔离" in result.output


def test_a_file_without_the_needed_columns_is_refused_by_name(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("编号,内容\n1,路灯\n", encoding="utf-8")
    result = runner.invoke(
        app, ["tickets", "hot-topics", "--input", str(source), "--output", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2 and "bad.csv" in result.output and "留言主题" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(
        app,
        ["tickets", "score-replies", "--input", str(source), "--output", str(tmp_path / "o.csv")],
    )
    assert result.exit_code == 2 and "答复意见" in result.output


def test_score_replies_adds_the_five_columns_and_keeps_the_hand_label(tmp_path: Path) -> None:
    source, out = tmp_path / "r.csv", tmp_path / "scored.csv"
    source.write_text(
        "留言主题,留言详情,答复意见,留言时间,答复时间,可解释性\n"
        "A3区路灯不亮,A3区某路路灯坏了一个月，请尽快修复,您好！经核实，A3区某路路灯线路老化，已安排维修，"
        "根据《城市照明管理规定》将于本周内完成。咨询电话 0731-88888888。感谢支持。,2019/3/1 10:00,2019-03-05 10:00:00,1\n"
        "噪音扰民,工地夜间施工,已转交相关部门处理。,2019/3/1 10:00,不是日期,0\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["tickets", "score-replies", "--input", str(source), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    good, weak = read(out)
    assert good["原可解释性"] == "1" and float(good["质量分"]) > float(weak["质量分"])
    assert float(good["及时性"]) == 1.0 and weak["及时性"] == ""
    assert "仅告知已转办" in weak["问题"]
    assert {"相关性", "完整性", "可解释性", "及时性", "质量分", "问题"} <= set(good)
