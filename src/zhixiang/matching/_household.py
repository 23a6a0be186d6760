"""One household against every resident policy: each condition with the member values that decided
it, what is missing and from whom, and the 一件事 bundles (policies grouped by life event).

Personal data are shown masked (张*, 4401**********1234) unless the caller may see them clear; the
caller's reads are audited, one record per policy, with the policy as the purpose (个人信息保护法
第三十四条: a read is for a stated duty, and only what that duty needs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from zhixiang.rules import (
    FIELD_VALUE_TYPES,
    LIFE_EVENTS,
    MEMBERS_KEY,
    OPERATOR_LABELS,
    Policy,
    Value,
    Verdict,
    evaluate_policy,
    format_money,
    format_value,
)

NEXT_STEP = {
    "直接兑现": "无需申请：数据齐备、条件满足即自动发放（免申即享）",
    "意愿确认": "确认意愿即可办理：在便民服务中点“我要享受”",
    "申请审核": "提交申请，经部门审核后享受",
}


def mask_id(value: object) -> str:
    text = "" if value is None else str(value)
    return text[:4] + "*" * max(0, len(text) - 8) + text[-4:] if len(text) > 8 else "***"


def mask_name(value: object) -> str:
    text = "" if value is None else str(value)
    return (text[:1] + "*" * max(1, len(text) - 1)) if text else "（无姓名）"


def delivery_of(policy: Policy) -> str:
    """How a policy is delivered (直接兑现/意愿确认/申请审核): the policy's own key where the policy
    schema has it, else the `delivery` line of its file."""
    declared = getattr(policy, "delivery", None)
    if declared:
        return str(declared)
    try:
        for line in policy.path.read_text("utf-8").splitlines():
            if line.startswith("delivery:"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return ""


@dataclass(frozen=True)
class MemberRow:
    id_number: str
    name: str | None
    role: str


@dataclass(frozen=True)
class PolicyOutcome:
    """A policy's verdict for the household (household policy) or for one member (person policy)."""

    policy: Policy
    verdict: Verdict
    member: MemberRow | None = None  # set for person policies


@dataclass
class HouseholdReport:
    household_id: str
    as_of: date
    members: tuple[MemberRow, ...]
    outcomes: list[PolicyOutcome] = field(default_factory=list)
    clear: bool = False  # whether the viewer may see names and 身份证号 unmasked

    def who(self, member: MemberRow | Mapping[str, Value] | None) -> str:
        if member is None:
            return ""
        pid: Value
        name: Value
        role: Value
        if isinstance(member, MemberRow):
            pid, name, role = member.id_number, member.name, member.role
        else:
            pid, name, role = member.get("id_number"), member.get("name"), member.get("role")
        if self.clear:
            return f"{role or ''} {name or ''}（{pid}）".strip()
        return f"{role or ''} {mask_name(name)}（{mask_id(pid)}）".strip()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready account; personal values masked unless `clear`."""
        return {
            "household_id": self.household_id,
            "as_of": self.as_of.isoformat(),
            "masked": not self.clear,
            "members": [self.who(m) for m in self.members],
            "policies": [self._outcome(o) for o in self.outcomes],
            "life_events": life_events(self),
        }

    def _outcome(self, o: PolicyOutcome) -> dict[str, Any]:
        v = o.verdict
        return {
            "policy_id": o.policy.id,
            "title": o.policy.title,
            "entity": o.policy.entity,
            "member": self.who(o.member) if o.member else None,
            "source": f"{o.policy.document} {o.policy.clause}",
            "delivery": delivery_of(o.policy),
            "status": v.status,
            "amount": None if v.amount is None else str(v.amount),
            "failed": list(v.failed),
            "unknown": list(v.unknown),
            "conditions": [
                {
                    "id": c.id,
                    "label": c.label,
                    "expression": c.expression,
                    "result": c.result,
                    "facts": {f.label: self._value(f, value) for f, value in c.facts},
                    "missing": [f.label for f in c.missing],
                    "comparisons": [
                        f"{x.left} = {format_value(x.left_value, x.type)} {OPERATOR_LABELS[x.op]} "
                        f"{format_value(x.right_value, x.type)}"
                        for x in c.comparisons
                    ],
                    "members": [
                        {
                            "member": self.who(
                                {"id_number": m.id_number, "name": m.name, "role": m.role}
                            ),
                            "expression": m.expression,
                            "included": m.included,
                            "value": format_value(m.value, m.type),
                            "missing": [f.label for f in m.missing],
                        }
                        for m in c.members
                    ],
                }
                for c in v.conditions
            ],
        }

    def _value(self, f: Any, value: Value) -> str:
        if not self.clear and f.mask in ("id_number", "name"):
            return mask_id(value) if f.mask == "id_number" else mask_name(value)
        return format_value(value, FIELD_VALUE_TYPES[f.type])

    def missing(self) -> list[str]:
        """What is missing, from whom: one line per member fact that left a verdict open."""
        lines: list[str] = []
        for o in self.outcomes:
            if o.verdict.status != "needs_information":
                continue
            for c in o.verdict.conditions:
                if c.result is not None:
                    continue
                for m in c.members:
                    if m.missing:
                        who = self.who({"id_number": m.id_number, "name": m.name, "role": m.role})
                        line = f"{who}: {'、'.join(f.label for f in m.missing)}"
                        if line not in lines:
                            lines.append(line)
                if c.missing:
                    prefix = self.who(o.member) if o.member else "家庭"
                    line = f"{prefix}: {'、'.join(f.label for f in c.missing)}"
                    if line not in lines:
                        lines.append(line)
        return lines


Audit = Callable[[Policy, list[str], int], None]


def _optional_text(value: Value) -> str | None:
    return None if value is None else str(value)


def household_report(
    facts: Mapping[str, Value],
    household_id: str,
    policies: Sequence[Policy],
    as_of: date,
    *,
    clear: bool = False,
    audit: Audit | None = None,
) -> HouseholdReport:
    """Every resident policy in force for one household: household policies once, person policies
    for each member. `audit(policy, fields, rows)` is called once per policy before any result is
    returned, naming the personal fields that policy read."""
    # the members ride in the facts under MEMBERS_KEY, outside the Value type (see rules._groups)
    members: tuple[Mapping[str, Value], ...] = tuple(facts.get(MEMBERS_KEY) or ())  # type: ignore[arg-type]
    rows = tuple(
        MemberRow(str(m.get("id_number")), _optional_text(m.get("name")), str(m.get("role")))
        for m in members
    )
    report = HouseholdReport(household_id, as_of, rows, clear=clear)
    for policy in policies:
        if not policy.in_force(as_of):
            continue
        if policy.entity == "household":
            verdict = evaluate_policy(policy, facts, as_of, explain=True)
            report.outcomes.append(PolicyOutcome(policy, verdict))
        elif policy.entity == "person":
            for row, m in zip(rows, members, strict=True):
                verdict = evaluate_policy(policy, m, as_of, explain=True)
                report.outcomes.append(PolicyOutcome(policy, verdict, row))
        else:
            continue
        if audit is not None:
            audit(policy, _fields_read(policy), len(members))
    return report


def _fields_read(policy: Policy) -> list[str]:
    from zhixiang.rules import policy_fields

    return policy_fields(policy)


def life_events(report: HouseholdReport) -> list[dict[str, Any]]:
    """一件事: the policies the household qualifies for (or nearly: needs information), grouped by
    life event, each with what it needs next."""
    bundles: dict[str, list[dict[str, Any]]] = {event: [] for event in LIFE_EVENTS}
    for o in report.outcomes:
        event = o.policy.life_event
        if not event or o.verdict.status == "ineligible":
            continue
        delivery = delivery_of(o.policy)
        if o.verdict.status == "eligible":
            step = NEXT_STEP.get(delivery, "按政策规定办理")
        else:
            missing = sorted(
                {f.label for c in o.verdict.conditions for m in c.members for f in m.missing}
                | {f.label for c in o.verdict.conditions for f in c.missing}
            )
            step = f"补充信息后再判断：{'、'.join(missing) or '见条件说明'}"
        bundles[event].append(
            {
                "policy_id": o.policy.id,
                "title": o.policy.title,
                "member": report.who(o.member) if o.member else None,
                "status": o.verdict.status,
                "amount": None if o.verdict.amount is None else str(o.verdict.amount),
                "amount_text": None if o.verdict.amount is None else format_money(o.verdict.amount),
                "delivery": delivery,
                "next_step": step,
            }
        )
    return [{"event": event, "policies": items} for event, items in bundles.items() if items]


def total_amount(report: HouseholdReport) -> Decimal:
    return sum(
        (o.verdict.amount for o in report.outcomes if o.verdict.amount is not None), Decimal(0)
    )


def explain_resident(
    url: str,
    policies: Sequence[Policy],
    as_of: date,
    *,
    reader: str,
    household_id: str | None = None,
    id_number: str | None = None,
    via: str = "",
) -> HouseholdReport | None:
    """The report for a stored household (by its id, or by a member's 身份证号), or None.

    Names and 身份证号 are shown clear only when the reader holds an active clear grant on the
    person fields `name` and `id_number`; every policy evaluated leaves an audit record whose
    purpose is that policy, naming the fields it read and how many persons.
    """
    from zhixiang.datahub import append_audit, list_grants, open_warehouse
    from zhixiang.matching._residents import HouseholdLookup

    lookup = HouseholdLookup(url)
    try:
        key = household_id or (lookup.household_of(id_number) if id_number else None)
        facts = None if key is None else lookup(key)
    finally:
        lookup.close()
    if facts is None or key is None:
        return None
    resident = [p for p in policies if p.entity in ("household", "person")]
    with open_warehouse(url) as wh:
        clear = any(
            g.clear and g.entity == "person" and {"name", "id_number"} <= set(g.fields)
            for g in list_grants(wh, reader)
            if g.active(as_of)
        )

        def audit(policy: Policy, fields: list[str], rows: int) -> None:
            append_audit(
                wh,
                actor=f"{reader}{' via ' + via if via else ''}",
                purpose=f"{policy.id} {policy.title}",
                entity="person",
                fields=fields,
                rows=rows,
                detail=f"户 {key}；{'明文' if clear else '脱敏'}展示",
            )

        return household_report(facts, key, resident, as_of, clear=clear, audit=audit)
