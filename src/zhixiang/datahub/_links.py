"""Residents' groups and links: household members, house owners, persons at enterprises.

Cell checks (a 身份证号's check digit, birth date and province) happen on import like any field's. What
needs several tables happens here, after the entity tables are rebuilt and in the same transaction:
each link table is rebuilt from the current snapshots of its sources, and rows that break a rule of
docs/residents.md ("数据：人、户、房") are quarantined with a reason instead of loaded — a person in two
households, a household without exactly one 申请人, ownership shares over 100 %, a member, owner or
enterprise that does not exist. Reasons never show a whole 身份证号 (identity's masking).

Cycles cannot occur in this layout: every link joins a person to a group (household, house,
enterprise), never a person to a person, so there is no chain of links to close.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

import pyarrow as pa

from zhixiang.catalog import load_catalog
from zhixiang.datahub._hub import QUARANTINE, current_sources, rebuild_entity
from zhixiang.datahub._sources import ROW
from zhixiang.datahub._warehouse import Warehouse, quote
from zhixiang.identity import mask_id_number_sql

LINK_TABLES = ("household_member", "house_owner", "person_enterprise")
RESIDENT_KINDS = ("person", "household", "house", *LINK_TABLES)
GROUP_FIELD = "group:"  # quarantine rows written here carry field "group:<check>"

# What each check is called when the quarantine is counted (the demo and `zhixiang data` print these).
CHECK_LABELS = {
    "missing_key": "关联缺少主键",
    "orphan_person": "关联的人不在人口库",
    "orphan_household": "关联的户不存在",
    "orphan_house": "关联的房屋不存在",
    "orphan_enterprise": "关联的企业不存在",
    "two_households": "同一人同时在两个户",
    "no_applicant": "户没有申请人",
    "two_applicants": "户有两名以上申请人",
    "household_dropped": "所在户被隔离",
    "shares_over_100": "产权份额合计超过100%",
}


_STAGE_COLUMNS = pa.schema(
    [
        ("import_id", pa.int64()),
        ("source", pa.string()),
        ("rank", pa.int64()),
        ("row_number", pa.int64()),
    ]
)


def _stage(wh: Warehouse, kind: str) -> str:
    """All rows of a link kind's current snapshots, with where each came from (source, import, row)."""
    catalog = load_catalog(kind)
    stage = f"dh_stage_{kind}"
    wh.drop_table(stage)
    wh.create_table(
        stage, pa.schema([*_STAGE_COLUMNS, *catalog.arrow_schema()]), if_not_exists=False
    )
    columns = ", ".join(quote(f.name) for f in catalog.fields)
    for rank, s in enumerate(current_sources(wh, kind)):
        values = ", ".join(quote(f.name) if f.name in s.fields else "NULL" for f in catalog.fields)
        wh.execute(
            f"""INSERT INTO {stage} (import_id, source, rank, row_number, {columns})
            SELECT ?, ?, ?, {quote(ROW)}, {values} FROM {quote(s.snapshot)}""",
            [s.import_id, s.source, rank],
        )
    return stage


class _Checks:
    """Collects bad link rows (by import and row) with a check code and a reason, kind by kind."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        wh.drop_table("dh_stage_bad")
        wh.execute(
            "CREATE TABLE dh_stage_bad (kind VARCHAR, import_id BIGINT, source VARCHAR, "
            "row_number BIGINT, code VARCHAR, reason VARCHAR, value VARCHAR)"
        )

    def flag(self, kind: str, code: str, reason: str, value: str, where: str) -> None:
        """Quarantine the still-good rows of a staged link kind matching `where` (SQL over alias r)."""
        self.wh.execute(
            f"""INSERT INTO dh_stage_bad SELECT '{kind}', r.import_id, r.source, r.row_number,
            '{code}', {reason}, {value} FROM dh_stage_{kind} r
            WHERE NOT EXISTS (SELECT 1 FROM dh_stage_bad b WHERE b.kind = '{kind}'
                              AND b.import_id = r.import_id AND b.row_number = r.row_number)
              AND ({where})"""
        )

    def good(self, kind: str) -> str:
        """SQL for the rows of a staged kind not flagged so far."""
        return f"""(SELECT * FROM dh_stage_{kind} r WHERE NOT EXISTS (SELECT 1 FROM dh_stage_bad b
            WHERE b.kind = '{kind}' AND b.import_id = r.import_id AND b.row_number = r.row_number))"""


def _orphans(checks: _Checks, kind: str) -> None:
    """Missing key parts, then every end that points to nothing."""
    catalog = load_catalog(kind)
    missing = " OR ".join(f"r.{quote(k)} IS NULL" for k in catalog.keys)
    labels = " || '、' || ".join(
        f"CASE WHEN r.{quote(k)} IS NULL THEN '{catalog[k].label}' ELSE '' END"
        for k in catalog.keys
    )
    checks.flag(kind, "missing_key", f"'缺少 ' || {labels}", "NULL", missing)
    for column, target in catalog.ends:
        key = load_catalog(target).key
        col = f"r.{quote(column)}"
        shown = mask_id_number_sql(col) if target == "person" else col
        label = {
            "person": "人口库",
            "household": "户表",
            "house": "房屋表",
            "enterprise": "企业库",
        }[target]
        checks.flag(
            kind,
            f"orphan_{target}",
            f"'{catalog[column].label} ' || {shown} || ' 不在{label}中'",
            shown,
            f"NOT EXISTS (SELECT 1 FROM {quote(target)} t WHERE t.{quote(key)} = {col})",
        )


def _households(checks: _Checks, wh: Warehouse) -> None:
    """One household per person; exactly one 申请人 per household (households without one are dropped)."""
    masked = mask_id_number_sql("r.id_number")
    checks.flag(
        "household_member",
        "two_households",
        f"""'成员 ' || {masked} || ' 同时在多个户中: ' || (SELECT string_agg(DISTINCT m.household_id, '、' ORDER BY m.household_id)
            FROM {checks.good("household_member")} m WHERE m.id_number = r.id_number)""",
        masked,
        f"""r.id_number IN (SELECT m.id_number FROM {checks.good("household_member")} m
            GROUP BY m.id_number HAVING count(DISTINCT m.household_id) > 1)""",
    )
    # Households (rows of the household table) with no or several 申请人 among their good members.
    wh.drop_table("dh_stage_bad_household")
    wh.execute(
        f"""CREATE TABLE dh_stage_bad_household AS
        SELECT h.household_id, coalesce(a.n, 0) AS applicants FROM household h
        LEFT JOIN (SELECT household_id, count(DISTINCT id_number) AS n FROM {checks.good("household_member")} m
                   WHERE role = '申请人' GROUP BY household_id) a ON a.household_id = h.household_id
        WHERE coalesce(a.n, 0) <> 1"""
    )
    checks.flag(
        "household_member",
        "household_dropped",
        "'所在户 ' || r.household_id || ' 没有唯一的申请人，整户隔离'",
        "r.household_id",
        "r.household_id IN (SELECT household_id FROM dh_stage_bad_household)",
    )
    # The household rows themselves, quarantined against the household source that supplied them.
    for s in current_sources(wh, "household"):
        wh.execute(
            f"""INSERT INTO dh_stage_bad SELECT 'household', {s.import_id}, ?, h.{quote(ROW)},
            CASE WHEN b.applicants = 0 THEN 'no_applicant' ELSE 'two_applicants' END,
            CASE WHEN b.applicants = 0 THEN '户 ' || b.household_id || ' 没有申请人'
                 ELSE '户 ' || b.household_id || ' 有 ' || CAST(b.applicants AS VARCHAR) || ' 名申请人（应恰有一名）' END,
            b.household_id
            FROM dh_stage_bad_household b JOIN {quote(s.snapshot)} h ON h.household_id = b.household_id""",
            [s.source],
        )
    wh.execute(
        "DELETE FROM household WHERE household_id IN (SELECT household_id FROM dh_stage_bad_household)"
    )
    wh.drop_table("dh_stage_bad_household")


def _shares(checks: _Checks) -> None:
    good = checks.good("house_owner")
    checks.flag(
        "house_owner",
        "shares_over_100",
        f"""'房屋 ' || r.house_id || ' 的产权份额合计 ' || CAST((SELECT CAST(sum(o.share) * 100 AS DECIMAL(12,2))
            FROM {good} o WHERE o.house_id = r.house_id) AS VARCHAR) || '%，超过100%'""",
        "CAST(r.share AS VARCHAR)",
        f"r.house_id IN (SELECT o.house_id FROM {good} o GROUP BY o.house_id HAVING sum(o.share) > 1)",
    )


def _publish(wh: Warehouse, checks: _Checks, kind: str) -> None:
    """The link table: good rows, one per key (the highest-priority source wins a duplicate)."""
    catalog = load_catalog(kind)
    wh.drop_table(kind)
    wh.create_table(kind, catalog.arrow_schema(), if_not_exists=False)
    keys = ", ".join(quote(k) for k in catalog.keys)
    columns = ", ".join(quote(f.name) for f in catalog.fields)
    wh.execute(
        f"""INSERT INTO {quote(kind)} ({columns}) SELECT {columns} FROM (
            SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY rank, row_number) AS pick
            FROM {checks.good(kind)} g) ranked WHERE pick = 1"""
    )
    wh.execute(f"CREATE UNIQUE INDEX {quote(kind + '_by_key')} ON {quote(kind)} ({keys})")


def check_links(wh: Warehouse, rebuilt: Collection[str]) -> dict[str, int]:
    """Rebuild the residents' link tables and quarantine what breaks a group rule; counts per check.

    Runs whenever an import touched a resident kind, because a change on one side (a person rejected
    for a bad 身份证号) can orphan rows on the other. Earlier group-check quarantine rows of the current
    imports are replaced, so importing the same extracts twice gives the same quarantine.
    """
    if not set(rebuilt) & set(RESIDENT_KINDS):
        return {}
    if "household" not in rebuilt and current_sources(wh, "household"):
        rebuild_entity(wh, "household")  # bring back households an earlier check dropped
    checks = _Checks(wh)
    for kind in LINK_TABLES:
        _stage(wh, kind)
    for kind in LINK_TABLES:
        _orphans(checks, kind)
    _households(checks, wh)
    _shares(checks)
    for kind in LINK_TABLES:
        _publish(wh, checks, kind)
    current = [s.import_id for kind in RESIDENT_KINDS for s in current_sources(wh, kind)]
    if current:
        wh.execute(
            f"DELETE FROM {QUARANTINE} WHERE field LIKE '{GROUP_FIELD}%' "
            f"AND import_id IN ({', '.join(str(i) for i in current)})"
        )
    wh.execute(
        f"""INSERT INTO {QUARANTINE} (import_id, source, row_number, field, reason, value, record)
        SELECT import_id, source, row_number, '{GROUP_FIELD}' || code, reason, value, NULL FROM dh_stage_bad"""
    )
    counts = Counter(
        {
            code: int(n)
            for code, n in wh.rows("SELECT code, count(*) FROM dh_stage_bad GROUP BY code")
        }
    )
    for table in ("dh_stage_bad", *(f"dh_stage_{kind}" for kind in LINK_TABLES)):
        wh.drop_table(table)
    return dict(counts)


def resident_quarantine_counts(wh: Warehouse) -> dict[str, int]:
    """Quarantined rows of the residents' current imports, counted by reason in plain words."""
    current = [s.import_id for kind in RESIDENT_KINDS for s in current_sources(wh, kind)]
    if not current:
        return {}
    rows = wh.rows(
        f"""SELECT field, reason, count(*) FROM {QUARANTINE}
        WHERE import_id IN ({", ".join(str(i) for i in current)}) GROUP BY field, reason"""
    )
    counts: Counter[str] = Counter()
    for field, reason, n in rows:
        counts[_reason_label(field, reason or "")] += int(n)
    return dict(counts.most_common())


def _reason_label(field: str, reason: str) -> str:
    if field.startswith(GROUP_FIELD):
        return CHECK_LABELS.get(field.removeprefix(GROUP_FIELD), field)
    if field == "id_number" or "身份证号" in reason:
        for word, label in (
            ("校验位", "身份证号校验位错误"),
            ("出生日期", "身份证号出生日期不存在"),
            ("地址码", "身份证号地址码不存在"),
            ("主键重复", "身份证号重复"),
        ):
            if word in reason:
                return label
        return "身份证号格式错误"
    if "主键重复" in reason:
        return "主键重复"
    return f"字段无效: {field}"
