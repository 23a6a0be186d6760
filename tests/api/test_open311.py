"""Open311 GeoReport v2 under /open311/v2: discovery, services, requests, tokens, JSON/XML, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from zhixiang.api import create_app
from zhixiang.tickets import TicketStore
from zhixiang.tickets._models import Ticket

BASE = "/open311/v2"


@pytest.fixture
def client(home: Path) -> Iterator[TestClient]:
    store = TicketStore(f"sqlite:///{home / 'tickets.db'}")
    store.migrate()
    app = create_app()
    app.state.tickets_store = store
    app.state.intake_key = store.create_key("intake")[0]
    with TestClient(app) as client:
        yield client
    store.close()


def _post(client: TestClient, fmt: str = "json", headers: dict | None = None, **fields: str):
    data = {
        "api_key": client.app.state.intake_key,
        "service_code": "environment",
        "description": "筼筜湖边餐馆油烟直排，附近居民窗户都不敢开。",
        "address_string": "思明区湖滨北路",
        "attribute[region_code]": "350203004002",
        **fields,
    }
    return client.post(f"{BASE}/requests.{fmt}", data=data, headers=headers or {})


def _count(client: TestClient) -> int:
    store: TicketStore = client.app.state.tickets_store
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
    assert ticket["agency_responsible"] == "市生态环境局思明分局"
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
        ("/requests/abc.json", 400),
        ("/requests/1,2.json", 400),
        ("/requests.json?start_date=yesterday", 400),
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
