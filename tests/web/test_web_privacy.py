"""The page layer's own privacy and safety rules, each with a test that fails without it."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from web_helpers import PASSWORDS, csrf_of, everyone

from zhixiang.web._export import export


def _jpeg_with_location() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (24.0, 27.0, 0.0), 3: "E", 4: (118.0, 5.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_a_reported_photo_is_kept_without_its_exif_location(platform) -> None:
    from PIL import Image

    photo = _jpeg_with_location()
    with Image.open(io.BytesIO(photo)) as sent:
        assert sent.getexif(), "the test photo carries EXIF"
    client = TestClient(platform.app, base_url="http://127.0.0.1", follow_redirects=False)
    csrf = csrf_of(client.get("/bianmin/report").text)
    answer = client.post(
        "/bianmin/report",
        data={
            "csrf_token": csrf,
            "title": "井盖缺失",
            "body": "人行道井盖缺失",
            "district": "350206",
        },
        files={"photo": ("p.jpg", io.BytesIO(photo), "image/jpeg")},
    )
    assert answer.status_code == 303, answer.text[-500:]
    code = answer.headers["location"].split("code=")[1].split("&")[0]
    ticket = platform.tickets.by_token(code)
    content_type, data = platform.tickets.media(everyone(), ticket.id, 1)
    assert content_type == "image/jpeg"
    with Image.open(io.BytesIO(data)) as kept:
        assert dict(kept.getexif()) == {}
        assert kept.size == (64, 48)


def test_an_export_never_hands_a_formula_to_a_spreadsheet() -> None:
    rows = [{"title": '=HYPERLINK("http://evil")', "body": "+1", "ok": "路灯不亮"}]
    columns = [("title", "标题"), ("body", "内容"), ("ok", "说明")]
    text = export(rows, columns, "工单", "csv").body.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+1" in text and ",路灯不亮" in text
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(export(rows, columns, "工单", "xlsx").body))
    cells = [c.value for c in next(book.active.iter_rows(min_row=2))]
    assert cells[0].startswith("'=") and book.active["A2"].data_type == "s"


def test_the_staff_calculator_reads_stored_facts_only_under_grants(platform) -> None:
    """A department with no grant must not see another department's internal fields (营业收入 …)
    through the staff calculator: they are withheld and read as unknown, as in the API."""
    from datetime import date

    from starlette.requests import Request

    from zhixiang.access import Principal, PrincipalKind, Role
    from zhixiang.datahub import open_warehouse
    from zhixiang.matching import Calculator, EntityLookup
    from zhixiang.web._capabilities import explain_enterprise, policies

    settings = platform.app.state.settings
    with open_warehouse(settings.warehouse_url) as wh:
        code = (
            wh.arrow(
                "SELECT credit_code FROM enterprise WHERE revenue IS NOT NULL ORDER BY credit_code LIMIT 1"
            )
            .column(0)[0]
            .as_py()
        )
    officer = Principal(
        PrincipalKind.KEY, "t-officer", "陈政策", frozenset({Role.POLICY_ADMIN}), "city-commerce"
    )
    request = Request({"type": "http", "app": platform.app, "headers": []})
    seen = explain_enterprise(request, officer, code, date.today())
    assert seen is not None

    def revenue_values(report) -> set:  # type: ignore[no-untyped-def]
        return {
            value
            for _, verdict in report.verdicts
            for outcome in verdict.conditions
            for field, value in outcome.facts
            if field.name == "revenue"
        }

    lookup = EntityLookup(settings.warehouse_url)
    try:
        stored = Calculator(policies(request).policies, lookup).explain(code, date.today())
    finally:
        lookup.close()
    assert stored is not None and revenue_values(stored) - {None}, "the stored facts hold 营业收入"
    assert revenue_values(seen) == {None}, "营业收入 reached a department without a grant"


def test_the_quality_page_shows_a_withheld_fill_rate_as_a_gap(platform, monkeypatch) -> None:
    """Small counts of a personal field are withheld (its fill rate is None): the page, its chart
    and its export still answer, with a gap where the rate would be."""
    import dataclasses
    import html
    import json
    import re

    import zhixiang.web._data as data_pages
    from zhixiang.datahub import quality_report

    def withheld(wh, *args, **kwargs):
        report = quality_report(wh, *args, **kwargs)
        first = report[0]
        hidden = dataclasses.replace(first.fields[0], filled=None, fill_rate=None, suppressed=True)
        return [dataclasses.replace(first, fields=(hidden, *first.fields[1:])), *report[1:]]

    monkeypatch.setattr(data_pages, "quality_report", withheld)
    client = TestClient(platform.app, base_url="http://127.0.0.1", follow_redirects=False)
    token = csrf_of(client.get("/login").text)
    signed = client.post(
        "/login",
        data={"username": "dataman", "password": PASSWORDS["dataman"], "csrf_token": token},
    )
    assert signed.status_code == 303, signed.text[-300:]
    page = client.get("/app/data/quality")
    assert page.status_code == 200, page.text[-500:]
    chart = re.search(r'data-chart="([^"]*)"', page.text)
    assert chart is not None
    (bars,) = json.loads(html.unescape(chart.group(1)))["series"]
    assert bars["data"][0] is None and len(bars["data"]) > 1
    for format in ("csv", "xlsx"):
        assert client.get(f"/app/data/quality?format={format}").status_code == 200
