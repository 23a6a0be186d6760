"""The new workbench pages: every control labelled, the page reachable by keyboard, and a page's
parts shown only to the roles that may use them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("agent", "/app/insight/alerts"),
        ("agent", "/app/insight/replies/score"),
        ("agent", "/app/ask"),
        ("leader", "/app/dashboard?measure=per10k&district=350206"),
    ],
)
def test_web2_controls_are_labelled_and_reachable_by_keyboard(page, platform, who, path) -> None:
    platform.sign_in(page, who)
    page.goto(platform.url + path)
    assert page.evaluate(UNLABELLED) == []
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到正文")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.keyboard.press("Tab")  # the first control of the page itself comes next
    assert page.evaluate("document.activeElement.closest('main') !== null")


@pytest.mark.parametrize(
    ("who", "sees"),
    [("agent", {"主动发现", "智能咨询", "登记诉求"}), ("dataman", {"数据", "智能咨询"})],
)
def test_web2_the_navigation_offers_what_the_role_may_open(page, platform, who, sees) -> None:
    platform.sign_in(page, who)
    page.goto(platform.url + "/")
    links = set(page.get_by_role("navigation", name="主导航").get_by_role("link").all_inner_texts())
    assert sees <= links
    if who == "dataman":
        assert "主动发现" not in links and "工单" not in links
