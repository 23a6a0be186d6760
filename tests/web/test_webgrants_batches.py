"""免申即享 batches in a real browser: a 政策管理员 previews and proposes a batch from the latest
match run, a 审核员 approves it, the proposer may not approve their own batch (the page says why),
an objection is decided, the bank file is downloaded (its rows checked) and the payment recorded.
A 领导 reads without any action; a 部门办理人 is refused; bad input changes no ledger row."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect
from web_helpers import screenshot

pytestmark = pytest.mark.browser

REVIEWER, REVIEWER_PASSWORD = "wg-reviewer", "approves other peoples batches 7"
BOTH, BOTH_PASSWORD = "wg-both", "proposes and reviews 8"
PERIOD = str(date.today().year)


@dataclass
class Setup:
    ledger: object
    policy: str  # proposed through the pages by the officer
    other: str  # proposed by wg-both, who may also approve (but not their own)
    eligible: dict[str, str]  # the run's eligible entities of `policy` → amount


def _principal(username: str, roles, department: str, name: str):
    from zhixiang.access import Principal, PrincipalKind

    return Principal(PrincipalKind.USER, username, name, frozenset(roles), department)


@pytest.fixture(scope="module")
def setup(platform) -> Iterator[Setup]:
    """Two accounts, a published match run of the demo enterprises, and two 直接兑现 policies
    with eligible enterprises in it (the one with most for the pages' flow)."""
    from zhixiang.access import Role, operator
    from zhixiang.matching import open_results, run_matching
    from zhixiang.web._capabilities import policies
    from zhixiang.web._grants import ledger

    app = platform.app
    root = operator("test")
    app.state.access.create_user(
        root, REVIEWER, REVIEWER_PASSWORD, [Role.REVIEWER], display_name="周审核",
        department="city-finance",
    )  # fmt: skip
    app.state.access.create_user(
        root, BOTH, BOTH_PASSWORD, [Role.POLICY_ADMIN, Role.REVIEWER], display_name="吴双岗",
        department="city-commerce",
    )  # fmt: skip
    request = SimpleNamespace(app=app)
    settings = app.state.settings
    in_force = [p for p in policies(request).policies if p.in_force(date.today())]  # type: ignore[arg-type]
    run_matching(settings.warehouse_url, in_force, date.today(), results_dir=settings.results_dir)
    with open_results(settings.results_dir) as results:
        counts = {c.policy_id: c.eligible for c in results.run.policies}
        direct = sorted(
            (
                p.id
                for p in in_force
                if p.delivery == "直接兑现" and not p.budget and counts.get(p.id, 0) > 0
            ),
            key=lambda pid: -counts[pid],
        )
        if len(direct) < 2:
            pytest.skip(
                "the demo run has fewer than two 直接兑现 policies with eligible enterprises"
            )
        table = results.table(direct[0], "eligible")
        eligible = dict(
            zip(table["entity_id"].to_pylist(), map(str, table["amount"].to_pylist()), strict=True)
        )
    yield Setup(ledger(request), direct[0], direct[1], eligible)  # type: ignore[arg-type]


def _sign_in(page, platform, username: str, password: str) -> None:
    page.goto(f"{platform.url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def _csrf(page) -> str:
    return page.locator('input[name="csrf_token"]').first.get_attribute("value")


def test_webgrants_propose_approve_object_export_and_pay(page, platform, shots, setup) -> None:
    from sqlalchemy import text

    from zhixiang.access import Role
    from zhixiang.grants import BANK_COLUMNS, propose_from_run

    books = setup.ledger
    # -- 政策管理员: preview (nothing written), then propose --------------------------------------------
    platform.sign_in(page, "officer")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="免申即享").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("免申即享 · 兑现批次")
    page.get_by_role("link", name="提出批次").click()
    page.get_by_label("政策").select_option(setup.policy)
    page.get_by_label("年度").fill(PERIOD)
    page.get_by_label("公示天数").fill("3")
    before = books.counts()
    page.get_by_role("button", name="预览").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_be_visible()
    assert books.counts() == before, "a preview writes nothing"
    awards = int(page.get_by_test_id("preview-awards").inner_text())
    previewed_total = page.get_by_test_id("preview-total").inner_text()
    assert 0 < awards <= len(setup.eligible)
    if awards < len(setup.eligible):  # the rest are held out, each reason with its count
        expect(preview.get_by_test_id("held").locator("tbody tr").first).to_be_visible()
    shown = page.get_by_test_id("preview-lines").locator("tbody tr")
    expect(shown).to_have_count(min(awards, 50))
    screenshot(page, shots, "grants-propose")
    page.get_by_role("button", name="提出批次").click()
    expect(page.get_by_role("status")).to_contain_text("已提出批次")
    batch_id = int(re.search(r"/app/grants/(\d+)", page.url).group(1))
    batch = books.batch(batch_id)
    assert batch.status == "proposed" and batch.lines == awards
    assert batch.proposed_by == "user:officer" and batch.notice_days == 3
    expect(page.get_by_test_id("stage")).to_have_text("提出")
    expect(page.get_by_test_id("own-batch")).to_contain_text("不能审批本人提出的批次")
    expect(page.get_by_role("button", name="审批")).to_have_count(0)
    expect(page.get_by_test_id("line")).to_have_count(min(awards, 100))
    expect(page.get_by_test_id("batch-total")).to_contain_text(previewed_total)
    page.get_by_role("button", name="退出").click()

    # -- 审核员 (not the proposer) approves ------------------------------------------------------------
    _sign_in(page, platform, REVIEWER, REVIEWER_PASSWORD)
    page.goto(f"{platform.url}/app/grants/{batch_id}")
    page.get_by_role("button", name="审批").click()
    expect(page.get_by_role("status")).to_contain_text(f"批次 #{batch_id} 已审批")
    expect(page.get_by_test_id("stage")).to_have_text("公示中")
    assert books.batch(batch_id).approved_by == f"user:{REVIEWER}"

    # -- an objection during the notice, decided on the page (upheld: the line is revoked) -----------
    lines = books.lines(batch_id, limit=1000)
    objected = lines[0]
    officer = _principal("officer", [Role.POLICY_ADMIN], "city-commerce", "陈政策")
    objection = books.object(objected.id, officer, "企业来电：本年度已迁出本市")
    page.reload()
    card = page.get_by_test_id("objection").filter(has_text=f"异议 #{objection.id}")
    card.get_by_text("处理异议", exact=True).click()
    card.get_by_role("button", name="提交处理结论").click()  # nothing chosen: refused on the page
    card = page.get_by_test_id("objection").filter(has_text=f"异议 #{objection.id}")
    expect(card.locator(f"#o{objection.id}-outcome-error")).to_contain_text("请选择")
    assert books.objection(objection.id).status == "待处理"
    card.get_by_label("结论").select_option("uphold")
    card.get_by_label("处理意见").fill("核实属实，撤销该行")
    card.get_by_role("button", name="提交处理结论").click()
    expect(page.get_by_role("status")).to_contain_text(f"异议 #{objection.id} 已处理：成立")
    expect(page.get_by_test_id("objection-status")).to_have_text("成立")
    assert books.line(objected.id).status == "撤销"
    screenshot(page, shots, "grants-batch")
    page.get_by_role("button", name="退出").click()

    # -- the notice is over (moved back a few days); accounts for all but one payee -------------------
    with books.engine.begin() as c:
        c.execute(
            text("UPDATE gr_batches SET notice_until = :d WHERE id = :id"),
            {"d": date.today() - timedelta(days=1), "id": batch_id},
        )
    payable = [ln for ln in lines if ln.id != objected.id]
    assert payable, "the test needs a second eligible enterprise"
    missing, with_account = payable[0], payable[1:]
    books.import_accounts(
        [
            {"统一社会信用代码": ln.entity_id, "收款单位": f"企业{ln.entity_id[-4:]}",
             "开户行": "厦门银行", "账号": f"6222{ln.id:012d}"}
            for ln in with_account
        ],
        officer,
        "测试名录",
    )  # fmt: skip

    # -- 导出拨付清单: a missing account is named and nothing exported; held out, the CSV downloads --
    platform.sign_in(page, "officer")
    page.goto(f"{platform.url}/app/grants/{batch_id}")
    before = books.counts()
    page.get_by_role("button", name="导出拨付清单").click()
    expect(page.get_by_test_id("refusal")).to_contain_text(missing.entity_id)
    assert books.counts() == before
    if with_account:
        page.get_by_label("缺少收款账户的行暂缓，其余先导出").check()
        with page.expect_download() as download:
            page.get_by_role("button", name="导出拨付清单").click()
        body = download.value.path().read_bytes().decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(body)))
        assert list(rows[0]) == list(BANK_COLUMNS)
        assert {r["统一社会信用代码"] for r in rows} == {ln.entity_id for ln in with_account}
        amounts = {ln.entity_id: str(ln.amount) for ln in with_account}
        assert all(r["金额"] == amounts[r["统一社会信用代码"]] for r in rows)
        assert all(r["用途"].endswith(f"（{PERIOD}年度免申即享）") for r in rows)
        (exported,) = books.exports(batch_id)
        assert exported.lines == len(with_account) and exported.paid_at is None

        # -- 登记拨付 ---------------------------------------------------------------------------------
        page.goto(f"{platform.url}/app/grants/{batch_id}")
        page.get_by_text("登记拨付结果", exact=True).click()
        page.get_by_role("button", name="登记拨付").click()
        expect(page.get_by_role("status")).to_contain_text(f"拨付清单 #{exported.id} 已登记")
        expect(page.get_by_test_id("paid")).to_be_visible()
        paid = {ln.entity_id for ln in books.lines(batch_id, status="已拨付", limit=1000)}
        assert paid == {ln.entity_id for ln in with_account}
        assert books.line(missing.id).status == "已确认"  # held: still to pay

    # -- the list: the batch with its stage and the amounts chart ----------------------------------
    page.goto(f"{platform.url}/app/grants")
    row = page.locator(f'[data-testid="batch-row"][data-batch="{batch_id}"]')
    expect(row.get_by_test_id("stage")).to_have_text("已导出" if with_account else "已审批")
    expect(page.locator(".chart svg").first).to_be_visible()

    page.get_by_role("button", name="退出").click()

    # -- the 驾驶舱's map adds what was granted up by the enterprises' districts -------------------
    platform.sign_in(page, "leader")
    page.goto(f"{platform.url}/app/dashboard?measure=granted")
    expect(page.get_by_role("heading", name="一图掌握：已兑现金额（万元）")).to_be_visible()
    cells = page.get_by_test_id("map-table").locator("tbody tr")
    shown = sum(float(row.locator("td").nth(1).inner_text()) for row in cells.all())
    granted = sum(books.granted_by_entity().values())
    assert granted > 0 and shown == pytest.approx(float(granted) / 10_000, abs=0.35)
    page.get_by_role("button", name="退出").click()

    # -- a proposer who may also approve is refused approving their own batch ----------------------
    both = _principal(BOTH, [Role.POLICY_ADMIN, Role.REVIEWER], "city-commerce", "吴双岗")
    settings = platform.app.state.settings
    from zhixiang.web._capabilities import policies

    own = propose_from_run(
        books,
        policies(SimpleNamespace(app=platform.app)).policies,  # type: ignore[arg-type]
        setup.other,
        PERIOD,
        both,
        results_dir=settings.results_dir,
    ).batch
    assert own is not None
    _sign_in(page, platform, BOTH, BOTH_PASSWORD)
    page.goto(f"{platform.url}/app/grants/{own.id}")
    expect(page.get_by_test_id("own-batch")).to_contain_text("不能审批本人提出的批次")
    expect(page.get_by_role("button", name="审批")).to_have_count(0)
    answer = page.request.post(
        f"{platform.url}/app/grants/{own.id}/approve", form={"csrf_token": _csrf(page)}
    )
    assert answer.status == 403 and "不能审批本人提出的批次" in answer.text()
    assert books.batch(own.id).status == "proposed"
    # ... but may withdraw it, with a reason
    page.goto(f"{platform.url}/app/grants/{own.id}")
    page.get_by_text("撤回", exact=True).click()
    page.get_by_role("button", name="撤回批次").click()
    expect(page.locator("#w-reason-error")).to_contain_text("理由")
    assert books.batch(own.id).status == "proposed"
    page.get_by_label("理由").fill("政策口径待确认，撤回")
    page.get_by_role("button", name="撤回批次").click()
    expect(page.get_by_role("status")).to_contain_text(f"批次 #{own.id} 已撤回")
    expect(page.get_by_test_id("stage")).to_have_text("撤回")
    page.goto(f"{platform.url}/app/grants")
    row = page.locator(f'[data-testid="batch-row"][data-batch="{own.id}"]')
    expect(row.get_by_test_id("stage")).to_have_text("撤回")
    page.get_by_label("状态", exact=True).select_option("撤回")
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_test_id("batch-row")).to_have_count(1)
    page.get_by_label("状态", exact=True).select_option("")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator(".chart svg").first).to_be_visible()
    screenshot(page, shots, "grants-list")


def test_webgrants_leader_reads_only_and_a_handler_is_refused(page, platform, setup) -> None:
    books = setup.ledger
    found = books.batches(limit=5)
    assert found, "the flow test (or the fixture) leaves batches to read"
    platform.sign_in(page, "leader")
    expect(
        page.get_by_role("navigation", name="主导航").get_by_role("link", name="免申即享")
    ).to_be_visible()
    page.goto(f"{platform.url}/app/grants")
    expect(page.get_by_test_id("batch-row")).to_have_count(len(books.batches(limit=500)))
    expect(page.get_by_role("link", name="提出批次")).to_have_count(0)
    target = found[0]
    page.goto(f"{platform.url}/app/grants/{target.id}")
    expect(page.get_by_test_id("no-actions")).to_be_visible()
    expect(page.get_by_test_id("actions").locator("form")).to_have_count(0)
    expect(page.locator("form[action*='/decision']")).to_have_count(0)
    before = books.counts()
    for path in (f"{target.id}/approve", f"{target.id}/withdraw", f"{target.id}/export"):
        answer = page.request.post(
            f"{platform.url}/app/grants/{path}", form={"csrf_token": _csrf(page), "reason": "x"}
        )
        assert answer.status == 403 and "<html" in answer.text()
    assert books.counts() == before
    # 驾驶舱's 政策触达 reads the grants dashboard: granted per policy beside eligible.
    page.goto(f"{platform.url}/app/dashboard")
    granted = page.get_by_test_id("reach-granted")
    for row in books.dashboard():
        line = granted.locator("tr").filter(has_text=row.policy_title)
        expect(line).to_contain_text(str(row.granted_without_application))
    expect(page.locator(".chart svg").last).to_be_visible()
    page.get_by_role("button", name="退出").click()

    platform.sign_in(page, "hrss")
    expect(
        page.get_by_role("navigation", name="主导航").get_by_role("link", name="免申即享")
    ).to_have_count(0)
    answer = page.goto(f"{platform.url}/app/grants")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_webgrants_bad_input_changes_nothing(page, platform, setup) -> None:
    books = setup.ledger
    platform.sign_in(page, "officer")
    page.goto(f"{platform.url}/app/grants/propose")
    token = _csrf(page)
    before = books.counts()
    post = lambda **data: page.request.post(  # noqa: E731
        f"{platform.url}/app/grants/propose", form=data
    )
    unknown = post(csrf_token=token, policy_id="no-such-policy", period=PERIOD, action="propose")
    assert unknown.status in (404, 422) and "没有政策 no-such-policy" in unknown.text()
    page.set_content(unknown.text())
    expect(page.locator("#policy_id-error")).to_contain_text("没有政策")
    malformed = post(csrf_token=token, policy_id=setup.other, period="20x6", action="propose")
    assert malformed.status == 422
    page.set_content(malformed.text())
    expect(page.locator("#period-error")).to_be_visible()
    days = post(csrf_token=token, policy_id=setup.other, period=PERIOD, notice_days="七")
    assert days.status == 422 and "应为整数" in days.text()
    forged = post(policy_id=setup.other, period=PERIOD, action="propose")  # no CSRF token
    assert forged.status == 403 and "<html" in forged.text()
    objection = page.request.post(
        f"{platform.url}/app/grants/objections/999999/decision",
        form={"csrf_token": token, "outcome": "uphold", "note": "x"},
    )
    assert objection.status == 403  # a 政策管理员 does not decide objections
    assert books.counts() == before

    # In the form itself: a malformed year is refused next to the field, the rest kept.
    page.goto(f"{platform.url}/app/grants/propose")
    page.get_by_label("政策").select_option(setup.policy)
    page.get_by_label("年度").fill("26")
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#period-error")).to_be_visible()
    expect(page.get_by_label("政策")).to_have_value(setup.policy)
    assert books.counts() == before
