"""A live platform for the page tests: demo data through the data hub, accounts for each role, a
few tickets, a uvicorn server on a free port in a thread, and one Debian chromium per session.

Each xdist worker is a pytest session with its own platform and browser (grouping them on one
worker with `--dist loadgroup` does not work with pytest 9.2: pytest-xdist issue 1386).
Browser tests are marked `browser` (run alone with `pytest -m browser`); screenshots of the main
pages go to `var/screenshots/` (ZHIXIANG_TEST_SCREENSHOTS=docs/web refreshes those of docs/web.md).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from web_helpers import PASSWORDS, SEEDED

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Platform:
    url: str
    home: Path
    app: object

    def sign_in(self, page, username: str) -> None:
        """Sign in through the login page, as a person would."""
        page.goto(f"{self.url}/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(PASSWORDS[username])
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()

    @property
    def tickets(self):
        """The ticket store the server uses (opened by `create_app`)."""
        return self.app.state.tickets


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(home: Path) -> None:
    """Demo enterprises through the data hub, and the accounts of each role."""
    from zhixiang.access import Role, open_access, operator
    from zhixiang.config import load_settings
    from zhixiang.demo import generate_enterprises
    from zhixiang.demo.departments import import_demo_sources

    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    import_demo_sources(settings, generate_enterprises(1500, 0, reference=date.today()))
    access = open_access(settings.access_db)
    root = operator("test")
    for username, roles, department, name in (
        ("agent", [Role.AGENT], "center", "王坐席"),
        ("hrss", [Role.HANDLER], "city-hrss", "李办理"),
        ("housing", [Role.HANDLER], "city-housing", "张建设"),
        ("officer", [Role.POLICY_ADMIN], "city-commerce", "陈政策"),
        ("leader", [Role.LEADER], "xm", "刘领导"),
        ("dataman", [Role.DATA_OFFICER], "city-data", "赵数据"),
    ):
        access.create_user(
            root, username, PASSWORDS[username], roles, display_name=name, department=department
        )
    access.close()
    documents = settings.shared_data_dir / "policy_texts" / "guangzhou" / "documents.jsonl"
    if documents.exists():  # 智能咨询's library: the real Guangzhou documents (read, never copied)
        from zhixiang.knowledge import open_library

        open_library(settings).import_path(documents, root)


def _seed_tickets(platform: Platform) -> None:
    """Calls of the last days across the districts, some handled, one open in STREET."""
    from zhixiang.access import SYSTEM as centre
    from zhixiang.tickets import Command, TicketDraft

    tickets = platform.tickets
    streets = ["350203003", "350203005", "350206001", "350211001", "350212001", "350213001"]
    for i, (title, body) in enumerate(SEEDED):
        draft = TicketDraft(
            title=title, body=body, channel="hotline", region_code=streets[i % len(streets)]
        )
        ticket = tickets.intake(centre, draft).ticket
        if ticket.category and i % 3:
            department = tickets.rules.route(ticket.category, ticket.region_code) or "city-hrss"
            tickets.act(centre, ticket.id, Command(action="dispatch", department=department))


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The whole platform on a temporary home, served by uvicorn on a free loopback port."""
    import uvicorn
    import yaml

    from zhixiang.tickets import DEFAULT_RULES

    home = tmp_path_factory.mktemp("web-home")
    rules = yaml.safe_load(DEFAULT_RULES.read_text("utf-8"))
    rules["auto_dispatch_threshold"] = 1.0  # every call waits for an agent to dispatch it
    (home / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), "utf-8")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ZHIXIANG_HOME", str(home))
        env.setenv("ZHIXIANG_TICKETS_RULES", str(home / "rules.yaml"))
        env.delenv("ZHIXIANG_WAREHOUSE", raising=False)
        env.delenv("ZHIXIANG_TICKETS_DB", raising=False)
        env.delenv("ZHIXIANG_ACCESS_DB", raising=False)
        _seed(home)
        from zhixiang.api import create_app

        app = create_app()
        platform = Platform("", home, app)
        _seed_tickets(platform)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        platform.url = f"http://127.0.0.1:{port}"
        yield platform
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian chromium is not installed (make test installs it: apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, platform: Platform) -> Iterator[object]:
    """A fresh browser context (no cookies) with a desktop-sized window; console errors fail."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert errors == [], f"script errors on the page: {errors}"


@pytest.fixture(scope="session")
def shots() -> Path:
    folder = Path(os.environ.get("ZHIXIANG_TEST_SCREENSHOTS", "var/screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
