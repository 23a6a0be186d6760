"""/docs and /redoc work with no way out of the intranet: every asset comes from the package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zhixiang.api import create_app

# Any absolute URL in a page is a request the browser makes elsewhere (a CDN, fonts, telemetry).
_ABSOLUTE = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.fixture
def http(home: Path) -> TestClient:
    return TestClient(create_app())


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_name_no_other_host_and_their_assets_load(
    http: TestClient, page: str
) -> None:
    html = http.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert not _ABSOLUTE.search(html.text), _ABSOLUTE.search(html.text)
    assert "fonts.googleapis" not in html.text and "cdn." not in html.text
    assets = [a for a in _ASSET.findall(html.text) if a.startswith("/docs-assets/")]
    assert assets, "the page loads its scripts from the package"
    for asset in assets:
        loaded = http.get(asset)
        assert loaded.status_code == 200 and len(loaded.content) > 100, asset
    assert http.get("/openapi.json").json()["info"]["title"] == "智享 Zhixiang"


def test_swagger_ui_does_not_call_the_online_validator(http: TestClient) -> None:
    assert '"validatorUrl": null' in http.get("/docs").text
