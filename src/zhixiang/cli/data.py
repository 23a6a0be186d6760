"""`zhixiang data …` and `zhixiang audit …`: the data officer's commands for the data hub."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.table import Table

from zhixiang.cli._console import console
from zhixiang.config import load_settings
from zhixiang.datahub import (
    AccessDenied,
    ExtractError,
    GrantError,
    ImportReport,
    MappingError,
    Warehouse,
    WarehouseBusy,
    WarehouseError,
    audit_records,
    conflict_rows,
    create_grant,
    data_catalog,
    import_into,
    list_grants,
    list_imports,
    load_mapping,
    open_warehouse,
    quality_report,
    quarantine_rows,
    read_entities,
    revoke_grant,
    verify_audit,
)

data_app = typer.Typer(
    help="数据按需共享: import departments' extracts, inspect quarantine and quality, grant and read.",
    no_args_is_help=True,
)
grants_app = typer.Typer(
    help="授权: which department or policy may read which fields, for what, until when.",
    no_args_is_help=True,
)
data_app.add_typer(grants_app, name="grants")
audit_app = typer.Typer(
    help="审计日志: every read of personal data, hash-chained and append-only.",
    no_args_is_help=True,
)

WarehouseOption = Annotated[
    str | None,
    typer.Option("--warehouse", help="仓库地址；默认 ZHIXIANG_WAREHOUSE 或 var/zhixiang.duckdb"),
]


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except WarehouseBusy as exc:
        console.print(f"[yellow]稍后重试:[/yellow] {exc}")
        raise typer.Exit(exc.exit_code) from None
    except (WarehouseError, MappingError, ExtractError, GrantError, AccessDenied) as exc:
        console.print(f"[red]错误:[/red] {exc}")
        raise typer.Exit(2) from None


@contextmanager
def _warehouse(url: str | None) -> Iterator[Warehouse]:
    with _refusals(), open_warehouse(url or load_settings().warehouse_url) as wh:
        yield wh


def _table(title: str, data: pa.Table | list[dict], columns: list[str] | None = None) -> Table:
    rows = data.to_pylist() if isinstance(data, pa.Table) else data
    columns = columns or (list(rows[0]) if rows else [])
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    return table


def print_report(report: ImportReport) -> None:
    """The import report: loaded, quarantined and conflicting rows per source."""
    rows = [
        {
            "来源": s.source,
            "实体": s.entity,
            "导入编号": s.import_id,
            "结果": "已导入" if s.status == "loaded" else "已拒绝",
            "读取": s.rows_read,
            "导入": s.rows_loaded,
            "隔离": s.rows_quarantined,
            "说明": s.message,
        }
        for s in report.sources
    ]
    console.print(_table("导入报告", rows))
    for entity, n in report.entity_rows.items():
        console.print(
            f"实体表 {entity}: {n} 行；来源冲突 {report.conflicts.get(entity, 0)} 处（按优先级取值）"
        )
    shown = [q for s in report.sources for q in s.quarantine][:20]
    if shown:
        console.print(
            _table(
                "隔离示例（全部见 zhixiang data quarantine）",
                shown,
                ["source", "row_number", "field", "reason"],
            )
        )


@data_app.command("import")
def import_(
    mappings: Annotated[
        list[Path], typer.Argument(help="映射文件（YAML），可多个；一次导入全部成功或全部不变")
    ],
    extract: Annotated[
        Path | None,
        typer.Option("--file", help="改用这个数据文件（同一格式的新一期）；只能配合一个映射文件"),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Import departments' extracts through their mapping files; bad rows go to quarantine.

    A running server keeps answering meanwhile: an embedded warehouse is imported into a copy that
    is swapped in when complete."""
    with _refusals():
        loaded = [load_mapping(p) for p in mappings]
        if extract is not None:
            if len(loaded) != 1:
                raise MappingError("--file 只能配合一个映射文件使用")
            loaded = [loaded[0].with_location(str(extract.resolve()))]
        report = import_into(warehouse or load_settings().warehouse_url, loaded)
    print_report(report)
    if report.rejected:
        raise typer.Exit(1)


@data_app.command("sources")
def sources(
    source: Annotated[str | None, typer.Argument(help="只看这个来源")] = None,
    history: Annotated[bool, typer.Option("--history", help="列出每个来源的全部历史快照")] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Registered sources and their current import (with --history, every earlier snapshot)."""
    with _warehouse(warehouse) as wh:
        imports = list_imports(wh, source, history).to_pylist()
    status = {"current": "当前", "previous": "历史", "rejected": "已拒绝"}
    rows = [
        {
            "来源": r["source"],
            "部门": r["department"],
            "实体": r["entity"],
            "优先级": r["priority"],
            "导入编号": r["import_id"],
            "导入时间": f"{r['imported_at']:%Y-%m-%d %H:%M}",
            "状态": status.get(r["status"], r["status"]),
            "读取/导入/隔离": f"{r['rows_read']}/{r['rows_loaded']}/{r['rows_quarantined']}",
            "说明": r["message"] or "",
        }
        for r in imports
    ]
    console.print(_table("数据来源", rows))


@data_app.command("quarantine")
def quarantine(
    source: Annotated[str | None, typer.Argument(help="只看这个来源")] = None,
    limit: Annotated[int, typer.Option(help="最多显示多少条")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 行输出（含原始行）")] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Rows that failed validation in each source's latest import: row number, field, reason."""
    with _warehouse(warehouse) as wh:
        rows = quarantine_rows(wh, source, limit)
    if as_json:
        for row in rows.to_pylist():
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    console.print(
        _table("隔离区", rows, ["source", "import_id", "row_number", "field", "reason", "value"])
    )


@data_app.command("conflicts")
def conflicts(
    entity: Annotated[str | None, typer.Argument(help="enterprise / person / house")] = None,
    limit: Annotated[int, typer.Option(help="最多显示多少条")] = 100,
    warehouse: WarehouseOption = None,
) -> None:
    """Values on which sources disagree, and which source's value was taken (by priority)."""
    with _warehouse(warehouse) as wh:
        console.print(_table("来源冲突", conflict_rows(wh, entity, limit)))


@data_app.command("quality")
def quality(
    source: Annotated[str | None, typer.Argument(help="只看这个来源")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Data quality per source and field: fill rate, invalid rate, distribution, freshness."""
    with _warehouse(warehouse) as wh:
        reports = quality_report(wh, source)
    if as_json:
        from dataclasses import asdict

        typer.echo(
            json.dumps([asdict(r) for r in reports], ensure_ascii=False, default=str, indent=1)
        )
        return
    for r in reports:
        fresh = f"导入于 {r.imported_at:%Y-%m-%d %H:%M}，距今 {r.age_days} 天"
        rows = [
            {
                "字段": f"{f.label} ({f.field})",
                "填充率": f"{f.fill_rate:.1%}",
                "无效率": f"{f.invalid_rate:.2%}",
                "分布": json.dumps(f.distribution, ensure_ascii=False, default=str)[:80],
            }
            for f in r.fields
        ]
        title = f"{r.source}（{r.department} → {r.entity}）读取 {r.rows_read}，导入 {r.rows_loaded}，隔离 {r.rows_quarantined}；{fresh}"
        console.print(_table(title, rows))


@data_app.command("catalog")
def catalog(
    entity: Annotated[str | None, typer.Argument(help="enterprise / person / house")] = None,
) -> None:
    """Every field with its owner department and sensitivity level (and how it is masked)."""
    from dataclasses import asdict

    console.print(_table("数据目录", [asdict(e) for e in data_catalog(entity)]))


@grants_app.command("list")
def grants_list(
    grantee: Annotated[str | None, typer.Argument(help="只看这个部门或政策")] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """All grants, with their validity and whether they allow clear values."""
    with _warehouse(warehouse) as wh:
        grants = list_grants(wh, grantee)
    rows = [{**g.__dict__, "fields": ",".join(g.fields)} for g in grants]
    console.print(_table("授权", rows))


@grants_app.command("add")
def grants_add(
    grantee: Annotated[str, typer.Argument(help="被授权的部门（或 --policy 时的政策编号）")],
    entity: Annotated[str, typer.Option(help="enterprise / person / house")],
    fields: Annotated[str, typer.Option(help="字段（英文名或中文名），逗号分隔")],
    purpose: Annotated[str, typer.Option(help="用途，读取时须写同一用途")],
    until: Annotated[str, typer.Option(help="有效期至（含），如 2026-12-31")],
    clear: Annotated[
        bool, typer.Option("--clear", help="允许读取个人字段明文（默认脱敏）")
    ] = False,
    policy: Annotated[bool, typer.Option("--policy", help="被授权方是一项政策而非部门")] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Let a department or a policy read named fields for a stated purpose until a date."""
    try:
        valid_until = dt.date.fromisoformat(until)
    except ValueError:
        console.print(f"[red]错误:[/red] 有效期应为 年-月-日，实为 {until!r}")
        raise typer.Exit(2) from None
    with _warehouse(warehouse) as wh:
        grant = create_grant(
            wh,
            grantee=grantee,
            entity=entity,
            fields=[f.strip() for f in fields.split(",") if f.strip()],
            purpose=purpose,
            valid_until=valid_until,
            clear=clear,
            grantee_kind="policy" if policy else "department",
            granted_by=getpass.getuser(),
        )
    console.print(
        f"已授权 #{grant.grant_id}: {grantee} 可读 {entity}.{','.join(grant.fields)}，用途“{grant.purpose}”，至 {grant.valid_until}"
    )


@grants_app.command("revoke")
def grants_revoke(grant_id: int, warehouse: WarehouseOption = None) -> None:
    """Revoke a grant; reads under it stop at once."""
    with _warehouse(warehouse) as wh:
        revoke_grant(wh, grant_id)
    console.print(f"已撤销授权 #{grant_id}")


@data_app.command("read")
def read(
    entity: Annotated[str, typer.Argument(help="enterprise / person / house")],
    reader: Annotated[str, typer.Option("--as", help="以哪个部门或政策的身份读取")],
    purpose: Annotated[str, typer.Option(help="用途（须与授权一致）")],
    fields: Annotated[str | None, typer.Option(help="字段，逗号分隔；默认全部可读字段")] = None,
    key: Annotated[list[str] | None, typer.Option("--key", help="只读这些主键（可多次）")] = None,
    limit: Annotated[int, typer.Option(help="最多读取多少行")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 行输出")] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Read entity rows under a grant: only granted fields, personal fields masked, the read audited."""
    with _warehouse(warehouse) as wh:
        result = read_entities(
            wh,
            entity,
            reader=reader,
            purpose=purpose,
            fields=[f.strip() for f in fields.split(",")] if fields else None,
            keys=key,
            limit=limit,
            via=f"cli:{getpass.getuser()}",
        )
    if as_json:
        for row in result.table.to_pylist():
            typer.echo(json.dumps(row, ensure_ascii=False, default=str))
    else:
        console.print(_table(f"{entity}（{reader}，用途: {purpose}）", result.table))
    notes = []
    if result.masked:
        notes.append(f"已脱敏: {','.join(result.masked)}")
    if result.withheld:
        notes.append(f"未授权、未返回: {','.join(result.withheld)}")
    if result.audit_seq:
        notes.append(f"已记入审计日志第 {result.audit_seq} 条")
    if notes:
        console.print("；".join(notes), style="dim")


@audit_app.command("verify")
def audit_verify(warehouse: WarehouseOption = None) -> None:
    """Check the keyed audit chain against the signed checkpoints; exits 1 and names each kind of
    tampering found (edited, rechained, deleted, truncated, checkpoint, …) and where."""
    with _warehouse(warehouse) as wh:
        result = verify_audit(wh)
    for note in result.notes:
        console.print(f"注意: {note}", style="dim")
    if result.ok:
        console.print(
            f"审计日志完整: {result.records} 条记录，哈希链校验通过"
            + (f"，与第{result.checkpoint_seq}条的检查点一致" if result.checkpoint_seq else "")
        )
        return
    console.print(f"[red]审计日志被改动:[/red] {result.problem}")
    for finding in result.findings:
        console.print(f"  [{finding.kind}] {finding.message}", markup=False)
    raise typer.Exit(1)


@audit_app.command("log")
def audit_log(
    limit: Annotated[int, typer.Option(help="最多显示多少条（最新的在前）")] = 50,
    actor: Annotated[str | None, typer.Option(help="只看这个读取者")] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """The latest audit records: who read which fields of how many rows, when and for what."""
    with _warehouse(warehouse) as wh:
        records = audit_records(wh, limit, actor)
    console.print(
        _table(
            "审计日志",
            records,
            ["seq", "at", "actor", "purpose", "entity", "fields", "rows", "detail"],
        )
    )


__all__ = ["audit_app", "data_app", "print_report"]
