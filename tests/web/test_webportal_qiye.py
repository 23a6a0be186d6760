"""企业服务 for a signed-in enterprise: 我的政策 from its own record (audited), 免申即享 notices with
意愿确认 and 异议, applications for 申请审核 policies; another enterprise's lines and applications
stay out of reach, and bad input is refused with a message and changes nothing."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from web_helpers import screenshot
from webportal_helpers import (
    APPLY_POLICY,
    AUTO_POLICY,
    MATCHED_ON,
    PASSWORDS,
    Portal,
    client_for,
    set_up,
)

from zhixiang.datahub import OWN_RECORD_PURPOSE, audit_log, entity_digest, open_warehouse
from zhixiang.grants import open_ledger


@pytest.fixture(scope="module")
def portal(platform) -> Portal:
    return set_up(platform)


def _sign_in(page, platform, username: str) -> None:
    page.goto(f"{platform.url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def _ledger_state(platform, portal: Portal) -> list:
    ledger = open_ledger(platform.app.state.settings.grants_db)
    try:
        lines = [(x.id, x.status) for x in ledger.lines(entity_id=portal.a)]
        lines += [(x.id, x.status) for x in ledger.lines(entity_id=portal.b)]
        batch = ledger.line(portal.lines[portal.a]).batch_id
        return [lines, [(o.id, o.text) for o in ledger.objections(batch)]]
    finally:
        ledger.dispose()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", html)


# -- 我的政策 ---------------------------------------------------------------------------------------


def test_my_policies_read_the_own_record_through_the_hub_and_are_audited(platform, portal) -> None:
    client, _ = client_for(platform, "qiye-a")
    answer = client.get("/qiye/mine")
    assert answer.status_code == 200, answer.text[:500]
    assert 'data-testid="mine-summary"' in answer.text and 'data-testid="verdict"' in answer.text
    with open_warehouse(platform.app.state.settings.warehouse_url) as wh:
        records = audit_log(wh, limit=50).to_pylist()
    mine = [
        r
        for r in records
        if r["purpose"] == OWN_RECORD_PURPOSE and r["actor"].startswith(entity_digest(portal.a))
    ]
    assert mine, "reading 我的政策 left no audit record"
    assert mine[0]["rows"] == 1 and portal.a not in mine[0]["actor"]
    # The page reads a 规上 fact the hub holds: the calculator saw the enterprise's real record.
    assert "规模以上企业" in answer.text


def test_my_policies_are_read_for_the_signed_in_enterprise_only(platform, portal) -> None:
    """The record read is the session's enterprise: a code in the address changes nothing."""

    def own_reads() -> Counter[str]:
        with open_warehouse(platform.app.state.settings.warehouse_url) as wh:
            records = audit_log(wh, limit=10_000).to_pylist()
        return Counter(
            code
            for r in records
            if r["purpose"] == OWN_RECORD_PURPOSE
            for code in (portal.a, portal.b)
            if r["actor"].startswith(entity_digest(code))
        )

    client, _ = client_for(platform, "qiye-a")
    before = own_reads()
    assert client.get("/qiye/mine", params={"code": portal.b}).status_code == 200
    after = own_reads()
    assert after[portal.a] == before[portal.a] + 1 and after[portal.b] == before[portal.b]


# -- 免申即享 notices -------------------------------------------------------------------------------


@pytest.mark.browser
def test_an_enterprise_confirms_a_line_and_objects_in_the_browser(
    page, platform, portal, shots
) -> None:
    _sign_in(page, platform, "qiye-a")
    page.goto(f"{platform.url}/qiye/notices")
    line = page.locator(f'[data-testid="grant-line"][data-line="{portal.lines[portal.a]}"]')
    assert line.get_by_test_id("line-status").inner_text() == "待确认"
    assert page.locator(f'[data-line="{portal.lines[portal.b]}"]').count() == 0
    screenshot(page, shots, "webportal-notices")
    line.get_by_text("意愿确认：确认收款账户").click()
    line.get_by_label("收款单位").fill("甲公司")
    line.get_by_label("开户行").fill("中国银行厦门集美支行")
    line.get_by_label("账号").fill("12")  # too short: refused next to the field
    line.get_by_role("button", name="确认享受").click()
    line = page.locator(f'[data-testid="grant-line"][data-line="{portal.lines[portal.a]}"]')
    expect(line.locator(".field-error").first).to_be_visible()  # a form post: waits for the page
    assert line.get_by_test_id("line-status").inner_text() == "待确认"
    line.get_by_label("收款单位").fill("甲公司")
    line.get_by_label("开户行").fill("中国银行厦门集美支行")
    line.get_by_label("账号").fill("6216612345678901")
    line.get_by_role("button", name="确认享受").click()
    assert page.get_by_test_id("done").inner_text() == "已确认"
    line = page.locator(f'[data-testid="grant-line"][data-line="{portal.lines[portal.a]}"]')
    assert line.get_by_test_id("line-status").inner_text() == "已确认"
    line.get_by_text("提出异议").click()
    line.get_by_label("异议理由").fill("<script>alert(1)</script>新招用人数应为4人")
    line.get_by_role("button", name="提交异议").click()
    assert page.get_by_test_id("done").inner_text() == "异议已提交"
    objection = page.get_by_test_id("objection").first
    assert "<script>alert(1)</script>新招用人数应为4人" in objection.inner_text()
    assert "待处理" in objection.inner_text()
    screenshot(page, shots, "webportal-notices-confirmed")


def test_another_enterprises_line_is_out_of_reach(platform, portal) -> None:
    before = _ledger_state(platform, portal)
    client, token = client_for(platform, "qiye-b")
    theirs = portal.lines[portal.a]
    page = client.get("/qiye/notices")
    assert page.status_code == 200 and f'data-line="{theirs}"' not in page.text
    assert portal.a not in page.text
    for action, data in (
        ("confirm", {"payee": "乙", "bank": "某银行", "account": "6216612345678901"}),
        ("object", {"reason": "不是我的"}),
        ("decline", {"decline_reason": "不是我的"}),
    ):
        answer = client.post(f"/qiye/notices/{theirs}/{action}", data={"csrf_token": token, **data})
        assert answer.status_code == 404, answer.text[:300]
        assert "贵企业没有编号为" in answer.text and portal.a not in answer.text
    assert _ledger_state(platform, portal) == before


def test_an_enterprise_declines_a_confirmation_line(platform, portal) -> None:
    """谢绝享受: a line of its own 意愿确认 batch (another policy, so the shared lines stay as they
    are) becomes 撤销 with the enterprise's words, and the page says so."""
    from zhixiang.access import Principal, PrincipalKind, Role
    from zhixiang.demo import demo_policies_dir
    from zhixiang.rules import load_policies

    policy = load_policies([demo_policies_dir()]).by_id("startup-employment-subsidy")
    assert policy.delivery == "意愿确认"
    ledger = open_ledger(platform.app.state.settings.grants_db)
    try:
        officer = Principal(PrincipalKind.KEY, "wp-officer", roles=frozenset({Role.POLICY_ADMIN}))
        reviewer = Principal(PrincipalKind.KEY, "wp-reviewer", roles=frozenset({Role.REVIEWER}))
        batch = ledger.propose(
            policy, "2026", {portal.b: Decimal("1000")}, officer, run_id="wp", as_of=MATCHED_ON
        ).batch
        ledger.approve(batch.id, reviewer)
        (line,) = ledger.lines(batch.id)
    finally:
        ledger.dispose()
    client, token = client_for(platform, "qiye-b")
    assert f'action="/qiye/notices/{line.id}/decline"' in client.get("/qiye/notices").text
    answer = client.post(
        f"/qiye/notices/{line.id}/decline",
        data={"csrf_token": token, "decline_reason": "<b>今年不需要</b>"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/qiye/notices?done=decline"
    answer = client.get(answer.headers["location"])
    assert "已谢绝" in answer.text
    assert "&lt;b&gt;今年不需要&lt;/b&gt;" in answer.text
    assert f'action="/qiye/notices/{line.id}/decline"' not in answer.text
    ledger = open_ledger(platform.app.state.settings.grants_db)
    try:
        assert ledger.line(line.id).status == "撤销"
    finally:
        ledger.dispose()


def test_notice_forms_refuse_bad_input_and_store_nothing(platform, portal) -> None:
    before = _ledger_state(platform, portal)
    client, token = client_for(platform, "qiye-b")
    line = portal.lines[portal.b]
    post = lambda action, **data: client.post(  # noqa: E731
        f"/qiye/notices/{line}/{action}", data={"csrf_token": token, **data}
    )
    empty = post("object", reason="  ")
    assert empty.status_code == 422 and "必填" in empty.text
    huge = post("object", reason="长" * 5000)
    assert huge.status_code == 422 and "过长" in huge.text
    long_decline = post("decline", decline_reason="长" * 2001)
    assert long_decline.status_code == 422 and "最多 2000 个字符" in long_decline.text
    missing = post("confirm", payee="乙公司", bank="")
    assert missing.status_code == 422 and 'aria-invalid="true"' in missing.text
    wrong = client.post(f"/qiye/notices/abc/{'object'}", data={"csrf_token": token, "reason": "x"})
    assert wrong.status_code == 422 and "text/html" in wrong.headers["content-type"]
    no_token = client.post(f"/qiye/notices/{line}/object", data={"reason": "没有令牌"})
    assert no_token.status_code == 403
    anonymous, public = client_for(platform)
    refused = anonymous.post(
        f"/qiye/notices/{line}/object", data={"csrf_token": public, "reason": "x"}
    )
    assert refused.status_code in (303, 401, 403)
    assert _ledger_state(platform, portal) == before


# -- 申请审核 applications --------------------------------------------------------------------------


@pytest.mark.browser
def test_an_enterprise_applies_with_a_missing_fact_and_sees_it_queued(
    page, platform, portal, shots
) -> None:
    _sign_in(page, platform, "qiye-a")
    page.goto(f"{platform.url}/qiye/apply")
    page.locator(f'a[href="/qiye/apply/{APPLY_POLICY}"]').click()
    # Only the fact the hub does not share is asked; 规模以上企业 (统计局, public) is not.
    expect(page.get_by_label("研发投入占比（%）")).to_have_count(1)  # waits for the form page
    assert page.get_by_label("规模以上企业").count() == 0
    page.get_by_label("研发投入占比（%）").fill("很多")
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator(".field-error").first).to_be_visible()  # a form post: waits for the page
    page.get_by_label("研发投入占比（%）").fill("3.5")
    page.get_by_label("申请说明（可选）").fill("<b>研发</b>投入见年报")
    page.get_by_role("button", name="提交申请").click()
    assert page.get_by_test_id("apply-status").inner_text() == "待人工审核"
    screenshot(page, shots, "webportal-apply")
    page.get_by_role("link", name="查看申请详情和审核历史").click()
    assert page.get_by_test_id("application-status").inner_text() == "待人工审核"
    assert "提交申请" in page.get_by_test_id("history").inner_text()
    assert "<b>研发</b>投入见年报" in page.content().replace("&lt;", "<").replace("&gt;", ">")
    page.goto(f"{platform.url}/qiye/applications")
    rows = page.get_by_test_id("application-row")
    assert rows.count() >= 1
    assert rows.first.get_by_test_id("application-status").inner_text() == "待人工审核"
    screenshot(page, shots, "webportal-applications")


def test_declaring_a_fact_the_hub_holds_is_refused_and_nothing_is_stored(platform, portal) -> None:
    client, token = client_for(platform, "qiye-b")
    page = client.get(f"/qiye/apply/{AUTO_POLICY}")
    assert page.status_code == 200 and 'data-testid="nothing-to-declare"' in page.text
    before = client.get("/qiye/applications").text.count('data-testid="application-row"')
    answer = client.post(
        f"/qiye/apply/{AUTO_POLICY}", data={"csrf_token": token, "d_invention_patents": "9"}
    )
    assert answer.status_code == 422
    assert "无需申报（免证办）" in _text(answer.text)
    for bad in ({"d_no_such_fact": "1"}, {"note": "长" * 5000}):
        refused = client.post(f"/qiye/apply/{AUTO_POLICY}", data={"csrf_token": token, **bad})
        assert refused.status_code == 422, refused.text[:300]
    assert client.post(f"/qiye/apply/{AUTO_POLICY}", data={"note": "无令牌"}).status_code == 403
    assert client.get("/qiye/apply/no-such-policy").status_code == 404
    after = client.get("/qiye/applications").text.count('data-testid="application-row"')
    assert after == before


def test_an_automatic_decision_is_shown_at_once(platform, portal) -> None:
    client, token = client_for(platform, "qiye-b")
    answer = client.post(f"/qiye/apply/{AUTO_POLICY}", data={"csrf_token": token})
    assert answer.status_code == 200, answer.text[:500]
    status = re.search(r'data-testid="apply-status">([^<]+)<', answer.text)
    assert status and status.group(1) in ("批准", "不予批准")
    if status.group(1) == "不予批准":
        assert 'data-testid="failed-condition"' in answer.text
    else:
        assert "元" in answer.text


def test_another_enterprises_application_is_out_of_reach(platform, portal) -> None:
    mine, token = client_for(platform, "qiye-a")
    ids = re.findall(r'href="/qiye/applications/(\d+)"', mine.get("/qiye/applications").text)
    if not ids:  # the browser test did not run on this worker: apply here
        mine.post(f"/qiye/apply/{AUTO_POLICY}", data={"csrf_token": token})
        ids = re.findall(r'href="/qiye/applications/(\d+)"', mine.get("/qiye/applications").text)
    assert ids, "enterprise A has no application"
    other, _ = client_for(platform, "qiye-b")
    assert f'href="/qiye/applications/{ids[0]}"' not in other.get("/qiye/applications").text
    answer = other.get(f"/qiye/applications/{ids[0]}")
    assert answer.status_code in (403, 404)
    assert portal.a not in answer.text and "审核历史" not in answer.text
    anonymous, _ = client_for(platform)
    assert anonymous.get(f"/qiye/applications/{ids[0]}").status_code == 303


UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


@pytest.mark.browser
@pytest.mark.parametrize(
    "path", ["/qiye/mine", "/qiye/notices", f"/qiye/apply/{APPLY_POLICY}", "/qiye/applications"]
)
def test_the_enterprise_pages_fit_a_phone_and_label_every_control(
    browser, platform, portal, path
) -> None:
    phone = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    tab = phone.new_page()
    _sign_in(tab, platform, "qiye-b")
    tab.goto(platform.url + path)
    assert tab.locator("h1").count() == 1
    assert tab.evaluate("document.documentElement.scrollWidth") <= 360, "the page scrolls sideways"
    assert tab.evaluate(UNLABELLED) == []
    phone.close()
