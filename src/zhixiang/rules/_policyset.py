"""Load a folder of policies: each file is checked and its own tests run; a bad file never stops the rest."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from zhixiang.rules._format import format_money
from zhixiang.rules._policy import (
    Location,
    Policy,
    PolicyProblem,
    PolicyRejected,
    parse_policy,
    policy_files,
)
from zhixiang.rules._verdict import evaluate_policy


@dataclass
class PolicySet:
    """The policies that passed every check, and the problems of those that did not."""

    policies: list[Policy] = field(default_factory=list)
    problems: list[PolicyProblem] = field(default_factory=list)
    tests_run: int = 0

    def by_id(self, policy_id: str) -> Policy | None:
        return next((p for p in self.policies if p.id == policy_id), None)


def run_policy_tests(policy: Policy) -> list[PolicyProblem]:
    """Run the test cases written in a policy file; each failure names the case and what differed."""
    problems: list[PolicyProblem] = []
    for test in policy.tests:
        verdict = evaluate_policy(policy, test.facts, test.as_of)
        differences = []
        if verdict.status != test.status:
            differences.append(f"结论应为 {test.status}，实为 {verdict.status}")
        if test.amount is not None and verdict.amount != test.amount:
            differences.append(
                f"金额应为 {format_money(test.amount)}，实为 {format_money(verdict.amount)}"
            )
        if test.failed is not None and set(verdict.failed) != set(test.failed):
            differences.append(f"未满足条件应为 {list(test.failed)}，实为 {list(verdict.failed)}")
        if test.unknown is not None and set(verdict.unknown) != set(test.unknown):
            differences.append(f"待补充条件应为 {list(test.unknown)}，实为 {list(verdict.unknown)}")
        if differences:
            problems.append(
                PolicyProblem(test.where, f"用例“{test.name}”未通过: " + "；".join(differences))
            )
    return problems


def load_policies(paths: Iterable[Path]) -> PolicySet:
    """Parse, type-check and test every policy file under `paths`."""
    result = PolicySet()
    seen: dict[str, Path] = {}
    for path in policy_files(paths):
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.problems.append(PolicyProblem(Location(str(path), 1, 1), f"无法读取文件: {exc}"))
            continue
        try:
            policy = parse_policy(text, path)
        except PolicyRejected as rejected:
            result.problems.extend(rejected.problems)
            continue
        if policy.id in seen:
            result.problems.append(
                PolicyProblem(
                    Location(str(path), 1, 1), f"政策编号 {policy.id} 与 {seen[policy.id]} 重复"
                )
            )
            continue
        failures = run_policy_tests(policy)
        result.tests_run += len(policy.tests)
        if failures:
            result.problems.extend(failures)
            continue
        seen[policy.id] = path
        result.policies.append(policy)
    return result
