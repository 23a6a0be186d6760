"""`zhixiang apply`, `zhixiang review …`, `zhixiang near-misses --closeness`, `zhixiang upcoming`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
from typer.testing import CliRunner

from zhixiang.catalog import load_catalog
from zhixiang.cli import app
from zhixiang.config import load_settings
from zhixiang.datahub import create_grant, ensure_tables, open_warehouse
from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.matching import facts_from_row, run_matching
from zhixiang.review import PURPOSE
from zhixiang.rules import evaluate_policy, load_policies

AS_OF = date(2026, 6, 30)
POLICIES = load_policies([demo_policies_dir()]).policies
GRADUATE = next(p for p in POLICIES if p.id == "invention-patent-grant")  # 申请审核
runner = CliRunner()


def _platform() -> list[dict]:
    settings = load_settings()
    table = generate_enterprises(300, seed=51, reference=AS_OF)
    rows = table.to_pylist()
    catalog = load_catalog("enterprise")
    eligible = next(
        r
        for r in rows
        if evaluate_policy(GRADUATE, facts_from_row(catalog, r), AS_OF).status == "eligible"
    )
    eligible["invention_patents"] = None  # not shared: the applicant declares it
    path = settings.warehouse_url.removeprefix("duckdb://")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(path) as con:
        con.register("rows_in", pa.Table.from_pylist(rows, schema=table.schema))
        con.execute("CREATE TABLE enterprise AS SELECT * FROM rows_in")
    with open_warehouse(settings.warehouse_url) as wh:
        ensure_tables(wh)
        create_grant(
            wh,
            grantee=GRADUATE.id,
            grantee_kind="policy",
            entity="enterprise",
            fields=list(GRADUATE.fields_read()),
            purpose=PURPOSE,
            valid_until=date(2030, 12, 31),
            today=AS_OF,
        )
    return [eligible, *[r for r in rows if r is not eligible]]


def test_apply_queue_decide_and_show(home: Path) -> None:
    rows = _platform()
    code = rows[0]["credit_code"]
    applied = runner.invoke(
        app,
        [
            "apply",
            GRADUATE.id,
            code,
            "-d",
            "发明专利授权数=3",
            "--as-of",
            "2026-06-30",
            "--as",
            "clerk",
            "--json",
        ],
    )
    assert applied.exit_code == 0, applied.output
    view = json.loads(applied.output)
    assert view["status"] == "pending" and any("申请人申报" in p for p in view["pending"])
    held = runner.invoke(
        app,
        [
            "apply",
            GRADUATE.id,
            next(r for r in rows[1:] if r["region_code"])["credit_code"],
            "-d",
            "注册地=350211",
            "--as-of",
            "2026-06-30",
        ],
    )
    assert held.exit_code == 2 and "无需申报" in held.output
    late = runner.invoke(app, ["apply", GRADUATE.id, code, "--as-of", "2031-01-01"])
    assert late.exit_code == 2 and "不在有效期内" in late.output
    queue = runner.invoke(app, ["review", "queue", "--as", "reviewer"])
    assert queue.exit_code == 0 and code in queue.output
    own = runner.invoke(
        app,
        [
            "review",
            "decide",
            str(view["id"]),
            "approved",
            "-r",
            "核实",
            "--amount",
            "3000",
            "--as",
            "clerk",
        ],
    )
    assert own.exit_code == 77 and "本人提交" in own.output
    done = runner.invoke(
        app,
        [
            "review",
            "decide",
            str(view["id"]),
            "approved",
            "-r",
            "已核实劳动合同",
            "--amount",
            "15000",
            "--as",
            "reviewer",
        ],
    )
    assert done.exit_code == 0 and "批准" in done.output
    shown = runner.invoke(app, ["review", "show", str(view["id"]), "--as", "reviewer"])
    assert (
        shown.exit_code == 0 and "已核实劳动合同" in shown.output and "申请人申报" in shown.output
    )
    stats = runner.invoke(app, ["review", "stats"])
    assert stats.exit_code == 0 and "申请 1 件" in stats.output


def test_near_misses_with_closeness_and_upcoming(home: Path) -> None:
    _platform()
    settings = load_settings()
    run_matching(settings.warehouse_url, POLICIES, AS_OF, results_dir=settings.results_dir)
    near = runner.invoke(
        app, ["near-misses", "tax-contribution-award", "--closeness", "0.9", "--limit", "5"]
    )
    assert near.exit_code == 0 and "接近符合 ≥ 90%" in near.output
    too_low = runner.invoke(app, ["near-misses", "--closeness", "0.3"])
    assert too_low.exit_code == 2
    soon = runner.invoke(app, ["upcoming", "--days", "365", "--limit", "5"])
    assert soon.exit_code == 0 and "即将符合" in soon.output
