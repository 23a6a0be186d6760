"""智能快审 in a real browser: a reviewer opens the queue, sees each condition with its data and
source, is refused without a reason, and decides; the decision is the desk's, with its history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect
from web_helpers import screenshot

pytestmark = pytest.mark.browser

REVIEWER, PASSWORD = "reviewer", "weighs the evidence 6"
POLICY = "invention-patent-grant"  # a 申请审核 policy of the demo


@pytest.fixture(scope="module")
def application(platform) -> Iterator[int]:
    """A reviewer's account, and one application taken at the window (an agent) for an enterprise
    of the demo data; the data hub holds no grant for it yet, so it waits for a person.

    The desk is closed afterwards: while it holds the warehouse open, a batch match in the same
    process cannot attach the warehouse file (DuckDB "Unique file handle conflict"), which the
    later matching test would hit (reported to the review and matching owners)."""
    from zhixiang.access import Principal, PrincipalKind, Role, operator
    from zhixiang.demo import generate_enterprises
    from zhixiang.errors import NotFound
    from zhixiang.review import PENDING
    from zhixiang.web._review import desk

    app = platform.app
    app.state.access.create_user(
        operator("test"),
        REVIEWER,
        PASSWORD,
        [Role.REVIEWER],
        display_name="孙审核",
        department="city-finance",
    )
    agent = Principal(PrincipalKind.USER, "agent", "王坐席", frozenset({Role.AGENT}), "center")
    reviews = desk(SimpleNamespace(app=app))  # type: ignore[arg-type]
    for row in generate_enterprises(1500, 0, reference=date.today()).to_pylist()[200:260]:
        try:
            view = reviews.apply(agent, POLICY, row["credit_code"], note="窗口受理")
        except NotFound:
            continue
        if view.status == PENDING:
            break
    else:
        pytest.skip("no demo enterprise's application waits for a reviewer")
    yield view.id
    reviews.close()
    app.state.review_desk = None


def test_web2_a_reviewer_decides_an_application_with_a_reason(
    page, platform, shots, application
) -> None:
    page.goto(f"{platform.url}/login")
    page.get_by_label("用户名").fill(REVIEWER)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="智能快审").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("智能快审 · 待人工审核")
    card = page.get_by_test_id("application").filter(has_text=f"#{application} ")
    expect(card.get_by_test_id("pending")).not_to_be_empty()
    expect(card.locator("tbody tr").first).to_be_visible()
    screenshot(page, shots, "review-queue")
    card.get_by_text("审核", exact=True).click()
    card.get_by_role("button", name="提交审核结论").click()
    card = page.get_by_test_id("application").filter(has_text=f"#{application} ")
    expect(card.locator(f"#r{application}-reason-error")).to_contain_text("理由")
    expect(card.locator(f"#r{application}-status-error")).to_contain_text("请选择")
    card.get_by_label("结论").select_option("refused")
    card.get_by_label("理由").fill("纳税数据未共享，请企业补充完税证明后再申请。")
    card.get_by_role("button", name="提交审核结论").click()
    expect(page.get_by_role("status")).to_contain_text(f"申请 #{application} 已不予批准")
    page.get_by_role("navigation", name="申请状态").get_by_role("link", name="不予批准").click()
    decided = page.get_by_test_id("application").filter(has_text=f"#{application} ")
    expect(decided).to_contain_text(re.compile("纳税数据未共享"))
