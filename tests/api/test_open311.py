"""Open311 GeoReport v2 under /open311/v2: discovery, services, requests, tokens, JSON/XML, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from zhixiang.access import operator
from zhixiang.api import create_app
from zhixiang.tickets import Command, TicketDraft, TicketStore
from zhixiang.tickets._tables import Ticket

BASE = "/open311/v2"


@pytest.fixture
def client(home: Path) -> Iterator[TestClient]:
    store = TicketStore(f"sqlite:///{home / 'tickets.db'}")
    store.migrate()
    app = create_app(ticket_store=store)
    root = operator("test")
    app.state.intake_key = app.state.access.create_key(root, ["channel"], label="i厦门")[0]
    app.state.agent_key = app.state.access.create_key(
        root, ["agent"], label="坐席", department="center"
    )[0]
    app.state.handler_key = app.state.access.create_key(
        root, ["handler"], label="承办", department="city-environment"
    )[0]
    with TestClient(app) as client:
        yield client
    store.close()


def _post(client: TestClient, fmt: str = "json", headers: dict | None = None, **fields: str):
    data = {
        "api_key": client.app.state.intake_key,
        "service_code": "environment",
        "description": "筼筜湖边餐馆油烟直排，附近居民窗户都不敢开。",
        "address_string": "思明区湖滨北路",
        "attribute[region_code]": "350203008002",
        **fields,
    }
    return client.post(f"{BASE}/requests.{fmt}", data=data, headers=headers or {})


def _count(client: TestClient) -> int:
    store: TicketStore = client.app.state.tickets
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Ticket)).scalar_one()


def test_discovery_and_services_in_json_and_xml(client: TestClient) -> None:
    discovery = client.get(f"{BASE}/discovery.json").json()
    assert discovery["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    services = client.get(f"{BASE}/services.json").json()
    codes = {s["service_code"]: s["service_name"] for s in services}
    assert codes["12345"] == "综合诉求（智能分拨）" and codes["labour"] == "劳动和社会保障"
    xml = ET.fromstring(client.get(f"{BASE}/services.xml").content)
    assert xml.tag == "services" and len(xml.findall("service")) == len(services)
    definition = ET.fromstring(client.get(f"{BASE}/services/urban.xml").content)
    priority = next(a for a in definition.iter("attribute") if a.findtext("code") == "priority")
    assert {v.findtext("key") for v in priority.iter("value")} >= {"emergency", "general"}


def test_post_get_and_token_round_trip(client: TestClient) -> None:
    response = _post(client, "xml", phone="13912345678", **{"attribute[priority]": "emergency"})
    assert response.status_code == 201
    request_id = ET.fromstring(response.content).findtext("request/service_request_id")
    token = ET.fromstring(response.content).findtext("request/token")
    assert client.get(f"{BASE}/tokens/{token}.json").json()[0]["service_request_id"] == request_id
    [ticket] = client.get(f"{BASE}/requests/{request_id}.json").json()
    assert ticket["service_code"] == "environment"
    assert ticket["agency_responsible"] == "厦门市生态环境局思明分局"
    assert ticket["status"] == "open" and "13912345678" not in str(ticket)
    listed = client.get(
        f"{BASE}/requests.json", params={"status": "open", "service_code": "environment"}
    )
    assert [r["service_request_id"] for r in listed.json()] == [request_id]
    assert client.get(f"{BASE}/requests.json", params={"status": "closed"}).json() == []
    by_ids = client.get(f"{BASE}/requests.json", params={"service_request_id": f"{request_id},999"})
    assert [r["service_request_id"] for r in by_ids.json()] == [request_id]


def test_json_body_and_idempotent_retry(client: TestClient) -> None:
    body = {
        "api_key": client.app.state.intake_key,
        "service_code": "transport",
        "description": "BRT 站台电梯停运三天",
        "lat": "24.4798",
        "long": "118.0894",
    }
    first = client.post(f"{BASE}/requests.json", json=body, headers={"Idempotency-Key": "app-77"})
    again = client.post(f"{BASE}/requests.json", json=body, headers={"Idempotency-Key": "app-77"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    assert _count(client) == 1


def test_confidential_requests_hide_text_and_address(client: TestClient) -> None:
    created = _post(client, **{"attribute[confidential]": "true"}).json()[0]
    [public] = client.get(f"{BASE}/requests/{created['service_request_id']}.json").json()
    assert public["description"] == "（诉求人要求保密）" and public["address"] is None


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"service_code": ""}, 400, "service_code"),
        ({"service_code": "ufo"}, 404, "ufo"),
        ({"description": ""}, 400, "description"),
        ({"address_string": "", "attribute[region_code]": ""}, 400, "lat"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour]"),
        ({"attribute[priority]": "yesterday"}, 400, "attribute[priority]"),
        ({"attribute[priority": "general"}, 400, "attribute[priority"),
        ({"attribute[confidential]": "maybe"}, 400, "confidential"),
        ({"attribute[region_code]": "999999"}, 400, "region_code"),
        ({"attribute[grid_id]": "网格/1"}, 400, "grid_id"),
        ({"lat": "north", "long": "118.1"}, 400, "lat"),
        ({"lat": "95", "long": "118.1"}, 400, "lat"),
        ({"api_key": "stolen"}, 403, "api_key"),
        ({"api_key": ""}, 403, "api_key"),
        ({"attribute[region_code]": "350203999"}, 400, "国家行政区划代码表"),
        ({"jurisdiction_id": "beijing"}, 404, "jurisdiction_id"),
        ({"phone": "not a phone"}, 400, "reporter_contact"),
    ],
)
def test_bad_posts_get_open311_errors_and_store_nothing(
    client: TestClient, fields: dict, status: int, words: str
) -> None:
    for fmt in ("json", "xml"):
        response = _post(client, fmt, **fields)
        assert response.status_code == status, response.text
        if fmt == "json":
            [error] = response.json()
            assert error["code"] == status and words in error["description"]
        else:
            error = ET.fromstring(response.content)
            assert error.tag == "errors" and error.findtext("error/code") == str(status)
    assert _count(client) == 0


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/services.yaml", 400),
        ("/services/ufo.json", 404),
        ("/requests/999.json", 404),
        ("/requests/abc.json", 404),
        ("/requests/does-not-exist.json", 404),
        ("/requests/1,2.json", 404),
        ("/requests/-1.xml", 404),
        ("/requests/99999999999999999999.json", 404),
        ("/requests.json?start_date=yesterday", 400),
        ("/requests.json?start_date=0001-01-01T00:00:00", 400),
        ("/requests.json?end_date=9999-12-31T23:59:59", 400),
        ("/requests.json?start_date=9999-12-31T23:59:59%2B14:00", 400),
        ("/requests.json?status=pending", 400),
        ("/requests.json?service_request_id=1;2", 400),
        ("/tokens/nothing.xml", 404),
    ],
)
def test_bad_reads_get_open311_errors(client: TestClient, path: str, status: int) -> None:
    response = client.get(BASE + path)
    assert response.status_code == status, response.text


def test_unparseable_body_is_a_400(client: TestClient) -> None:
    response = client.post(
        f"{BASE}/requests.json", content=b"[1, 2", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()[0]["code"] == 400


_keys = st.sampled_from(
    [
        "service_code",
        "description",
        "lat",
        "long",
        "address_string",
        "address_id",
        "phone",
        "email",
        "first_name",
        "jurisdiction_id",
        "attribute[priority]",
        "attribute[region_code]",
        "attribute[grid_id]",
        "attribute[title]",
        "attribute[confidential]",
        "attribute[]",
        "attribute[",
    ]
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.dictionaries(_keys, st.text(max_size=40), max_size=6),
    fmt=st.sampled_from(["json", "xml"]),
)
def test_arbitrary_form_fields_never_cause_a_server_error(
    client: TestClient, fields: dict, fmt: str
) -> None:
    response = _post(client, fmt, **fields)
    assert response.status_code in (200, 201, 400, 403, 404), response.text
    listed = client.get(f"{BASE}/requests.{fmt}", params=fields)
    assert listed.status_code in (200, 400, 404), listed.text


# -- issue 7: what Open311 clients really send, and what the public may see ----------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\r\n\x1a\n" * 64  # a PNG header and binary bytes with CR/LF
FIELDS = {
    "service_code": "environment",
    "description": "筼筜湖边餐馆油烟直排，附近居民窗户都不敢开。",
    "address_string": "思明区湖滨北路",
    "attribute[region_code]": "350203008002",
}


def test_a_multipart_post_with_a_photo_is_taken_and_the_photo_kept_for_staff(
    client: TestClient,
) -> None:
    response = client.post(
        f"{BASE}/requests.json",
        data={**FIELDS, "api_key": client.app.state.intake_key},
        files={"media": ("photo.png", PNG, "image/png")},
    )
    assert response.status_code == 201, response.text
    ticket_id = response.json()[0]["service_request_id"]
    [public] = client.get(f"{BASE}/requests/{ticket_id}.json").json()
    assert public["media_url"] is None
    agent = {"X-API-Key": client.app.state.agent_key}
    assert client.get(f"/requests/tickets/{ticket_id}", headers=agent).json()["media"] == 1
    photo = client.get(f"/requests/tickets/{ticket_id}/media/1", headers=agent)
    assert photo.status_code == 200 and photo.content == PNG
    assert photo.headers["content-type"] == "image/png"
    assert client.get(f"/requests/tickets/{ticket_id}/media/1").status_code == 401


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"media": ("x.exe", b"MZ\x90\x00binary", "image/png")}, "JPEG、PNG 或 GIF"),
        ({"photo": ("p.png", PNG, "image/png")}, "media"),
        ({"media": ("big.png", PNG + b"\x00" * (5 * 1024 * 1024), "image/png")}, "5 MB"),
    ],
)
def test_bad_media_is_refused_saying_why(client: TestClient, files: dict, words: str) -> None:
    response = client.post(
        f"{BASE}/requests.json",
        data={**FIELDS, "api_key": client.app.state.intake_key},
        files=files,
    )
    assert response.status_code == 400 and words in response.json()[0]["description"]
    assert _count(client) == 0


def test_api_key_in_the_query_string_is_accepted(client: TestClient) -> None:
    response = client.post(
        f"{BASE}/requests.json", data=FIELDS, params={"api_key": client.app.state.intake_key}
    )
    assert response.status_code == 201, response.text
    missing = client.post(f"{BASE}/requests.json", data=FIELDS)
    assert missing.status_code == 403 and "api_key" in missing.json()[0]["description"]
    handler = client.post(
        f"{BASE}/requests.json", data=FIELDS, params={"api_key": client.app.state.handler_key}
    )
    assert handler.status_code == 403 and "登记诉求" in handler.json()[0]["description"]


def test_a_gbk_form_is_stored_as_the_citizen_wrote_it(client: TestClient) -> None:
    fields = {**FIELDS, "api_key": client.app.state.intake_key}
    body = urlencode(fields, encoding="gbk").encode("ascii")
    response = client.post(
        f"{BASE}/requests.json",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded; charset=GBK"},
    )
    assert response.status_code == 201, response.text
    [ticket] = client.get(f"{BASE}/requests/{response.json()[0]['service_request_id']}.json").json()
    assert ticket["description"] == FIELDS["description"]
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v.encode("gbk")
        for k, v in {**fields, "_charset_": "GBK"}.items()
    ]
    photo = b'--b\r\nContent-Disposition: form-data; name="media"; filename="p.png"\r\n'
    photo += b"Content-Type: image/png\r\n\r\n" + PNG
    multipart = client.post(
        f"{BASE}/requests.json",
        content=b"\r\n".join([*parts, photo, b"--b--\r\n"]),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert multipart.status_code == 201, multipart.text
    ticket_id = multipart.json()[0]["service_request_id"]
    [ticket] = client.get(f"{BASE}/requests/{ticket_id}.json").json()
    assert ticket["description"] == FIELDS["description"]
    undecodable = client.post(
        f"{BASE}/requests.json",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},  # GBK sent as UTF-8
    )
    assert undecodable.status_code == 400
    assert "utf-8" in undecodable.json()[0]["description"].lower()
    assert _count(client) == 2


@pytest.mark.slow
def test_closed_requests_are_listed_however_many_newer_ones_exist(client: TestClient) -> None:
    store: TicketStore = client.app.state.tickets
    agent = store_principal(client, "agent")
    handler = store_principal(client, "handler")
    closed = store.intake(agent, draft_for(store, "老旧小区油烟扰民")).ticket
    store.act(handler, closed.id, Command(action="sign"))
    store.act(handler, closed.id, Command(action="resolve", reply="已责令加装油烟净化器。"))
    for i in range(505):
        store.intake(agent, draft_for(store, f"噪音扰民第{i}次，每晚都有"))
    listed = client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert [r["service_request_id"] for r in listed] == [str(closed.id)]
    opened = client.get(f"{BASE}/requests.json", params={"status": "open"}).json()
    assert len(opened) == 505


def store_principal(client: TestClient, role: str):
    key = {"agent": client.app.state.agent_key, "handler": client.app.state.handler_key}[role]
    return client.app.state.access.authenticate_key(key)


def draft_for(store: TicketStore, title: str) -> TicketDraft:
    return TicketDraft(
        title=title, body=f"{title}，请尽快处理", category="环境保护", region_code="350205001"
    )


def test_public_lists_scrub_identifiers_from_what_citizens_wrote(client: TestClient) -> None:
    """Privacy rule: ID, phone and bank-card numbers typed by a citizen are never public."""
    description = (
        "我叫王五，身份证350203198901190005，电话13812345678，卡号6222021234567890128被扣款"
    )
    created = _post(client, description=description).json()[0]
    store: TicketStore = client.app.state.tickets
    handler = store_principal(client, "handler")
    ticket_id = int(created["service_request_id"])
    store.act(handler, ticket_id, Command(action="sign"))
    store.act(handler, ticket_id, Command(action="resolve", reply="已致电13812345678说明情况"))
    for url in (f"{BASE}/requests/{ticket_id}.json", f"{BASE}/requests.json"):
        text = client.get(url).text
        for secret in ("350203198901190005", "13812345678", "6222021234567890128"):
            assert secret not in text
        assert "[身份证号]" in text and "[电话]" in text and "[银行卡号]" in text
    staff = client.get(
        f"/requests/tickets/{ticket_id}", headers={"X-API-Key": client.app.state.agent_key}
    )
    assert "350203198901190005" in staff.json()["body"]  # staff work with what was said


def test_a_confidential_request_shows_no_location_publicly(client: TestClient) -> None:
    """Privacy rule: no text, lat/long, address or community code of a confidential ticket."""
    created = _post(
        client,
        lat="24.4798",
        long="118.0894",
        **{"attribute[confidential]": "true", "attribute[region_code]": "350203008002"},
    ).json()[0]
    [public] = client.get(f"{BASE}/requests/{created['service_request_id']}.json").json()
    assert public["description"] == "（诉求人要求保密）" and public["address"] is None
    assert public["lat"] is None and public["long"] is None
    assert public["address_id"] == "350203"
    listed = client.get(f"{BASE}/requests.json").text
    assert "24.4798" not in listed and "350203008002" not in listed and "湖滨北路" not in listed
