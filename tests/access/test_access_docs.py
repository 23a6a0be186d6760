"""docs/access.md shows the permission table as the code has it: generated, and checked here."""

from __future__ import annotations

import re
from pathlib import Path

from zhixiang.cli.access import permissions_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"


def _section(name: str) -> str:
    text = DOC.read_text("utf-8")
    found = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.DOTALL)
    assert found, f"docs/access.md lost its {name} markers"
    return found.group(1).strip()


def test_the_documented_permissions_are_the_permission_table() -> None:
    assert _section("permissions") == permissions_markdown(), (
        "docs/access.md is out of date: paste `zhixiang access roles --markdown` between the "
        "permissions markers"
    )


def test_every_privacy_rule_checked_by_the_script_is_listed_in_the_doc() -> None:
    import importlib.util
    import sys

    script = DOC.parents[1] / "scripts" / "privacy_rules.py"
    spec = importlib.util.spec_from_file_location("privacy_rules", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("privacy_rules", module)
    spec.loader.exec_module(module)
    listed = _section("privacy-rules")
    missing = [r.id for r in module.RULES if f"| {r.id} |" not in listed]
    assert missing == [], f"docs/access.md §10 does not list {missing}"
