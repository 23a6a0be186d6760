"""The 免申即享 and household pages: every control labelled, reachable by keyboard (the same checks
as the other workbench pages)."""

from __future__ import annotations

import pytest
from test_web2_access import UNLABELLED

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("officer", "/app/grants"),
        ("officer", "/app/grants/propose"),
        ("officer", "/app/households"),
        ("leader", "/app/grants"),
    ],
)
def test_webgrants_controls_are_labelled(page, platform, who, path) -> None:
    platform.sign_in(page, who)
    answer = page.goto(platform.url + path)
    assert answer is not None and answer.status == 200
    assert page.evaluate(UNLABELLED) == []
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # 跳到正文
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
