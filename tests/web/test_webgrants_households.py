"""家庭政策计算器 in a real browser: a 政策管理员 looks a household up by 户编号 and by a member's
身份证号; each condition shows the members' values, names and 身份证号 are masked, the 一件事 bundles
are listed, and every policy read leaves an audit record naming the web reader."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import expect
from web_helpers import screenshot

pytestmark = pytest.mark.browser

MASKED_ID = re.compile(r"\d{4}\*{10}[0-9Xx]{4}")


@pytest.fixture(scope="module")
def residents(platform, tmp_path_factory) -> Iterator[dict]:
    """Demo residents imported through the data hub into the platform's warehouse."""
    from zhixiang.datahub import import_sources, load_mapping, open_warehouse
    from zhixiang.demo import generate_residents
    from zhixiang.demo.resident_sources import write_resident_extracts

    drawn = generate_residents(300, seed=4, reference=date.today())
    extracts = write_resident_extracts(drawn, tmp_path_factory.mktemp("wg-residents"), seed=4)
    with open_warehouse(platform.app.state.settings.warehouse_url) as wh:
        import_sources(wh, [load_mapping(p) for p in extracts.mappings])
    members = drawn.household_member.to_pylist()
    persons = {p["id_number"]: p for p in drawn.person.to_pylist()}
    by_household: dict[str, list[dict]] = {}
    for m in members:
        by_household.setdefault(m["household_id"], []).append(persons[m["id_number"]])
    household = max(by_household, key=lambda h: len(by_household[h]))
    yield {"household": household, "members": by_household[household]}


def _audit(platform) -> list[dict]:
    from zhixiang.datahub import audit_records, open_warehouse

    with open_warehouse(platform.app.state.settings.warehouse_url) as wh:
        return audit_records(wh, limit=5000).to_pylist()


def test_webgrants_household_calculator_is_masked_and_audited(
    page, platform, shots, residents
) -> None:
    household, members = residents["household"], residents["members"]
    platform.sign_in(page, "officer")
    page.goto(f"{platform.url}/app/policies/calculator")
    page.get_by_role("navigation", name="计算器").get_by_role("link", name="家庭与个人").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("家庭政策计算器")

    page.get_by_role("button", name="查看").click()  # nothing typed: refused next to the field
    expect(page.locator("#household_id-error")).to_contain_text("户编号")
    page.get_by_label("或：家庭成员身份证号").fill("440106199001011230")  # check digit wrong
    page.get_by_role("button", name="查看").click()
    expect(page.locator("#id_number-error")).to_be_visible()

    seen = {a["seq"] for a in _audit(platform)}
    page.get_by_label("或：家庭成员身份证号").fill("")
    page.get_by_label("户编号").fill(household)
    page.get_by_role("button", name="查看").click()
    report = page.get_by_test_id("household-report")
    expect(page.get_by_test_id("household-id")).to_have_text(household)
    expect(page.get_by_test_id("masked")).to_be_visible()
    expect(report.get_by_test_id("verdict").first).to_be_visible()
    expect(report.get_by_test_id("member-values").first).to_be_visible()
    html = page.content()
    assert MASKED_ID.search(page.get_by_test_id("members").inner_text())
    for person in members:
        assert person["id_number"] not in html, "a 身份证号 shows in clear"
        if person.get("name") and len(person["name"]) > 1:
            assert person["name"] not in html, "a name shows in clear"
    screenshot(page, shots, "households-calculator")

    new = [a for a in _audit(platform) if a["seq"] not in seen]
    assert new, "reading a household leaves audit records"
    assert all("web:officer" in a["actor"] and a["entity"] == "person" for a in new)
    assert all(household in (a["detail"] or "") and "脱敏" in a["detail"] for a in new)
    shown = {v.get_attribute("data-policy") for v in report.get_by_test_id("verdict").all()}
    assert {a["purpose"].split(" ")[0] for a in new} == shown

    # By a member's 身份证号: the same household, and the number is not echoed back.
    member = members[-1]["id_number"]
    page.get_by_label("户编号").fill("")
    page.get_by_label("或：家庭成员身份证号").fill(member)
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_test_id("household-id")).to_have_text(household)
    assert member not in page.content()
    expect(page.get_by_label("或：家庭成员身份证号")).to_have_value("")

    page.get_by_label("户编号").fill("H-none-such")
    page.get_by_role("button", name="查看").click()
    expect(page.locator("#household_id-error")).to_contain_text("没有找到")
