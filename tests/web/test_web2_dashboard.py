"""驾驶舱's 一图掌握 map by each measure, 差一项 by closeness and 即将符合, and 智能咨询 in the
workbench, in a real browser."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from web_helpers import screenshot

from zhixiang.web._regions import DISTRICT_POPULATION_10K

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def match_run(platform):
    """A published match run (the demo enterprises against the demo policies), as the 政策 page
    starts one: the map's 政策触达 measures read it."""
    from zhixiang.demo import demo_policies_dir
    from zhixiang.errors import NotFound
    from zhixiang.matching import load_run, run_matching
    from zhixiang.rules import load_policies

    settings = platform.app.state.settings
    try:
        return load_run(settings.results_dir)
    except NotFound:
        policies = load_policies([settings.policies_dir or demo_policies_dir()]).policies
        today = date.today()
        in_force = [p for p in policies if p.in_force(today)]
        return run_matching(
            settings.warehouse_url, in_force, today, results_dir=settings.results_dir
        )


def _map_values(page) -> dict[str, float]:
    cells = page.get_by_test_id("map-table").locator("tbody tr")
    return {
        row.locator("td").first.inner_text(): float(row.locator("td").nth(1).inner_text())
        for row in cells.all()
    }


def test_web2_a_leader_colours_the_map_by_each_measure(page, platform, shots, match_run) -> None:
    platform.sign_in(page, "leader")
    page.goto(platform.url + "/app/dashboard")
    counts = _map_values(page)
    expect(page.get_by_test_id("insight-panel")).to_contain_text("待处理预警")
    page.get_by_label("地图指标").select_option("per10k")
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("heading", name="一图掌握：每万人工单数")).to_be_visible()
    per10k = _map_values(page)
    assert set(per10k) == set(counts) and len(counts) == 6
    for name, count in counts.items():  # the same tickets over each district's population
        assert (per10k[name] > 0) == (count > 0)
    assert per10k["翔安区"] * DISTRICT_POPULATION_10K["350213"] == pytest.approx(
        counts["翔安区"], abs=0.5
    )

    page.get_by_label("地图指标").select_option("eligible")
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("heading", name="一图掌握：符合政策企业数")).to_be_visible()
    eligible = _map_values(page)
    assert sum(eligible.values()) > 0
    largest = max(match_run.policies, key=lambda p: p.eligible)
    assert max(eligible.values()) <= match_run.entities
    assert sum(eligible.values()) >= largest.eligible  # every eligible enterprise has a district
    expect(page.locator(".chart[data-map] svg path").first).to_be_attached()
    screenshot(page, shots, "dashboard-eligible")
    busiest = max(eligible, key=eligible.get)
    page.get_by_test_id("map-table").get_by_role("link", name=busiest).click()
    expect(page.get_by_role("heading", name=re.compile(f"{busiest} 各项政策"))).to_be_visible()
    expect(page.locator(".chart:not([data-map]) svg text").first).to_be_attached()


def test_web2_a_handler_has_no_policy_measures(page, platform) -> None:
    platform.sign_in(page, "hrss")
    page.goto(platform.url + "/app/dashboard")
    options = page.get_by_label("地图指标").locator("option").all_inner_texts()
    assert "每万人工单数" in options and "符合政策企业数" not in options
    page.goto(platform.url + "/app/dashboard?measure=eligible")
    expect(page.get_by_role("heading", level=1)).to_have_text("无权访问")
    expect(page.get_by_role("alert")).to_contain_text("查看匹配汇总")


def test_web2_an_agent_asks_on_a_call_and_sees_the_clause(page, platform, shots) -> None:
    from zhixiang.config import load_settings

    if not (load_settings().shared_data_dir / "policy_texts").exists():
        pytest.skip("no shared policy texts (../shared/data/policy_texts): the library is empty")
    platform.sign_in(page, "agent")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="智能咨询").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("智能咨询")
    page.get_by_role("textbox", name="问题").fill("失业保险金能领多久？")
    page.get_by_label("面向").select_option("居民")
    page.get_by_role("button", name="提问").click()
    citation = page.get_by_test_id("answer").get_by_test_id("citation").first
    expect(citation).to_contain_text("《")
    expect(citation).to_contain_text(re.compile("有效|失效|废止|取代|施行"))
    screenshot(page, shots, "staff-ask")


def test_web2_an_officer_sees_how_close_and_who_qualifies_soon(page, platform, match_run) -> None:
    """差一项 ranked by closeness, and 即将符合 with the day each enterprise qualifies."""
    from zhixiang.matching import open_results

    with open_results(platform.app.state.settings.results_dir) as results:
        near = results.near_misses(limit=1)
        soon = results.upcoming(90, limit=1)
    if not near:
        pytest.skip("the demo run has no near-miss")
    platform.sign_in(page, "officer")
    page.goto(f"{platform.url}/app/policies/{near[0].policy_id}/results?kind=near_miss")
    page.get_by_label("排序", exact=True).select_option("closeness")
    page.get_by_label("倒序").check()
    page.get_by_role("button", name="排序").click()
    expect(page).to_have_url(
        re.compile(r"order=closeness.*desc=true")
    )  # all_inner_texts does not wait
    expect(page.get_by_test_id("closeness")).not_to_have_count(0)
    shown = page.get_by_test_id("closeness").all_inner_texts()
    assert shown and all(re.fullmatch(r"\d+%", c) and int(c[:-1]) >= 80 for c in shown)
    assert [int(c[:-1]) for c in shown] == sorted((int(c[:-1]) for c in shown), reverse=True)
    page.get_by_role("navigation", name="名单").get_by_role("link", name="即将符合").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("即将符合")
    if soon:
        page.goto(f"{platform.url}/app/policies/{soon[0].policy_id}/results?kind=upcoming")
        days = page.get_by_test_id("holds-on").all_inner_texts()
        assert days and days == sorted(days)
        assert date.fromisoformat(days[0]) <= date.fromisoformat(str(match_run.as_of)) + timedelta(
            days=90
        )
