"""The pages in a real browser (Debian chromium through Playwright), as the people they serve use them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from web_helpers import PASSWORDS, SEEDED, STREET, everyone, screenshot

pytestmark = pytest.mark.browser


def test_sign_in_out_and_a_handler_sees_only_their_department(page, platform, shots) -> None:
    page.goto(platform.url + "/")
    expect(page.get_by_role("link", name="企业服务").first).to_be_visible()
    screenshot(page, shots, "home")
    page.goto(platform.url + "/app/tickets")
    expect(page).to_have_url(re.compile(r"/login\?next=/app/tickets"))
    expect(page.get_by_role("alert")).to_contain_text("请先登录")
    screenshot(page, shots, "login")
    page.get_by_label("用户名").fill("hrss")
    page.get_by_label("密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#password-error")).to_contain_text("用户名或密码不正确")
    page.get_by_label("密码").fill(PASSWORDS["hrss"])
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/app/tickets$"))  # back where they were sent away
    expect(page.get_by_role("navigation", name="主导航")).not_to_contain_text("数据")
    page.goto(platform.url + "/app/queues/city-housing")
    expect(page.get_by_role("heading", level=1)).to_have_text("无权访问")
    expect(page.get_by_role("alert")).to_contain_text("本部门")
    page.goto(platform.url + "/app/queues")
    expect(page).to_have_url(re.compile(r"/app/queues/city-hrss$"))
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("alert")).to_contain_text("已退出")
    page.goto(platform.url + "/app/queues/city-hrss")
    expect(page).to_have_url(re.compile(r"/login"))


def test_a_call_from_intake_to_the_citizens_rating(page, platform, shots, browser) -> None:
    """Agent: intake with a duplicate warning, dispatch. Handler: sign, extend, resolve.
    Citizen: sees the reply by tracking code and rates it; the rating is the ticket's 回访."""
    platform.sign_in(page, "agent")
    page.goto(platform.url + "/app/tickets/new")
    title, body = SEEDED[0]
    page.get_by_label("诉求标题").fill("装修公司拖欠工资")
    page.get_by_label("诉求内容").fill(body.replace("三个月", "两个多月"))
    page.get_by_label("所在区").select_option("350203")
    expect(page.locator(f"#f-street option[value='{STREET}']")).to_have_count(1)
    page.get_by_label("街道/镇").select_option(STREET)
    page.get_by_label("联系电话或邮箱").fill("13912345678")
    suggestion = page.locator("#suggestion")
    expect(suggestion.get_by_test_id("suggested-category")).to_have_text("劳动和社会保障")
    expect(suggestion.get_by_test_id("confidence")).to_have_text(re.compile(r"\d+%"))
    expect(suggestion.get_by_test_id("duplicate").first).to_contain_text(title)
    expect(suggestion.get_by_role("button", name="并入此单").first).to_be_visible()
    screenshot(page, shots, "intake")
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_test_id("status")).to_have_text("已受理(待派单)")
    ticket_url = page.url.split("?")[0]
    token = platform.tickets.get(everyone(), int(ticket_url.rsplit("/", 1)[1])).token

    page.get_by_test_id("action-dispatch").click()
    page.locator("details[open] select[name=department]").select_option("city-hrss")
    page.locator("details[open]").get_by_role("button", name="派单").click()
    expect(page.get_by_test_id("status")).to_have_text("已派单(待签收)")
    expect(page.get_by_test_id("department")).to_have_text(re.compile("人力资源和社会保障局$"))

    handler = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    platform.sign_in(handler, "hrss")
    handler.goto(platform.url + "/app/queues/city-hrss")
    expect(
        handler.get_by_role("link", name=ticket_url.rsplit("/", 1)[1], exact=True)
    ).to_be_visible()
    screenshot(handler, shots, "queue")
    handler.goto(ticket_url)
    handler.get_by_test_id("action-sign").click()
    handler.locator("details[open]").get_by_role("button", name="签收").click()
    expect(handler.get_by_test_id("status")).to_have_text("已签收")
    before = handler.get_by_test_id("deadline").inner_text()
    handler.get_by_test_id("action-extend").click()
    box = handler.locator("details[open]")
    box.get_by_role("button", name="延期").click()  # no reason, no days: refused next to the fields
    expect(handler.locator("#extend-reason-error")).to_contain_text("理由")
    box = handler.locator("details[open]")
    box.get_by_label("理由").fill("需要现场核查用工合同")
    box.get_by_label("延期工作日数").fill("3")
    box.get_by_role("button", name="延期").click()
    expect(handler.get_by_test_id("deadline")).to_contain_text("已延期 1 次")
    assert handler.get_by_test_id("deadline").inner_text() != before
    handler.get_by_test_id("action-resolve").click()
    handler.locator("details[open]").get_by_label("答复意见").fill("已责令公司于本周内结清工资。")
    handler.locator("details[open]").get_by_role("button", name="答复/办结").click()
    expect(handler.get_by_test_id("status")).to_have_text("已答复/办结")
    screenshot(handler, shots, "ticket")
    handler.context.close()

    citizen = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    citizen.goto(platform.url + "/bianmin/track")
    citizen.get_by_label("查询码").fill(token)
    citizen.get_by_role("button", name="查询").click()
    expect(citizen.get_by_test_id("citizen-status")).to_have_text("已答复/办结")
    expect(citizen.get_by_test_id("citizen-reply")).to_have_text("已责令公司于本周内结清工资。")
    citizen.get_by_role("button", name="提交评价").click()  # nothing chosen: refused per field
    expect(citizen.locator("#satisfaction-error")).to_contain_text("请选择")
    citizen.get_by_label("承办单位是否联系过您").select_option("yes")
    citizen.get_by_label("问题是否解决").select_option("yes")
    citizen.get_by_label("满意度").select_option("satisfied")
    citizen.get_by_role("button", name="提交评价").click()
    expect(citizen.get_by_test_id("citizen-status")).to_have_text("已回访")
    expect(citizen.get_by_test_id("rated")).to_be_visible()
    citizen.context.close()
    follow_ups = platform.tickets.get(everyone(), int(ticket_url.rsplit("/", 1)[1])).follow_ups
    assert [f.satisfaction for f in follow_ups] == ["satisfied"]


def test_a_citizen_reports_a_problem_from_a_phone(page, platform, shots, browser) -> None:
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    phone.goto(platform.url + "/bianmin/report")
    phone.get_by_label("问题简述").fill("湖里区某小区路灯不亮")
    phone.get_by_label("详细情况").fill("小区门口两盏路灯坏了一个多星期，晚上很黑。")
    expect(phone.get_by_test_id("citizen-category")).not_to_be_empty()
    expect(phone.locator("#pick-map svg path").first).to_be_attached()
    phone.get_by_label("所在区", exact=True).select_option("350206")
    expect(phone.locator("#f-street option")).not_to_have_count(1)
    screenshot(phone, shots, "bianmin-report")
    phone.get_by_role("button", name="提交").click()
    code = phone.get_by_test_id("tracking-code").inner_text()
    assert re.fullmatch(r"[0-9a-f]{32}", code)
    expect(phone.get_by_test_id("citizen-status")).to_have_text("已受理(待派单)")
    screenshot(phone, shots, "bianmin-track")
    phone.context.close()


def test_a_policy_officer_runs_matching_and_opens_a_near_miss_list(page, platform, shots) -> None:
    platform.sign_in(page, "officer")
    page.goto(platform.url + "/app/policies")
    page.get_by_role("link", name="外贸出口奖励").click()
    expect(page.get_by_test_id("check-result")).to_have_text("全部通过")
    screenshot(page, shots, "policy")
    page.goto(platform.url + "/app/policies/match")
    page.get_by_role("button", name="开始匹配").click()
    expect(page.locator("progress")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("匹配完成"))).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("match-results").locator("tbody tr")).not_to_have_count(0)
    screenshot(page, shots, "match")
    page.get_by_test_id("match-results").get_by_role(
        "row", name=re.compile("外贸出口奖励")
    ).get_by_test_id("near-miss-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("差一项")
    rows = page.get_by_test_id("result-table").locator("tbody tr")
    expect(rows).not_to_have_count(0)
    expect(rows.first).to_contain_text(re.compile("出口|纳税信用"))
    page.get_by_role("button", name="未满足的条件").click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    page.get_by_role("navigation", name="名单").get_by_role("link", name="符合条件").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("符合条件")
    page.get_by_label("排序", exact=True).select_option("amount")
    page.get_by_label("倒序").check()
    page.get_by_role("button", name="排序").click()
    # all_inner_texts does not wait: wait for the sorted page before reading it
    expect(page).to_have_url(re.compile(r"order=amount.*desc=true"))
    amount_cells = page.get_by_test_id("result-table").locator("tbody tr td:nth-child(5)")
    expect(amount_cells).not_to_have_count(0)
    expect(amount_cells.first).not_to_have_text("—")


def test_the_calculator_answers_for_typed_facts(page, platform, shots) -> None:
    page.goto(platform.url + "/qiye/calculator")
    page.get_by_label("出口额（万元）").fill("2000")
    page.get_by_label("纳税信用等级").select_option("A")
    page.get_by_role("button", name="计算").click()
    verdict = page.locator("[data-policy=export-award]")
    expect(verdict).to_contain_text("符合")
    expect(verdict).to_contain_text("10万元")
    screenshot(page, shots, "qiye-calculator")
    page.get_by_label("出口额（万元）").fill("很多")
    page.get_by_role("button", name="计算").click()
    expect(page.locator("#f_export_value-error, [id$=-error]").first).to_contain_text("出口额")


def test_the_dashboard_and_map_draw_the_data(page, platform, shots) -> None:
    platform.sign_in(page, "leader")
    page.goto(platform.url + "/app/dashboard")
    count = int(page.get_by_test_id("ticket-count").inner_text())
    assert count >= len(SEEDED)
    map_paths = page.locator(".chart[data-map] svg path")
    expect(map_paths.nth(5)).to_be_attached()  # six districts drawn
    expect(page.locator(".chart[data-map] svg text", has_text="思明区").first).to_be_attached()
    bars = page.locator(".chart:not([data-map]) svg path")
    expect(bars.nth(10)).to_be_attached()  # more than ten bars and lines drawn
    screenshot(page, shots, "dashboard")
    page.get_by_role("link", name="思明区").click()
    expect(page.get_by_role("heading", name=re.compile("思明区 各街道"))).to_be_visible()
    expect(
        page.locator(".chart:not([data-map]) svg text", has_text="中华街道").first
    ).to_be_attached()


def test_an_agent_merges_a_repeated_call_into_the_open_ticket(page, platform) -> None:
    platform.sign_in(page, "agent")
    page.goto(platform.url + "/app/tickets/new")
    title, body = SEEDED[1]
    page.get_by_label("诉求标题").fill(title)
    page.get_by_label("诉求内容").fill(body)
    page.get_by_label("所在区").select_option("350203")
    page.get_by_label("街道/镇").select_option("350203005")
    duplicate = page.locator("#suggestion").get_by_test_id("duplicate").first
    expect(duplicate).to_contain_text(title)
    primary = re.search(r"#(\d+)", duplicate.inner_text()).group(1)
    duplicate.get_by_role("button", name="并入此单").click()
    expect(page.get_by_role("status")).to_contain_text(f"并入工单 {primary}")
    expect(page.get_by_role("link", name=f"#{primary}")).to_be_visible()


def test_a_data_officer_sees_sources_quality_and_the_audit_chain(page, platform, shots) -> None:
    platform.sign_in(page, "dataman")
    page.goto(platform.url + "/app/data")
    expect(page.get_by_role("heading", level=1)).to_have_text("数据源与导入")
    assert page.locator("tbody tr").count() >= 4  # the demo's departments' extracts
    screenshot(page, shots, "data")
    page.get_by_role("link", name="数据质量").click()
    expect(page).to_have_url(re.compile("/app/data/quality"))
    expect(page.locator("tbody tr")).not_to_have_count(0)
    page.get_by_role("link", name="审计日志").click()
    expect(page.get_by_test_id("audit-verify")).to_contain_text("审计链校验")


def test_a_citizen_asks_a_policy_question_and_sees_the_clause_quoted(page, platform, shots) -> None:
    from zhixiang.config import load_settings

    if not (load_settings().shared_data_dir / "policy_texts").exists():
        pytest.skip("no shared policy texts (../shared/data/policy_texts): the library is empty")
    page.goto(platform.url + "/bianmin/ask")
    page.get_by_role("button", name="提问").click()
    expect(page.locator("#question-error")).to_contain_text("请输入问题")
    page.get_by_label("您的问题").fill("失业保险金能领多久？")
    page.get_by_role("button", name="提问").click()
    answer = page.get_by_test_id("answer")
    expect(answer).to_be_visible()
    citation = answer.get_by_test_id("citation").first
    expect(citation).to_contain_text("《")
    expect(citation).to_contain_text(re.compile("有效|失效|废止|取代|施行"))
    screenshot(page, shots, "bianmin-ask")


UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/login"),
        (None, "/bianmin/report"),
        (None, "/bianmin/track"),
        (None, "/qiye/calculator"),
        ("agent", "/app/tickets/new"),
        ("agent", "/app/tickets"),
        ("officer", "/app/policies/calculator"),
        ("leader", "/app/dashboard"),
    ],
)
def test_every_control_has_a_label_and_the_page_is_reachable_by_keyboard(
    page, platform, who, path
) -> None:
    if who:
        platform.sign_in(page, who)
    page.goto(platform.url + path)
    assert page.evaluate(UNLABELLED) == []
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到正文")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/bianmin",
        "/bianmin/report",
        "/bianmin/track",
        "/bianmin/ask",
        "/qiye",
        "/qiye/calculator",
    ],
)
def test_the_public_pages_fit_a_phone_screen(browser, platform, path) -> None:
    phone = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    tab = phone.new_page()
    tab.goto(platform.url + path)
    assert tab.evaluate("document.documentElement.scrollWidth") <= 360, "the page scrolls sideways"
    for box in tab.locator("button:visible, select:visible, input[type=text]:visible").all():
        assert box.bounding_box()["height"] >= 40, "a control too small to tap"
    phone.close()
