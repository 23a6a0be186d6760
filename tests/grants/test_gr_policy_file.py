"""Policy files declare how they are paid out; a wrong mode, group, cap or budget is refused at
file:line:column like every other policy problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhixiang.demo import demo_policies_dir
from zhixiang.rules import DELIVERY_MODES, PolicyRejected, load_policies, parse_policy

DEMO = load_policies([demo_policies_dir()])
SOURCE = (demo_policies_dir() / "export-award.yaml").read_text("utf-8")


def test_the_demo_policies_declare_delivery_groups_a_cap_and_a_budget() -> None:
    assert not DEMO.problems and len(DEMO.policies) == 14
    assert all(p.delivery in DELIVERY_MODES for p in DEMO.policies)
    grouped = [p for p in DEMO.policies if p.exclusivity_group]
    assert len(grouped) >= 3 and len({p.exclusivity_group for p in grouped}) >= 2
    assert any(p.annual_cap for p in DEMO.policies)
    assert any(p.budget and p.budget.shortfall for p in DEMO.policies)


def _problems(text: str, tmp_path: Path, groups: set[str] | None = None) -> list[str]:
    path = tmp_path / "p.yaml"
    with pytest.raises(PolicyRejected) as refused:
        parse_policy(text, path, groups)
    return [str(p) for p in refused.value.problems]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_unknown_delivery_mode_is_refused_with_its_position(tmp_path: Path) -> None:
    text = SOURCE.replace("delivery: 直接兑现", "delivery: 自动发放")
    (problem,) = _problems(text, tmp_path)
    assert f"p.yaml:{_line_of(text, '自动发放')}:11" in problem
    assert "未知的兑现方式 自动发放" in problem and "直接兑现" in problem


def test_unknown_exclusivity_group_is_refused(tmp_path: Path) -> None:
    text = SOURCE + "exclusivity_group: 出口奖励组\n"
    (problem,) = _problems(text, tmp_path, groups={"高企奖励"})
    assert f":{_line_of(text, '出口奖励组')}:20" in problem
    assert "未知的互斥组 出口奖励组" in problem and "高企奖励" in problem
    # a folder without _groups.yaml knows no group at all
    assert "（_groups.yaml 中登记的互斥组: 无）" in _problems(text, tmp_path)[0]


def test_malformed_cap_and_budget_are_refused(tmp_path: Path) -> None:
    assert "年度奖励总额上限" in _problems(SOURCE + "annual_cap: 200人\n", tmp_path)[0]
    text = SOURCE.replace("shortfall: 按比例", "shortfall: 抽签")
    assert "未知的预算不足规则 抽签" in _problems(text, tmp_path)[0]
    text = SOURCE.replace(
        "budget: {amount: 500万元, shortfall: 按比例}", "budget: {amount: 500万元}"
    )
    assert "预算不足时的规则" in _problems(text, tmp_path)[0]
