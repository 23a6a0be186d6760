"""Data quality per source and field: how full, how often invalid, what the values look like, how fresh."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from zhixiang.catalog import FieldType, Sensitivity, load_catalog
from zhixiang.datahub._hub import IMPORTS, QUARANTINE, ensure_tables
from zhixiang.datahub._warehouse import Warehouse, quote

_CATEGORICAL = (FieldType.BOOL, FieldType.ENUM, FieldType.REGION)
_NUMERIC = (FieldType.MONEY, FieldType.RATIO, FieldType.INTEGER, FieldType.DATE)
_PERSONAL = (Sensitivity.PERSONAL, Sensitivity.SENSITIVE_PERSONAL)
#: Counts of people below this are not shown for personal fields: 2 people with 低保 in a street is
#: nearly a name. Shown as None (and listed in `suppressed`).
SMALL_COUNT = 5


@dataclass(frozen=True)
class FieldQuality:
    field: str
    label: str
    filled: int | None
    invalid: int | None
    fill_rate: float | None  # of rows loaded, how many carry a value
    invalid_rate: float | None  # of rows read, how many had an invalid value in this field
    distribution: dict[str, object]
    suppressed: bool = False  # a personal field with small counts withheld (< SMALL_COUNT)


@dataclass(frozen=True)
class SourceQuality:
    source: str
    department: str
    entity: str
    import_id: int
    imported_at: dt.datetime
    extract_modified_at: dt.datetime | None
    age_days: float
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    fields: tuple[FieldQuality, ...]


def quality_report(
    wh: Warehouse,
    source: str | None = None,
    now: dt.datetime | None = None,
    *,
    suppress_small: bool = False,
) -> list[SourceQuality]:
    """One report per current source (or for `source` only).

    With `suppress_small` (every report shown beyond the data officer's shell) counts of fewer than
    SMALL_COUNT people in personal fields are withheld.
    """
    ensure_tables(wh)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    params: list[object] = []
    where = "status = 'current'"
    if source:
        where += " AND source = ?"
        params.append(source)
    imports = wh.rows(
        f"""SELECT import_id, source, department, entity, imported_at, extract_modified_at, rows_read,
        rows_loaded, rows_quarantined, snapshot, fields FROM {IMPORTS} WHERE {where} ORDER BY source""",
        params,
    )
    reports = []
    for iid, src, dept, entity, at, modified, read, loaded, quarantined, snap, fields in imports:
        catalog = load_catalog(entity)
        invalid = dict(
            wh.rows(
                f"SELECT field, count(DISTINCT row_number) FROM {QUARANTINE} WHERE import_id = ? GROUP BY field",
                [iid],
            )
        )
        names = [f for f in fields.split(",") if f in catalog]
        counts = wh.rows(
            f"SELECT {', '.join(f'count({quote(f)})' for f in names)} FROM {quote(snap)}"
        )[0]
        per_field = []
        for name, filled in zip(names, counts, strict=True):
            field = catalog[name]
            bad = int(invalid.get(name, 0))
            quality = FieldQuality(
                name,
                field.label,
                int(filled),
                bad,
                round(filled / loaded, 4) if loaded else 0.0,
                round(bad / read, 4) if read else 0.0,
                _distribution(wh, snap, name, field.type),
            )
            if suppress_small and field.sensitivity in _PERSONAL:
                quality = _suppress_small(quality, int(loaded), int(read))
            per_field.append(quality)
        reference = modified or at
        reports.append(
            SourceQuality(
                src,
                dept,
                entity,
                int(iid),
                at,
                modified,
                round((now - reference).total_seconds() / 86400, 2),
                int(read),
                int(loaded),
                int(quarantined),
                tuple(per_field),
            )
        )
    return reports


def _small(count: int) -> bool:
    return 0 < count < SMALL_COUNT


def _suppress_small(q: FieldQuality, loaded: int, read: int) -> FieldQuality:
    """A personal field's quality without counts of fewer than SMALL_COUNT people.

    A count is withheld with its rate when it, or its complement (rows without a value), is small;
    categories with small counts are folded into one; min and max (one person's value) are never shown.
    """
    assert q.filled is not None and q.invalid is not None
    hide_filled = _small(q.filled) or _small(loaded - q.filled)
    hide_invalid = _small(q.invalid) or _small(read - q.invalid)
    shown: dict[str, object] = {}
    for key, value in q.distribution.items():
        if key == "top" and isinstance(value, dict):
            top = {k: n for k, n in value.items() if n >= SMALL_COUNT}
            folded = sum(n for n in value.values() if n < SMALL_COUNT)
            shown["top"] = {**top, **({"其他（不足5人的类别）": None} if folded else {})}
        elif key == "distinct" and isinstance(value, int):
            shown[key] = None if _small(value) else value
        elif key == "mean":
            shown[key] = None if q.filled < SMALL_COUNT else value
    return FieldQuality(
        q.field,
        q.label,
        None if hide_filled else q.filled,
        None if hide_invalid else q.invalid,
        None if hide_filled else q.fill_rate,
        None if hide_invalid else q.invalid_rate,
        shown,
        suppressed=hide_filled or hide_invalid or shown != q.distribution,
    )


def _distribution(wh: Warehouse, snap: str, name: str, ftype: FieldType) -> dict[str, object]:
    col = quote(name)
    if ftype in _CATEGORICAL:
        rows = wh.rows(
            f"""SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n FROM {quote(snap)}
            WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8"""
        )
        return {"top": {str(v): int(n) for v, n in rows}}
    if ftype in _NUMERIC:
        lo, hi = wh.rows(f"SELECT min({col}), max({col}) FROM {quote(snap)}")[0]
        result: dict[str, object] = {"min": _plain(lo), "max": _plain(hi)}
        if ftype is not FieldType.DATE:
            (mean,) = wh.rows(f"SELECT avg({col}) FROM {quote(snap)}")[0]
            result["mean"] = _plain(mean)
        return result
    (distinct,) = wh.rows(f"SELECT count(DISTINCT {col}) FROM {quote(snap)}")[0]
    return {"distinct": int(distinct)}


def _plain(value: Decimal | float | dt.date | None) -> object:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value if isinstance(value, int) else round(float(value), 2)
