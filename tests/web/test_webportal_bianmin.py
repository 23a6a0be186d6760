"""便民服务: the 家庭政策计算器 answers a typed household (and forgets it), 一件事 groups the answer by
life event, a signed-in citizen sees their own household's bundles (masked, audited), and bad
input is refused with a message next to the field."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect
from web_helpers import screenshot
from webportal_helpers import client_for, csrf

from zhixiang.access import Role, operator
from zhixiang.datahub import audit_log, open_warehouse

CITIZEN_PASSWORD = "my own household 7"


def _audit_count(platform) -> int:
    with open_warehouse(platform.app.state.settings.warehouse_url) as wh:
        return audit_log(wh, limit=100_000).num_rows


@pytest.fixture(scope="module")
def citizen(platform) -> str:
    """Demo residents imported through the data hub, and an account for one member of a household
    of two or more; returns that member's 身份证号."""
    from zhixiang.demo import generate_residents
    from zhixiang.demo.resident_sources import import_resident_sources

    settings = platform.app.state.settings
    residents = generate_residents(300, seed=5, reference=date.today())
    import_resident_sources(settings, residents, seed=5)
    with open_warehouse(settings.warehouse_url) as wh:
        rows = wh.rows(
            "SELECT id_number FROM household_member WHERE household_id IN (SELECT household_id "
            "FROM household_member GROUP BY household_id HAVING count(*) >= 2) ORDER BY id_number"
        )
    id_number = str(rows[0][0])
    platform.app.state.access.create_user(
        operator("test"),
        "citizen-wp",
        CITIZEN_PASSWORD,
        [Role.CITIZEN],
        display_name="居民",
        subject=id_number,
    )
    return id_number


def _fill_member(page, i: int, role: str, age: str, income: str, disability: str = "") -> None:
    page.locator(f"#f-m{i}_role").select_option(role)
    page.locator(f"#f-m{i}_age").fill(age)
    page.locator(f"#f-m{i}_monthly_income").fill(income)
    page.locator(f"#f-m{i}_household_region").select_option("440106")
    page.locator(f"#f-m{i}_residence_region").select_option("440106")
    if disability:
        page.locator(f"#f-m{i}_disability_level").select_option(disability)


@pytest.mark.browser
def test_a_citizen_gets_an_answer_for_a_typed_three_person_household(page, platform, shots) -> None:
    audited = _audit_count(platform)
    page.goto(f"{platform.url}/bianmin/household")
    assert page.get_by_test_id("member-row").count() == 1
    page.get_by_role("button", name="添加家庭成员").click()
    page.get_by_role("button", name="添加家庭成员").click()
    assert page.get_by_test_id("member-row").count() == 3
    _fill_member(page, 0, "申请人", "70", "600")
    _fill_member(page, 1, "配偶", "68", "500", "一级")
    _fill_member(page, 2, "子女", "10", "")  # income not typed: the answer says it is missing
    page.get_by_role("button", name="计算").click()
    report = page.get_by_test_id("household-report")
    expect(report).to_be_visible()  # a form post: waits for the answer page
    verdicts = page.get_by_test_id("household-verdict")
    statuses = {
        (v.get_attribute("data-policy"), v.get_attribute("data-status")) for v in verdicts.all()
    }
    assert ("gz-elderly-transit-free", "eligible") in statuses  # the 70-year-old
    assert ("gz-disability-care", "eligible") in statuses  # the spouse, 一级
    assert ("gz-dibao", "needs_information") in statuses  # the child's income is unknown
    assert "月收入" in page.get_by_test_id("household-missing").inner_text()
    screenshot(page, shots, "webportal-household")
    # The child's income typed: 低保 can now be decided.
    page.locator("#f-m2_monthly_income").fill("0")
    page.get_by_role("button", name="计算").click()
    dibao = page.locator('[data-testid="household-verdict"][data-policy="gz-dibao"]')
    expect(dibao).to_have_attribute("data-status", "eligible")  # the new answer, not the old page
    assert _audit_count(platform) == audited  # typed facts read no one's data

    page.goto(f"{platform.url}/bianmin/events")
    page.get_by_role("button", name="添加家庭成员").click()
    page.get_by_role("button", name="添加家庭成员").click()
    _fill_member(page, 0, "申请人", "70", "600")
    _fill_member(page, 1, "配偶", "68", "500", "一级")
    _fill_member(page, 2, "子女", "10", "0")
    page.get_by_role("button", name="查看一件事").click()
    bundles = page.get_by_test_id("typed-bundles").get_by_test_id("bundle")
    expect(bundles.first).to_be_visible()  # a form post: waits for the answer page
    events = {b.get_attribute("data-event") for b in bundles.all()}
    assert {"养老", "残疾", "救助"} <= events
    assert "下一步" in bundles.first.inner_text()
    screenshot(page, shots, "webportal-events")


def test_member_rows_are_added_and_removed_without_javascript(platform) -> None:
    client, token = client_for(platform)
    two = client.post(
        "/bianmin/household",
        data={"csrf_token": token, "m0_role": "申请人", "m0_age": "40", "add": "1"},
    )
    assert two.status_code == 200 and two.text.count('data-testid="member-row"') == 2
    assert 'data-testid="household-report"' not in two.text
    one = client.post(
        "/bianmin/household",
        data={
            "csrf_token": token,
            "m0_role": "申请人",
            "m0_age": "40",
            "m1_role": "子女",
            "m1_age": "9",
            "remove": "0",
        },
    )
    assert one.text.count('data-testid="member-row"') == 1
    assert re.search(r'id="f-m0_age"[^>]*value="9"', one.text), "row 1 did not move up"


def test_household_forms_refuse_bad_input_and_store_nothing(platform) -> None:
    audited = _audit_count(platform)
    client, token = client_for(platform)

    def post(path: str = "/bianmin/household", **data: str):
        return client.post(path, data={"csrf_token": token, **data})

    empty = post()
    assert empty.status_code == 422 and "请选择家庭角色" in empty.text
    huge = post(m0_role="申请人", m0_age="长" * 300)
    assert huge.status_code == 422 and "过长" in huge.text
    for field, value in (("m0_age", "abc"), ("m0_monthly_income", "很多"), ("m0_owned_area", "-3")):
        wrong = post(m0_role="申请人", **{field: value})
        assert wrong.status_code == 422, (field, wrong.text[-500:])
        assert f'id="f-{field}"' in wrong.text and 'aria-invalid="true"' in wrong.text
    region = post(m0_role="申请人", m0_household_region="999999")
    assert region.status_code == 422 and "不是可选的值" in region.text
    script = post(
        "/bianmin/events", m0_role="申请人", m0_monthly_income="<script>alert(1)</script>"
    )
    assert script.status_code == 422
    assert "<script>alert(1)</script>" not in script.text and "&lt;script&gt;" in script.text
    two_heads = post(m0_role="申请人", m1_role="申请人")
    assert two_heads.status_code == 422 and "只有一名申请人" in two_heads.text
    future = post(m0_role="申请人", m0_birth_date="2999-01-01")
    assert future.status_code == 422 and "不能晚于" in future.text
    no_token = client.post("/bianmin/household", data={"m0_role": "申请人"})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    assert _audit_count(platform) == audited


@pytest.mark.browser
def test_a_signed_in_citizen_sees_their_own_households_bundles_masked_and_audited(
    page, platform, citizen, shots
) -> None:
    audited = _audit_count(platform)
    page.goto(f"{platform.url}/login")
    page.get_by_label("用户名").fill("citizen-wp")
    page.get_by_label("密码").fill(CITIZEN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    page.goto(f"{platform.url}/bianmin/events")
    own = page.get_by_test_id("own-household")
    assert own.is_visible(), page.locator("main").inner_text()[:600]
    text = own.inner_text()
    assert citizen not in text and (citizen[:4] + "*" * 10 + citizen[-4:]) in text
    assert own.get_by_test_id("bundle").count() + own.get_by_test_id("no-bundles").count() >= 1
    assert _audit_count(platform) > audited  # one record per resident policy read
    screenshot(page, shots, "webportal-events-own")


def test_own_household_needs_a_citizen_account(platform) -> None:
    client, _ = client_for(platform)
    page = client.get("/bianmin/events")
    assert page.status_code == 200 and 'data-testid="own-household"' not in page.text
    assert csrf(page.text)


UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/bianmin/household", "/bianmin/events"])
def test_the_household_pages_fit_a_phone_and_label_every_control(browser, platform, path) -> None:
    phone = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    tab = phone.new_page()
    tab.goto(platform.url + path)
    tab.get_by_role("button", name="添加家庭成员").click()  # two member rows
    assert tab.get_by_test_id("member-row").count() == 2
    assert tab.evaluate("document.documentElement.scrollWidth") <= 360, "the page scrolls sideways"
    assert tab.evaluate(UNLABELLED) == []
    for box in tab.locator("button:visible, select:visible, input[type=text]:visible").all():
        assert box.bounding_box()["height"] >= 40, "a control too small to tap"
    phone.close()
