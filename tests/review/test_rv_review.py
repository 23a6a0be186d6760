"""智能快审: applications decided from shared data at once, queued when unclear, overridden with a reason."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from zhixiang.access import Principal, PrincipalKind, Role, operator
from zhixiang.catalog import load_catalog
from zhixiang.datahub import create_grant, ensure_tables, open_warehouse
from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.errors import Conflict, Forbidden, InvalidInput, NotFound
from zhixiang.matching import facts_from_row
from zhixiang.review import APPROVED, PENDING, PURPOSE, REFUSED, FactSource, ReviewDesk
from zhixiang.rules import evaluate_policy, load_policies

AS_OF = date(2026, 6, 30)
POLICIES = load_policies([demo_policies_dir()]).policies
TAX = next(p for p in POLICIES if p.id == "tax-contribution-award")
GRADUATE = next(p for p in POLICIES if p.id == "graduate-hiring-subsidy")
CATALOG = load_catalog("enterprise")
APPLICANT = operator("window-clerk")
REVIEWER = operator("reviewer-liu")


@pytest.fixture(scope="module")
def enterprises() -> list[dict]:
    return generate_enterprises(600, seed=31, reference=AS_OF).to_pylist()


def _warehouse(tmp_path: Path, rows: list[dict]) -> str:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", pa.Table.from_pylist(rows, schema=CATALOG.arrow_schema()))
        con.execute("CREATE TABLE enterprise AS SELECT * FROM rows_in")
    url = f"duckdb://{path}"
    with open_warehouse(url) as wh:
        ensure_tables(wh)
        for policy in (TAX, GRADUATE):
            create_grant(
                wh,
                grantee=policy.id,
                grantee_kind="policy",
                entity="enterprise",
                fields=list(policy.fields_read()),
                purpose=PURPOSE,
                valid_until=date(2030, 12, 31),
                granted_by="data-officer",
                today=AS_OF,
            )
    return url


@pytest.fixture
def desk(tmp_path: Path, enterprises: list[dict], database_url: str):
    desk = ReviewDesk(database_url, POLICIES, FactSource(_warehouse(tmp_path, enterprises)))
    desk.migrate()
    yield desk
    desk.close()


def _first(rows: list[dict], policy, wanted) -> dict:
    for row in rows:
        verdict = evaluate_policy(policy, facts_from_row(CATALOG, row), AS_OF)
        if wanted(verdict):
            return row
    raise AssertionError("no such enterprise in the sample")


def _count(desk: ReviewDesk) -> int:
    return desk.stats()["applications"]


def test_a_clear_case_is_approved_at_once_with_the_amount(desk, enterprises) -> None:
    row = _first(enterprises, TAX, lambda v: v.status == "eligible")
    expected = evaluate_policy(TAX, facts_from_row(CATALOG, row), AS_OF).amount
    view = desk.apply(APPLICANT, TAX.id, row["credit_code"], as_of=AS_OF)
    assert (view.status, view.amount, view.decided_by) == (APPROVED, expected, "auto")
    assert view.grants and view.seconds_to_decision is not None
    assert view.seconds_to_decision < 1
    sources = {f["source"] for c in view.checks for f in c["facts"]}
    assert sources == {"税务局（数据中台）"}  # 免证办: every fact from the department that holds it
    with pytest.raises(Conflict, match="不能重复申请"):
        desk.apply(APPLICANT, TAX.id, row["credit_code"], as_of=AS_OF)
    assert _count(desk) == 1


def test_a_clear_failure_is_refused_with_the_data_behind_it(desk, enterprises) -> None:
    row = _first(enterprises, TAX, lambda v: v.failed == ("tax_paid",))
    view = desk.apply(APPLICANT, TAX.id, row["credit_code"], as_of=AS_OF)
    assert view.status == REFUSED and view.failed == ["tax_paid"] and view.amount is None
    check = next(c for c in view.checks if c["id"] == "tax_paid")
    assert check["result"] is False and check["facts"][0]["label"] == "纳税总额"
    assert check["facts"][0]["source"] == "税务局（数据中台）"


def test_a_missing_fact_goes_to_a_reviewer_and_a_declared_one_is_checked(desk, enterprises) -> None:
    rows = [dict(r) for r in enterprises]
    row = _first(rows, GRADUATE, lambda v: v.status == "eligible")
    code = row["credit_code"]
    # the data hub holds the fact: declaring it is refused (免证办), nothing is stored
    with pytest.raises(InvalidInput, match="无需申报"):
        desk.apply(APPLICANT, GRADUATE.id, code, {"新招用高校毕业生人数": 5}, as_of=AS_OF)
    with pytest.raises(InvalidInput, match="未知字段"):
        desk.apply(APPLICANT, GRADUATE.id, code, {"毕业生": 5}, as_of=AS_OF)
    assert _count(desk) == 0
    view = desk.apply(APPLICANT, GRADUATE.id, code, as_of=AS_OF)
    assert view.status == APPROVED


def test_unclear_cases_are_queued_with_what_is_missing(tmp_path, enterprises, database_url) -> None:
    rows = [dict(r) for r in enterprises]
    missing = _first(rows, GRADUATE, lambda v: v.status == "eligible")
    missing["new_graduate_hires"] = None
    second = _first(
        [r for r in rows if r is not missing], GRADUATE, lambda v: v.status == "eligible"
    )
    second["new_graduate_hires"] = None
    contested = _first(
        [r for r in rows if r is not missing and r is not second],
        TAX,
        lambda v: v.status == "eligible",
    )
    url = _warehouse(tmp_path, rows)
    with open_warehouse(url) as wh:
        wh.execute(
            "INSERT INTO dh_conflicts VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                "enterprise",
                contested["credit_code"],
                "tax_paid",
                "tax",
                "3000万",
                "stats",
                "2000万",
            ],
        )
    reviewed = dataclasses.replace(
        TAX,
        id="tax-reviewed",
        conditions=tuple(
            dataclasses.replace(c, needs_review=c.id == "credit_a") for c in TAX.conditions
        ),
    )
    desk = ReviewDesk(database_url, [*POLICIES, reviewed], FactSource(url))
    desk.migrate()
    try:
        gap = desk.apply(APPLICANT, GRADUATE.id, missing["credit_code"], as_of=AS_OF)
        assert gap.status == PENDING and gap.decided_by is None
        assert any("数据中台没有“新招用高校毕业生人数”" in p for p in gap.pending)
        declared = desk.apply(
            APPLICANT, GRADUATE.id, second["credit_code"], {"新招用高校毕业生人数": 4}, as_of=AS_OF
        )
        assert declared.status == PENDING and declared.declared == {"new_graduate_hires": 4}
        assert any("为申请人申报，需核实" in p for p in declared.pending)
        source = next(
            f for c in declared.checks for f in c["facts"] if f["field"] == "new_graduate_hires"
        )
        assert source["source"] == "申请人申报"
        clash = desk.apply(APPLICANT, TAX.id, contested["credit_code"], as_of=AS_OF)
        assert clash.status == PENDING
        assert any("部门数据不一致" in p and "2000万" in p for p in clash.pending)
        flagged_row = _first(
            [r for r in rows if r["credit_code"] != contested["credit_code"]],
            TAX,
            lambda v: v.status == "eligible",
        )
        flagged = desk.apply(APPLICANT, "tax-reviewed", flagged_row["credit_code"], as_of=AS_OF)
        assert flagged.status == PENDING and any("须审核员审核" in p for p in flagged.pending)
        # no grant for this policy: the facts are withheld, a reviewer must look
        ungranted = dataclasses.replace(TAX, id="tax-ungranted")
        desk.policies[ungranted.id] = ungranted
        withheld = desk.apply(APPLICANT, ungranted.id, flagged_row["credit_code"], as_of=AS_OF)
        assert withheld.status == PENDING and any("无有效授权" in p for p in withheld.pending)

        queue = desk.queue(REVIEWER)
        assert [v.id for v in queue] == sorted(v.id for v in queue) and len(queue) == 5
        # a reviewer decides, with a reason; the applicant cannot decide their own application
        with pytest.raises(Forbidden, match="本人提交"):
            desk.decide(APPLICANT, gap.id, APPROVED, "核实无误", amount="3000")
        with pytest.raises(InvalidInput, match="理由"):
            desk.decide(REVIEWER, gap.id, APPROVED, "  ")
        with pytest.raises(InvalidInput, match="金额"):
            desk.decide(REVIEWER, gap.id, APPROVED, "已电话核实招用3人")
        done = desk.decide(REVIEWER, gap.id, APPROVED, "已电话核实招用3人", amount="3000")
        assert (done.status, done.amount, done.decided_by) == (
            APPROVED,
            Decimal("3000.00"),
            REVIEWER.actor,
        )
        history = desk.history(REVIEWER, gap.id)
        assert [e.action for e in history] == ["submitted", "reviewed"]
        assert history[-1].reason == "已电话核实招用3人" and history[-1].actor == REVIEWER.actor
        assert len(desk.queue(REVIEWER)) == 4
    finally:
        desk.close()


def test_a_reviewer_overrides_an_automatic_decision_with_a_reason(desk, enterprises) -> None:
    row = _first(enterprises, TAX, lambda v: v.failed == ("tax_paid",))
    refused = desk.apply(APPLICANT, TAX.id, row["credit_code"], as_of=AS_OF)
    assert refused.status == REFUSED
    changed = desk.decide(
        REVIEWER, refused.id, APPROVED, "复议：税务局更正了纳税额", amount=Decimal("50000")
    )
    assert changed.status == APPROVED and changed.amount == Decimal("50000.00")
    actions = [(e.action, e.before, e.after) for e in desk.history(REVIEWER, refused.id)]
    assert actions == [
        ("submitted", None, PENDING),
        ("auto_decided", PENDING, REFUSED),
        ("override", REFUSED, APPROVED),
    ]
    figures = desk.stats()
    assert figures["applications"] == 1 and figures["decided_automatically"] == 0


def test_bad_applications_are_refused_precisely_and_change_nothing(desk, enterprises) -> None:
    code = enterprises[0]["credit_code"]
    with pytest.raises(InvalidInput, match="不在有效期内"):
        desk.apply(APPLICANT, TAX.id, code, as_of=date(2030, 1, 1))
    with pytest.raises(NotFound, match="没有编号为 no-such 的政策"):
        desk.apply(APPLICANT, "no-such", code, as_of=AS_OF)
    with pytest.raises(InvalidInput):
        desk.apply(APPLICANT, TAX.id, "91350200NOTACODE", as_of=AS_OF)
    absent = generate_enterprises(1, seed=999, reference=AS_OF).to_pylist()[0]["credit_code"]
    assert absent not in {r["credit_code"] for r in enterprises}
    with pytest.raises(NotFound, match="数据仓库中没有"):
        desk.apply(APPLICANT, TAX.id, absent, as_of=AS_OF)
    enterprise = Principal(
        PrincipalKind.USER, "ent", roles=frozenset({Role.ENTERPRISE}), subject=code
    )
    other = enterprises[1]["credit_code"]
    with pytest.raises(Forbidden, match="只能为本企业申请"):
        desk.apply(enterprise, TAX.id, other, as_of=AS_OF)
    handler = Principal(PrincipalKind.USER, "h", roles=frozenset({Role.HANDLER}))
    with pytest.raises(Forbidden):
        desk.apply(handler, TAX.id, code, as_of=AS_OF)
    with pytest.raises(Forbidden):
        desk.queue(enterprise)
    assert _count(desk) == 0
    own = desk.apply(enterprise, TAX.id, code, as_of=AS_OF)
    assert desk.get(enterprise, own.id).id == own.id
    stranger = Principal(PrincipalKind.USER, "x", roles=frozenset({Role.ENTERPRISE}), subject=other)
    with pytest.raises(Forbidden):
        desk.get(stranger, own.id)
