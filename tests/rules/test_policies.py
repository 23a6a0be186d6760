from __future__ import annotations

from pathlib import Path

from zhixiang.demo import demo_policies_dir
from zhixiang.rules import load_policies

GOOD = (demo_policies_dir() / "export-award.yaml").read_text("utf-8")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, "utf-8")
    return path


def problems_of(folder: Path) -> list[str]:
    return [str(p) for p in load_policies([folder]).problems]


def test_every_demo_policy_loads_and_passes_its_own_tests() -> None:
    policy_set = load_policies([demo_policies_dir()])
    assert policy_set.problems == []
    assert len(policy_set.policies) >= 12
    assert all(len(p.tests) >= 2 for p in policy_set.policies)
    assert policy_set.tests_run >= 24


def test_a_bad_file_is_reported_with_line_and_column_and_the_others_still_load(
    tmp_path: Path,
) -> None:
    write(tmp_path, "a-good.yaml", GOOD)
    write(
        tmp_path,
        "b-bad.yaml",
        GOOD.replace("id: export-award", "id: bad").replace(
            "出口额 >= 500万元", "出口额 >= 500万吨"
        ),
    )
    policy_set = load_policies([tmp_path])
    assert [p.id for p in policy_set.policies] == ["export-award"]
    (problem,) = policy_set.problems
    assert problem.where.file.endswith("b-bad.yaml")
    assert problem.where.line == 11
    assert problem.where.column == 21  # the 万吨 of "    when: 出口额 >= 500万吨"
    assert "未知单位 万吨" in problem.message


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "id: x\ntitle: [unclosed\n")
    (problem,) = problems_of(tmp_path)
    assert "broken.yaml:3:1" in problem or "broken.yaml:2" in problem
    assert "YAML 语法错误" in problem


def test_unknown_field_and_type_mismatch_are_both_reported(tmp_path: Path) -> None:
    text = GOOD.replace("出口额 >= 500万元", "出口金额 >= 500万元").replace(
        'when: 纳税信用等级 in ["A", "B"]', "when: 成立日期 >= 500万元"
    )
    write(tmp_path, "two.yaml", text)
    problems = problems_of(tmp_path)
    assert any("two.yaml:11:11" in p and "未知字段或参数: 出口金额" in p for p in problems)
    assert any("two.yaml:14:11" in p and "日期 不能与 金额 比较" in p for p in problems)


def test_a_failing_test_case_rejects_the_policy(tmp_path: Path) -> None:
    write(
        tmp_path,
        "wrong.yaml",
        GOOD.replace(
            "expect: {status: eligible, amount: 10万元}",
            "expect: {status: eligible, amount: 11万元}",
        ),
    )
    policy_set = load_policies([tmp_path])
    assert policy_set.policies == []
    (problem,) = policy_set.problems
    assert "用例“出口2000万元”未通过: 金额应为 11万元，实为 10万元" in problem.message


def test_missing_required_keys_and_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    write(
        tmp_path,
        "c.yaml",
        "id: c\ntitle: 无条件\ndepartment: 某局\nsource: {document: 文件, clause: 第一条}\n",
    )
    problems = problems_of(tmp_path)
    assert any("政策编号 export-award 与" in p for p in problems)
    assert any("c.yaml" in p and "缺少必填项 conditions" in p for p in problems)


def test_date_versioned_parameter_changes_the_threshold() -> None:
    policy = load_policies([demo_policies_dir()]).by_id("rd-expense-subsidy")
    assert policy is not None
    from datetime import date
    from decimal import Decimal

    assert policy.params_at(date(2025, 12, 31))["研发费用门槛"] == Decimal("500000")
    assert policy.params_at(date(2026, 1, 1))["研发费用门槛"] == Decimal("1000000")


def test_policy_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    (tmp_path / "gbk.yaml").write_bytes(GOOD.encode("gbk"))
    (problem,) = problems_of(tmp_path)
    assert "无法读取文件" in problem
