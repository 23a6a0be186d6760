"""免申即享 end to end on SQLite and PostgreSQL: match → propose → approve by another person →
公示 with an objection upheld → export → mark paid → rerun changes nothing → a data correction
adds a clawback line. Plus the refusals of the issue's "Bad input" list, each changing nothing."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from zhixiang.access import Principal, PrincipalKind, Role
from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.errors import Conflict, Forbidden, InvalidInput
from zhixiang.grants import BANK_COLUMNS, GrantLedger, propose_from_run
from zhixiang.matching import open_results, run_matching
from zhixiang.rules import load_policies

AS_OF = date(2026, 6, 30)
POLICIES = load_policies([demo_policies_dir()]).policies
BY_ID = {p.id: p for p in POLICIES}
OFFICER = Principal(PrincipalKind.USER, "chen", "陈静", frozenset({Role.POLICY_ADMIN}))
REVIEWER = Principal(PrincipalKind.USER, "liu", "刘洋", frozenset({Role.REVIEWER}))
SECOND_REVIEWER = Principal(PrincipalKind.USER, "zhao", "赵敏", frozenset({Role.REVIEWER}))
BOTH = Principal(PrincipalKind.USER, "wang", "王强", frozenset({Role.POLICY_ADMIN, Role.REVIEWER}))
POLICY = "specialized-sme-award"


def enterprise(code: str) -> Principal:
    return Principal(
        PrincipalKind.USER, f"e{code[-6:]}", "企业", frozenset({Role.ENTERPRISE}), subject=code
    )


def write_warehouse(path: Path, table: pa.Table) -> str:
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", table)
        con.execute("CREATE OR REPLACE TABLE enterprise AS SELECT * FROM rows_in")
    return f"duckdb://{path}"


@pytest.fixture
def matched(tmp_path: Path) -> tuple[pa.Table, Path, Path]:
    table = generate_enterprises(2500, seed=11, reference=AS_OF)
    results = tmp_path / "results"
    source = write_warehouse(tmp_path / "w.duckdb", table)
    run_matching(source, POLICIES, AS_OF, results_dir=results)
    return table, results, tmp_path / "w.duckdb"


def accounts_for(codes: list[str]) -> list[dict[str, str]]:
    return [
        {
            "统一社会信用代码": c,
            "收款单位": f"企业{c[-4:]}",
            "开户行": "厦门银行",
            "账号": "6222" + str(int.from_bytes(c.encode(), "big"))[-15:],
        }
        for c in codes
    ]


def test_match_to_money_and_back_end_to_end(ledger: GrantLedger, matched, tmp_path: Path) -> None:
    table, results, warehouse = matched
    with open_results(results) as r:
        eligible = r.table(POLICY, "eligible")["entity_id"].to_pylist()
    assert len(eligible) >= 5, "the demo data should make a handful eligible"

    proposal = propose_from_run(
        ledger, POLICIES, POLICY, "2026", OFFICER, results_dir=results, notice_days=5
    )
    batch = proposal.batch
    assert batch is not None and proposal.awards == len(eligible) == batch.lines
    assert batch.status == "proposed" and batch.by_status == {"待确认": len(eligible)}

    with pytest.raises(Forbidden, match="不能审批本人提出的批次"):
        ledger.approve(
            batch.id,
            BOTH.__class__(
                PrincipalKind.USER, "chen", "陈静", frozenset({Role.POLICY_ADMIN, Role.REVIEWER})
            ),
        )
    today = date.today()
    approved = ledger.approve(batch.id, REVIEWER, today=today)
    assert approved.status == "approved" and approved.approved_by == "user:liu"
    assert approved.by_status == {"已确认": len(eligible)}
    assert approved.notice_until == today + timedelta(days=5)
    before = ledger.counts()
    with pytest.raises(Conflict, match="不能重复审批"):
        ledger.approve(batch.id, SECOND_REVIEWER)
    assert ledger.counts() == before

    first, second, *rest = ledger.lines(batch.id, limit=10_000)
    notice = ledger.notices(first.entity_id)[0]
    assert "公示期至" in notice.body and "元" in notice.body and "专精特新" in notice.body
    assert len(ledger.outbox(limit=10_000)) == len(eligible)

    # 公示: the first entity objects and is upheld (its line removed); a stranger may not object.
    with pytest.raises(Forbidden):
        ledger.object(first.id, enterprise(second.entity_id), "不是我们")
    objection = ledger.object(first.id, enterprise(first.entity_id), "本单位已注销专精特新资格")
    with pytest.raises(Conflict, match="异议未处理"):
        ledger.export(batch.id, OFFICER, today=today + timedelta(days=6))
    decided = ledger.decide(objection.id, REVIEWER, uphold=True, note="核实资格已于年初撤销")
    assert decided.status == "成立"
    assert ledger.line(first.id).status == "撤销" and ledger.line(first.id).net == 0
    late = today + timedelta(days=6)
    before = ledger.counts()
    with pytest.raises(Conflict, match="公示期已于"):
        ledger.object(second.id, enterprise(second.entity_id), "金额不对", today=late)
    with pytest.raises(Conflict, match="公示期满后才能导出"):
        ledger.export(batch.id, OFFICER, today=today)
    assert ledger.counts() == before

    # 拨付: refused while an account is missing; then held out with its reason.
    ledger.import_accounts(accounts_for([line.entity_id for line in rest]), OFFICER, "测试名录")
    before = ledger.counts()
    with pytest.raises(InvalidInput, match="1 个主体缺少收款账户"):
        ledger.export(batch.id, OFFICER, tmp_path / "x.csv", today=late)
    assert ledger.counts() == before and not (tmp_path / "x.csv").exists()
    out = tmp_path / "拨付清单.csv"
    export = ledger.export(batch.id, OFFICER, out, hold_missing=True, today=late)
    assert export is not None and export.lines == len(rest)
    assert export.held == {"缺少收款账户（暂缓拨付）": 1}
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == BANK_COLUMNS
    assert {r["统一社会信用代码"] for r in rows} == {line.entity_id for line in rest}
    assert sum(Decimal(r["金额"]) for r in rows) == sum(line.amount for line in rest)
    assert all(r["用途"].startswith("专精特新企业奖励") for r in rows)
    assert ledger.mark_paid(export.export_id, OFFICER) == {"已拨付": len(rest), "退回": 0}
    with pytest.raises(Conflict, match="已于"):
        ledger.mark_paid(export.export_id, OFFICER)

    # Rerun: nothing changes, nothing is written.
    before = ledger.counts()
    again = propose_from_run(ledger, POLICIES, POLICY, "2026", OFFICER, results_dir=results)
    assert again.batch is None and again.awards == again.reversals == 0
    assert (
        ledger.export(batch.id, OFFICER, tmp_path / "y.csv", hold_missing=True, today=late) is None
    )
    assert ledger.counts() == before

    # A data correction: a paid enterprise was never 专精特新 → a clawback line, approved apart.
    paid = rest[0]
    codes = table.column("credit_code").to_pylist()
    levels = table.column("specialized_level").to_pylist()
    levels[codes.index(paid.entity_id)] = "无"
    corrected = table.set_column(
        table.schema.get_field_index("specialized_level"),
        "specialized_level",
        pa.array(levels, table.schema.field("specialized_level").type),
    )
    run_matching(write_warehouse(warehouse, corrected), POLICIES, AS_OF, results_dir=results)
    clawback = propose_from_run(ledger, POLICIES, POLICY, "2026", OFFICER, results_dir=results)
    assert clawback.batch is not None and (clawback.awards, clawback.reversals) == (0, 1)
    ledger.approve(clawback.batch.id, REVIEWER)
    (reversal,) = ledger.lines(clawback.batch.id)
    assert reversal.kind == "reversal" and reversal.reverses == paid.id
    assert reversal.amount == -paid.amount and reversal.status == "已确认"
    assert "追回" in (reversal.reason or "")
    assert ledger.line(paid.id).status == "已拨付" and ledger.line(paid.id).net == 0
    before = ledger.counts()
    assert (
        propose_from_run(ledger, POLICIES, POLICY, "2026", OFFICER, results_dir=results).batch
        is None
    )
    assert ledger.counts() == before

    (row,) = ledger.dashboard("2026", POLICY)
    # The corrected run finds one fewer; the upheld objection removed one award.
    assert row.eligible == len(eligible) - 1
    assert row.granted_without_application == len(eligible) - 1
    assert row.paid == len(rest) and row.objections == row.objections_upheld == 1
    assert row.clawed_back == 1 and row.median_days_to_money is not None


def test_exclusivity_keeps_the_higher_grant_and_caps_and_budgets_hold(ledger: GrantLedger) -> None:
    first, growth = BY_ID["hightech-first-award"], BY_ID["hightech-growth-award"]
    assert first.exclusivity_group == growth.exclusivity_group == "高企奖励"
    a, b, c = "91350200MA00000001", "91350200MA00000002", "91350200MA00000003"
    mine = {a: Decimal("200000"), b: Decimal("50000")}
    peers = {growth.id: (growth.title, {a: Decimal("10000"), b: Decimal("80000"), c: Decimal(1)})}
    proposal = ledger.propose(first, "2026", mine, OFFICER, run_id="r1", as_of=AS_OF, peers=peers)
    assert proposal.awards == 1 and [x.entity_id for x in ledger.lines(proposal.batch.id)] == [a]
    assert any("就高享受《高新技术企业营收增长奖励》" in k for k in proposal.held)
    ledger.approve(proposal.batch.id, REVIEWER)
    peers = {first.id: (first.title, mine)}
    other = ledger.propose(
        growth,
        "2026",
        {a: Decimal("10000"), b: Decimal("80000")},
        OFFICER,
        run_id="r1",
        as_of=AS_OF,
        peers=peers,
    )
    assert [x.entity_id for x in ledger.lines(other.batch.id)] == [b]

    tax = BY_ID["tax-contribution-award"]
    assert tax.annual_cap == Decimal("2000000")
    ledger.approve(other.batch.id, REVIEWER)
    capped = ledger.propose(
        tax,
        "2026",
        {a: Decimal("5000000"), c: Decimal("3000000")},
        OFFICER,
        run_id="r1",
        as_of=AS_OF,
    )
    amounts = {x.entity_id: x.amount for x in ledger.lines(capped.batch.id)}
    assert amounts == {a: Decimal("1800000.00"), c: Decimal("2000000.00")}  # a got 20万 already

    export = BY_ID["export-award"]
    assert export.budget is not None and export.budget.shortfall == "按比例"
    asked = {f"91350200MA0000{i:04d}": Decimal("1000000") for i in range(10)}
    pro_rata = ledger.propose(export, "2026", asked, OFFICER, run_id="r1", as_of=AS_OF)
    assert pro_rata.batch.total == Decimal("5000000.00")
    assert {x.amount for x in ledger.lines(pro_rata.batch.id)} == {Decimal("500000.00")}


def test_bad_input_is_refused_precisely_and_changes_nothing(ledger: GrantLedger) -> None:
    policy = BY_ID[POLICY]
    before = ledger.counts()
    with pytest.raises(InvalidInput, match="年度应为四位年份"):
        ledger.propose(policy, "26", {"x": Decimal(1)}, OFFICER, run_id="r", as_of=AS_OF)
    with pytest.raises(InvalidInput, match="申请审核"):
        ledger.propose(
            BY_ID["invention-patent-grant"], "2026", {}, OFFICER, run_id="r", as_of=AS_OF
        )
    with pytest.raises(InvalidInput, match="不在有效期内"):
        ledger.propose(policy, "2026", {}, OFFICER, run_id="r", as_of=date(2031, 1, 1))
    with pytest.raises(Forbidden):
        ledger.propose(policy, "2026", {"x": Decimal(1)}, REVIEWER, run_id="r", as_of=AS_OF)
    assert ledger.counts() == before

    proposal = ledger.propose(
        policy, "2026", {"91350200MA00000009": Decimal("300000")}, OFFICER, run_id="r", as_of=AS_OF
    )
    with pytest.raises(Conflict, match="尚待审批"):
        ledger.propose(
            policy,
            "2026",
            {"91350200MA00000010": Decimal("300000")},
            OFFICER,
            run_id="r",
            as_of=AS_OF,
        )
    with pytest.raises(Forbidden):
        ledger.approve(proposal.batch.id, OFFICER)
    with pytest.raises(Conflict, match="未进行公示"):
        ledger.object(ledger.lines(proposal.batch.id)[0].id, REVIEWER, "异议")
    assert ledger.counts()["gr_lines"] == before["gr_lines"] + 1


def test_a_batch_over_budget_with_the_refuse_rule_is_refused(
    ledger: GrantLedger, tmp_path: Path
) -> None:
    source = (demo_policies_dir() / "export-award.yaml").read_text("utf-8")
    path = tmp_path / "export-award.yaml"
    path.write_text(source.replace("shortfall: 按比例", "shortfall: 拒绝"), "utf-8")
    (strict,) = load_policies([path]).policies
    before = ledger.counts()
    with pytest.raises(Conflict, match="超出政策 export-award 2026 年度预算余额"):
        ledger.propose(
            strict,
            "2026",
            {f"c{i}": Decimal("1000000") for i in range(6)},
            OFFICER,
            run_id="r",
            as_of=AS_OF,
        )
    assert ledger.counts() == before


def test_record_award_is_idempotent_per_key(ledger: GrantLedger) -> None:
    policy = BY_ID["invention-patent-grant"]
    line = ledger.record_award(
        policy, "2026", "91350200MA00000042", Decimal("15000"), REVIEWER, application_id="A-1"
    )
    again = ledger.record_award(
        policy, "2026", "91350200MA00000042", Decimal("15000"), REVIEWER, application_id="A-1"
    )
    assert again.id == line.id and line.status == "已确认"
    with pytest.raises(Conflict, match="不重复入账"):
        ledger.record_award(
            policy, "2026", "91350200MA00000042", Decimal("20000"), REVIEWER, application_id="A-2"
        )
    auto = ledger.record_award(
        policy,
        "2026",
        "91350200MA00000043",
        Decimal("5000"),
        REVIEWER,
        application_id="A-3",
        automatic=True,
    )
    (row,) = ledger.dashboard("2026", policy.id)
    assert (row.applications, row.auto_decided_applications) == (2, 1) and auto.amount == Decimal(
        "5000.00"
    )
