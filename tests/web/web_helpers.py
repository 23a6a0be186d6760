"""Shared values and helpers of the page tests (imported by conftest and the test modules)."""

from __future__ import annotations

import re
from pathlib import Path

PASSWORDS = {
    "agent": "hotline seat 12345",
    "hrss": "wages and jobs 1",
    "housing": "roads and lights 2",
    "officer": "policies finder 3",
    "leader": "whole city view 4",
    "dataman": "shared tables 5",
}
#: A street of 思明区 (中华街道) where the seeded complaint and the test's call happen.
STREET = "350203003"
#: Calls seeded before the tests; the first one is the complaint the test's call repeats.
SEEDED = [
    (
        "公司拖欠工资三个月",
        "我在中华街道一家装修公司上班，公司已经拖欠我们工资三个月，老板不接电话，请劳动部门处理。",
    ),
    ("小区门口路灯不亮", "小区门口的路灯已经坏了一个星期，晚上很黑，老人出行不安全。"),
    ("工地夜间施工噪音", "附近工地每天晚上十一点以后还在施工，噪音很大，影响休息。"),
    ("道路破损有坑", "路面有一个大坑，下雨积水，电动车经过很危险。"),
    ("学校周边交通拥堵", "上下学时间学校门口交通拥堵，希望增加交警疏导。"),
    ("社保卡补办问题", "社保卡丢失后补办，窗口说要等一个月，能否加快。"),
    ("饭店油烟扰民", "楼下饭店油烟直排，家里窗户都不能开。"),
    ("公交线路调整建议", "希望增加一条通往地铁站的公交线路，早高峰很难等到车。"),
    ("失业金申领咨询", "刚失业，想咨询失业保险金怎么申领，需要哪些材料。"),
    ("垃圾清运不及时", "小区垃圾桶满了好几天没人清运，气味很大。"),
    ("人行道被占用", "商家把货物堆在人行道上，行人只能走机动车道。"),
    ("医院挂号难", "社区医院挂号很难，希望增加门诊时段。"),
]


#: Screenshots stop here: the top of a long page shows what it is.
MAX_HEIGHT = 1600


def screenshot(page, shots: Path, name: str) -> Path:
    """A small PNG of what the page shows (64 colours: a few tens of KB for the docs)."""
    from PIL import Image

    raw = shots / f"{name}.raw.png"
    width = page.viewport_size["width"]
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    page.screenshot(
        path=str(raw), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}
    )
    out = shots / f"{name}.png"
    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=64).save(out, optimize=True)
    raw.unlink()
    return out


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def everyone():
    """A principal that sees every ticket, for the tests' own checks of what was stored."""
    from zhixiang.access import SYSTEM

    return SYSTEM
