"""Hostile and broken input on every form: a message on the page, never a 500, nothing stored changed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from web_helpers import PASSWORDS, STREET, csrf_of, everyone

pytestmark = pytest.mark.browser

SCRIPT = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def _count(platform) -> int:
    from zhixiang.tickets import SearchFilters

    return len(platform.tickets.search(everyone(), SearchFilters(limit=500)))


def test_intake_refuses_empty_and_oversized_input_next_to_the_field(page, platform) -> None:
    platform.sign_in(page, "agent")
    before = _count(platform)
    page.goto(platform.url + "/app/tickets/new")
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.locator("#title-error")).to_contain_text("必填")
    expect(page.locator("#body-error")).to_contain_text("必填")
    expect(page.get_by_label("诉求标题")).to_have_attribute("aria-invalid", "true")
    page.evaluate(
        "document.querySelectorAll('[maxlength]').forEach(e => e.removeAttribute('maxlength'))"
    )
    page.get_by_label("诉求标题").fill("长" * 300)
    page.get_by_label("诉求内容").fill("内容")
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.locator("#title-error")).to_contain_text("200")
    expect(page.get_by_label("诉求内容")).to_have_value("内容")  # what was typed is kept
    page.get_by_label("诉求标题").fill("标题")
    page.get_by_label("联系电话或邮箱").fill("not a phone")
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.locator("#reporter_contact-error")).to_contain_text("联系方式")
    assert _count(platform) == before


def test_stored_script_is_shown_as_text_on_every_page(page, platform, browser) -> None:
    page.goto(platform.url + "/bianmin/report")
    page.get_by_label("问题简述").fill(SCRIPT[:150])
    page.get_by_label("详细情况").fill(SCRIPT)
    page.get_by_label("所在区", exact=True).select_option("350203")
    page.get_by_role("button", name="提交").click()
    code = page.get_by_test_id("tracking-code").inner_text()
    expect(page.get_by_role("heading", level=2)).to_contain_text("<script>")
    assert page.evaluate("window.pwned") is None
    staff = browser.new_context().new_page()
    platform.sign_in(staff, "agent")
    ticket = platform.tickets.by_token(code)
    staff.goto(f"{platform.url}/app/tickets/{ticket.id}")
    expect(staff.locator(".body")).to_have_text(SCRIPT)
    staff.goto(platform.url + "/app/tickets?q=script")
    expect(staff.get_by_role("cell", name=re.compile("<script>")).first).to_be_visible()
    assert staff.evaluate("window.pwned") is None
    staff.context.close()


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(page, platform) -> None:
    platform.sign_in(page, "agent")
    before = _count(platform)
    response = page.request.post(
        platform.url + "/app/tickets/new",
        form={"title": "伪造的请求", "body": "来自别的网站", "district": "350203"},
    )
    assert response.status == 403
    assert "CSRF" in response.text()
    anonymous = page.context.browser.new_context()
    answer = anonymous.request.post(
        platform.url + "/bianmin/report", form={"title": "无令牌", "body": "无令牌"}
    )
    assert answer.status == 403 and "刷新页面" in answer.text()
    anonymous.close()
    page.goto(platform.url + "/app/tickets/new")
    page.get_by_label("诉求标题").fill("令牌被篡改")
    page.get_by_label("诉求内容").fill("令牌被篡改")
    page.evaluate("document.querySelector('form.intake input[name=csrf_token]').value = 'forged'")
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("CSRF")
    assert _count(platform) == before


def test_an_expired_session_sends_the_form_back_to_sign_in_and_stores_nothing(
    page, platform
) -> None:
    from zhixiang.access import AccessStore
    from zhixiang.api._auth import SESSION_COOKIE

    access = platform.app.state.access
    stale = AccessStore(
        str(access.engine.url),
        clock=lambda: datetime.now(UTC).replace(tzinfo=None) - timedelta(days=2),
    )
    signed = stale.sign_in("agent", PASSWORDS["agent"])
    stale.close()
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": signed.token, "url": platform.url}])
    before = _count(platform)
    page.goto(platform.url + "/bianmin/report")  # a public page still works with a stale cookie
    response = page.request.post(
        platform.url + "/app/tickets/new",
        form={"title": "过期会话", "body": "过期会话", "csrf_token": signed.csrf_token},
    )
    assert response.status == 200 and response.url.startswith(platform.url + "/login")
    assert "已过期" in response.text()
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": signed.token, "url": platform.url}])
    page.goto(platform.url + "/app/tickets/new")
    expect(page).to_have_url(re.compile(r"/login\?next=/app/tickets/new"))
    expect(page.get_by_role("alert")).to_contain_text("已过期")
    assert _count(platform) == before


def test_the_report_form_refuses_a_photo_that_is_not_one(page, platform, tmp_path) -> None:
    before = _count(platform)
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(b"MZ\x90\x00 this is a program, not a photo")
    page.goto(platform.url + "/bianmin/report")
    page.get_by_label("问题简述").fill("附了假照片")
    page.get_by_label("详细情况").fill("附了假照片")
    page.get_by_label("所在区", exact=True).select_option("350203")
    page.get_by_label("街道/镇").select_option(STREET)
    page.get_by_label("照片（可选）").set_input_files(str(fake))
    page.get_by_role("button", name="提交").click()
    expect(page.locator("#photo-error")).to_contain_text("JPEG")
    assert _count(platform) == before
    assert csrf_of(page.content())
