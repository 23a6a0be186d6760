"""Bad input loses nothing: every problem is named by record and column, valid rows go on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from zhixiang.insight import MessageFileError, parse_time, read_table

HEADER = "留言编号,留言用户,留言主题,留言时间,留言详情,反对数,点赞数\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_both_date_formats_of_the_real_file_are_read() -> None:
    assert parse_time("2019/2/28 11:25:05") == datetime(2019, 2, 28, 11, 25, 5)
    assert parse_time("2019-08-01 10:00:00") == datetime(2019, 8, 1, 10)
    assert parse_time("2019年8月1日") == datetime(2019, 8, 1)
    with pytest.raises(ValueError, match="无法识别"):
        parse_time("去年夏天")


def test_a_gbk_file_reads_like_utf8(tmp_path: Path) -> None:
    row = "1,U1,A3区路灯不亮,2019/3/1 10:00:00,晚上路灯不亮,0,2\n"
    gbk = read_table(
        write(tmp_path / "g.csv", HEADER + row, "gbk"), required=["留言主题", "留言详情"]
    )
    utf = read_table(write(tmp_path / "u.csv", HEADER + row), required=["留言主题", "留言详情"])
    assert gbk.messages == utf.messages
    assert gbk.messages[0].title == "A3区路灯不亮" and gbk.messages[0].likes == 2


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", "编号,留言主题\n1,路灯\n")
    with pytest.raises(MessageFileError, match="缺少列 留言详情") as refused:
        read_table(path, required=["留言主题", "留言详情"])
    assert "bad.csv" in str(refused.value) and refused.value.field == "留言详情"


def test_bad_records_are_quarantined_and_the_rest_kept(tmp_path: Path) -> None:
    rows = (
        "1,U1,A3区路灯不亮,2019/3/1 10:00:00,晚上路灯不亮,0,2\n"
        "2,U2,,2019/3/2 10:00:00,,0,0\n"  # no text at all
        "3,U3,噪音扰民,昨天,工地夜间施工,0,1\n"  # unreadable date
        "4,U4,占道经营,2019-03-04 09:00:00,菜市场门口占道,很多,-1\n"  # bad vote counts
    )
    table = read_table(
        write(tmp_path / "m.csv", HEADER + rows), required=["留言主题", "留言详情"], needs_time=True
    )
    assert [m.id for m in table.messages] == ["1", "4"]
    assert table.messages[1].likes == 0 and table.messages[1].against == 0
    problems = {(p.record, p.column): p for p in table.problems}
    assert problems[(2, "留言主题/留言详情")].skipped
    assert problems[(3, "留言时间")].skipped and "昨天" in problems[(3, "留言时间")].message
    assert not problems[(4, "反对数")].skipped and "很多" in problems[(4, "反对数")].message
    assert not problems[(4, "点赞数")].skipped
    assert "第 3 条记录 留言时间" in str(problems[(3, "留言时间")])


def test_an_empty_or_missing_file_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(MessageFileError, match="文件不存在"):
        read_table(tmp_path / "none.csv", required=["留言主题"])
    with pytest.raises(MessageFileError, match="只有表头"):
        read_table(write(tmp_path / "h.csv", HEADER), required=["留言主题"])
