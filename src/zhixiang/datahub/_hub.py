"""Imports and entity tables: each import is a snapshot; the entity tables are rebuilt from the current
snapshot of every source, field by field in the declared priority, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from zhixiang.catalog import load_catalog
from zhixiang.datahub._mapping import ENTITIES, LINK_KINDS, Mapping
from zhixiang.datahub._redact import redact_quarantine
from zhixiang.datahub._sources import ROW, ExtractError, read_extract
from zhixiang.datahub._validate import Validated, link_column, validate_extract
from zhixiang.datahub._warehouse import (
    Warehouse,
    duckdb_file,
    open_warehouse,
    publish_duckdb,
    quote,
)

IMPORTS = "dh_imports"
QUARANTINE = "dh_quarantine"
CONFLICTS = "dh_conflicts"
LINKS = "link"

IMPORTS_SCHEMA = pa.schema(
    [
        ("import_id", pa.int64()),
        ("source", pa.string()),
        ("department", pa.string()),
        ("entity", pa.string()),
        ("priority", pa.int64()),
        ("format", pa.string()),
        ("location", pa.string()),
        ("imported_at", pa.timestamp("us")),
        ("extract_modified_at", pa.timestamp("us")),
        ("status", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("snapshot", pa.string()),
        ("fields", pa.string()),
        ("message", pa.string()),
        ("mapping", pa.string()),
    ]
)
QUARANTINE_TABLE_SCHEMA = pa.schema(
    [
        ("import_id", pa.int64()),
        ("source", pa.string()),
        ("row_number", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("value", pa.string()),
        ("record", pa.string()),
    ]
)
CONFLICTS_SCHEMA = pa.schema(
    [
        ("entity", pa.string()),
        ("entity_key", pa.string()),
        ("field", pa.string()),
        ("chosen_source", pa.string()),
        ("chosen_value", pa.string()),
        ("other_source", pa.string()),
        ("other_value", pa.string()),
    ]
)
LINKS_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("from_entity", pa.string()),
        ("from_key", pa.string()),
        ("to_entity", pa.string()),
        ("to_key", pa.string()),
        ("source", pa.string()),
    ]
)


@dataclass(frozen=True)
class SourceImport:
    """What happened to one source's extract."""

    source: str
    entity: str
    import_id: int
    status: str  # "loaded" or "rejected"
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    message: str = ""
    quarantine: tuple[dict, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """One import run: per source, and the conflicts found when the entity tables were rebuilt."""

    sources: tuple[SourceImport, ...]
    conflicts: dict[str, int] = field(default_factory=dict)
    entity_rows: dict[str, int] = field(default_factory=dict)
    # Rows the residents' group checks quarantined, by check (see _links.CHECK_LABELS).
    link_quarantine: dict[str, int] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(s.rows_loaded for s in self.sources)

    @property
    def rows_quarantined(self) -> int:
        return sum(s.rows_quarantined for s in self.sources)

    @property
    def rejected(self) -> tuple[SourceImport, ...]:
        return tuple(s for s in self.sources if s.status == "rejected")


def ensure_tables(wh: Warehouse) -> None:
    """Create the data hub's bookkeeping tables and empty entity tables if they are not there yet."""
    for name, schema in (
        (IMPORTS, IMPORTS_SCHEMA),
        (QUARANTINE, QUARANTINE_TABLE_SCHEMA),
        (CONFLICTS, CONFLICTS_SCHEMA),
        (LINKS, LINKS_SCHEMA),
    ):
        wh.create_table(name, schema)
    for entity in ENTITIES:
        wh.create_table(entity, load_catalog(entity).arrow_schema())


def _modified_at(mapping: Mapping) -> dt.datetime | None:
    if mapping.format == "sql":
        return None
    try:
        return dt.datetime.fromtimestamp(Path(mapping.location).stat().st_mtime, dt.UTC).replace(
            tzinfo=None
        )
    except OSError:
        return None


def import_sources(
    wh: Warehouse,
    mappings: Sequence[Mapping],
    now: dt.datetime | None = None,
    snapshots_keep: int | None = None,
) -> ImportReport:
    """Read, validate and load extracts; all snapshots and the rebuilt entity tables land in one
    transaction, so a failure leaves the previous versions in place. An unreadable extract is
    recorded as rejected (with a quarantine row saying why) and its previous version stays current.

    The data is written once where it can be: a kind with a single source (on DuckDB) gets its
    entity table straight from the validation query, and the source's snapshot is a view of it;
    only a kind with several sources is rebuilt field by field from their snapshots. Afterwards,
    snapshots older than the newest `snapshots_keep` previous ones (`Settings.snapshots_keep`) go."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if snapshots_keep is None:
        from zhixiang.config import load_settings

        snapshots_keep = load_settings().snapshots_keep
    wh.ensure_writable()  # before validation makes temporary tables on the connection
    checked: list[tuple[Mapping, Validated | ExtractError]] = []
    try:
        for mapping in mappings:
            try:
                extract = read_extract(mapping)
                checked.append(
                    (mapping, validate_extract(mapping, extract, wh.duckdb_connection()))
                )
            except ExtractError as exc:
                checked.append((mapping, exc))
        report = _apply(wh, checked, now)
    finally:
        for _mapping, outcome in checked:
            for table in outcome.temporary if isinstance(outcome, Validated) else ():
                wh.execute(f"DROP TABLE IF EXISTS {table}")
    prune_snapshots(wh, sorted({m.source for m in mappings}), snapshots_keep)
    return report


def import_into(
    url: str, mappings: Sequence[Mapping], now: dt.datetime | None = None
) -> ImportReport:
    """Import into the warehouse at `url` without disturbing those who read it meanwhile.

    An embedded (DuckDB) warehouse is copied, imported into, and the copy swapped in atomically, so a
    server reading the file keeps answering from the old version until the new one is published.
    PostgreSQL imports in one transaction (readers see the old rows until it commits)."""
    path = duckdb_file(url)
    if path is None:
        with open_warehouse(url) as wh:
            return import_sources(wh, mappings, now)
    with publish_duckdb(path) as staged, open_warehouse(f"duckdb://{staged}", write=True) as wh:
        report = import_sources(wh, mappings, now)
    return report


#: Tests set this False to hold the single-write path to the rebuild it replaces.
SINGLE_WRITE = True


def _direct_entities(
    wh: Warehouse, checked: list[tuple[Mapping, Validated | ExtractError]]
) -> set[str]:
    """Kinds whose entity table can be written straight from this import's validation query: one
    loaded source in this batch, no other current source, no links, not a link kind, validated
    inside DuckDB."""
    if not SINGLE_WRITE or wh.dialect != "duckdb":
        return set()
    loaded = [(m, o) for m, o in checked if isinstance(o, Validated)]
    direct = set()
    for entity in {m.entity for m, _o in loaded}:
        mine = [(m, o) for m, o in loaded if m.entity == entity]
        if len(mine) != 1 or mine[0][0].links or mine[0][1].good_query is None:
            continue
        # check_links reads the snapshots of link kinds and households row by row (with `_row`).
        if load_catalog(entity).is_link or entity == "household":
            continue
        others = [s for s in current_sources(wh, entity) if s.source != mine[0][0].source]
        if not others:
            direct.add(entity)
    return direct


def _apply(
    wh: Warehouse, checked: list[tuple[Mapping, Validated | ExtractError]], now: dt.datetime
) -> ImportReport:
    results: list[SourceImport] = []
    ensure_tables(wh)
    with wh.transaction():
        wh.lock(IMPORTS)
        next_id = int(wh.rows(f"SELECT coalesce(max(import_id), 0) FROM {IMPORTS}")[0][0]) + 1
        direct = _direct_entities(wh, checked)
        for offset, (mapping, outcome) in enumerate(checked):
            results.append(
                _record(wh, mapping, outcome, next_id + offset, now, mapping.entity in direct)
            )
        entities = sorted({m.entity for m, o in checked if not isinstance(o, ExtractError)})
        conflicts = {
            entity: 0 if entity in direct else rebuild_entity(wh, entity)
            for entity in entities
            if not load_catalog(entity).is_link  # link kinds: rebuilt and checked by check_links
        }
        if any(m.links for m, o in checked if not isinstance(o, ExtractError)):
            rebuild_links(wh)
        from zhixiang.datahub._links import check_links

        groups = check_links(wh, entities)
        counts = {e: int(wh.rows(f"SELECT count(*) FROM {quote(e)}")[0][0]) for e in entities}
    return ImportReport(
        sources=tuple(results), conflicts=conflicts, entity_rows=counts, link_quarantine=groups
    )


def _record(
    wh: Warehouse,
    mapping: Mapping,
    outcome: Validated | ExtractError,
    import_id: int,
    now: dt.datetime,
    direct: bool = False,
) -> SourceImport:
    modified = _modified_at(mapping)
    if isinstance(outcome, ExtractError):
        message = str(outcome)
        _insert_import(wh, mapping, import_id, now, modified, "rejected", 0, 0, 0, None, message)
        q = pa.table(
            {
                "import_id": [import_id],
                "source": [mapping.source],
                "row_number": pa.array([outcome.row], pa.int64()),
                "field": ["*"],
                "reason": [f"整个文件未导入: {message}"],
                "value": pa.array([None], pa.string()),
                "record": pa.array([None], pa.string()),
            },
            schema=QUARANTINE_TABLE_SCHEMA,
        )
        wh.append(QUARANTINE, q)
        return SourceImport(
            mapping.source,
            mapping.entity,
            import_id,
            "rejected",
            0,
            0,
            0,
            message,
            tuple(q.to_pylist()),
        )
    snapshot = f"dh_snapshot_{import_id}"
    if direct:
        _write_entity_directly(wh, mapping, outcome, snapshot)
    elif outcome.good is not None:
        wh.write(snapshot, outcome.good)
    else:
        wh.execute(f"CREATE TABLE {quote(snapshot)} AS {outcome.good_query}")
    quarantined = outcome.quarantine
    n = quarantined.num_rows
    q = pa.table(
        {
            "import_id": pa.array([import_id] * n, pa.int64()),
            "source": pa.array([mapping.source] * n, pa.string()),
            **{name: quarantined[name] for name in quarantined.column_names},
        },
        schema=QUARANTINE_TABLE_SCHEMA,
    )
    wh.append(QUARANTINE, q)
    bad_rows = len(set(quarantined["row_number"].to_pylist()))
    wh.execute(
        f"UPDATE {IMPORTS} SET status = 'previous' WHERE source = ? AND status = 'current'",
        [mapping.source],
    )
    _insert_import(
        wh,
        mapping,
        import_id,
        now,
        modified,
        "current",
        outcome.rows_read,
        outcome.rows_loaded,
        bad_rows,
        snapshot,
        "",
    )
    return SourceImport(
        mapping.source,
        mapping.entity,
        import_id,
        "loaded",
        outcome.rows_read,
        outcome.rows_loaded,
        bad_rows,
        "",
        tuple(q.slice(0, 50).to_pylist()),
    )


def _insert_import(
    wh: Warehouse,
    mapping: Mapping,
    import_id: int,
    now: dt.datetime,
    modified: dt.datetime | None,
    status: str,
    rows_read: int,
    rows_loaded: int,
    rows_quarantined: int,
    snapshot: str | None,
    message: str,
) -> None:
    fields = ",".join(
        [c.field for c in mapping.columns] + [link_column(x.kind) for x in mapping.links]
    )
    row = {
        "import_id": import_id,
        "source": mapping.source,
        "department": mapping.department,
        "entity": mapping.entity,
        "priority": mapping.priority,
        "format": mapping.format,
        "location": _redact(mapping.location) if mapping.format == "sql" else mapping.location,
        "imported_at": now,
        "extract_modified_at": modified,
        "status": status,
        "rows_read": rows_read,
        "rows_loaded": rows_loaded,
        "rows_quarantined": rows_quarantined,
        "snapshot": snapshot,
        "fields": fields,
        "message": message,
        "mapping": mapping.text,
    }
    wh.append(IMPORTS, pa.Table.from_pylist([row], schema=IMPORTS_SCHEMA))


def _redact(url: str) -> str:
    """Never keep a database password in the bookkeeping tables."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


@dataclass(frozen=True)
class _Current:
    import_id: int
    source: str
    priority: int
    snapshot: str
    fields: tuple[str, ...]


def current_sources(wh: Warehouse, entity: str) -> list[_Current]:
    """The current snapshot of every source of an entity kind, highest priority (then newest) first."""
    rows = wh.rows(
        f"SELECT import_id, source, priority, snapshot, fields FROM {IMPORTS} "
        "WHERE entity = ? AND status = 'current' ORDER BY priority DESC, imported_at DESC, import_id DESC",
        [entity],
    )
    return [_Current(int(i), s, int(p), snap, tuple(f.split(","))) for i, s, p, snap, f in rows]


def _view_snapshots(wh: Warehouse, entity: str) -> list[str]:
    """Snapshots of `entity` that are views of its entity table (written by the single-write path)."""
    if wh.dialect != "duckdb":
        return []
    return [
        name
        for (name,) in wh.rows(
            f"""SELECT view_name FROM duckdb_views() WHERE NOT internal AND view_name IN
            (SELECT snapshot FROM {IMPORTS} WHERE entity = ? AND snapshot IS NOT NULL)""",
            [entity],
        )
    ]


def _release_entity(wh: Warehouse, entity: str) -> None:
    """Before an entity table is replaced: a snapshot that is a view of it becomes the table itself
    (a rename, no copy), so that snapshot keeps its rows; otherwise the table is dropped."""
    views = _view_snapshots(wh, entity)
    if views and wh.has_table(entity):
        for view in views:
            wh.execute(f"DROP VIEW {quote(view)}")
        wh.execute(f"DROP INDEX IF EXISTS {quote(entity + '_by_key')}")
        wh.execute(f"ALTER TABLE {quote(entity)} RENAME TO {quote(views[0])}")
        for view in views[1:]:  # not expected: one view per entity table
            wh.execute(f"CREATE VIEW {quote(view)} AS SELECT * FROM {quote(views[0])}")
        return
    wh.drop_table(entity)


def _write_entity_directly(
    wh: Warehouse, mapping: Mapping, outcome: Validated, snapshot: str
) -> None:
    """The single write: validated rows go straight into the entity table; the snapshot is a view."""
    catalog = load_catalog(mapping.entity)
    _release_entity(wh, mapping.entity)
    wh.create_table(mapping.entity, catalog.arrow_schema(), if_not_exists=False)
    mapped = ", ".join(quote(c.field) for c in mapping.columns)
    wh.execute(
        f"INSERT INTO {quote(mapping.entity)} ({mapped}) SELECT {mapped} FROM ({outcome.good_query})"
    )
    wh.execute(f"DELETE FROM {CONFLICTS} WHERE entity = ?", [mapping.entity])
    wh.execute(
        f"CREATE UNIQUE INDEX {quote(mapping.entity + '_by_key')} "
        f"ON {quote(mapping.entity)} ({quote(catalog.key)})"
    )
    wh.execute(f"CREATE VIEW {quote(snapshot)} AS SELECT {mapped} FROM {quote(mapping.entity)}")


def prune_snapshots(wh: Warehouse, sources: Sequence[str], keep: int) -> int:
    """Drop the snapshots of earlier imports beyond the newest `keep` per source; returns how many.
    Their bookkeeping rows stay (with no snapshot) so the history still lists them."""
    dropped = 0
    for source in sources:
        old = wh.rows(
            f"""SELECT import_id, snapshot FROM {IMPORTS} WHERE source = ? AND status = 'previous'
            AND snapshot IS NOT NULL ORDER BY import_id DESC""",
            [source],
        )[keep:]
        for import_id, snapshot in old:
            with wh.transaction():
                if snapshot in _view_snapshots_named(wh, snapshot):
                    wh.execute(f"DROP VIEW {quote(snapshot)}")
                else:
                    wh.drop_table(snapshot)
                wh.execute(
                    f"UPDATE {IMPORTS} SET snapshot = NULL WHERE import_id = ?", [int(import_id)]
                )
            dropped += 1
    return dropped


def _view_snapshots_named(wh: Warehouse, name: str) -> list[str]:
    if wh.dialect != "duckdb":
        return []
    return [
        v for (v,) in wh.rows("SELECT view_name FROM duckdb_views() WHERE view_name = ?", [name])
    ]


def rebuild_entity(wh: Warehouse, entity: str) -> int:
    """Rebuild an entity table from the current snapshots and record conflicting values; returns how many."""
    catalog = load_catalog(entity)
    key = catalog.key
    _release_entity(wh, entity)
    sources = current_sources(wh, entity)
    wh.drop_table(entity)
    wh.create_table(entity, catalog.arrow_schema(), if_not_exists=False)
    wh.execute(f"DELETE FROM {CONFLICTS} WHERE entity = ?", [entity])
    if not sources:
        return 0
    alias = {s.source: f"s{i}" for i, s in enumerate(sources)}
    keys = " UNION ".join(f"SELECT {quote(key)} AS k FROM {quote(s.snapshot)}" for s in sources)
    joins = " ".join(
        f"LEFT JOIN {quote(s.snapshot)} {alias[s.source]} ON {alias[s.source]}.{quote(key)} = keys.k"
        for s in sources
    )
    rows, key_expr = f"({keys}) keys {joins}", "keys.k"
    if len(sources) == 1:  # keys are unique within a snapshot: no union, no join
        rows, key_expr = f"{quote(sources[0].snapshot)} s0", f"s0.{quote(key)}"
    selected = []
    for f in catalog.fields:
        if f.name == key:
            selected.append(key_expr)
            continue
        providers = [f"{alias[s.source]}.{quote(f.name)}" for s in sources if f.name in s.fields]
        if not providers:
            selected.append("NULL")
        elif len(providers) == 1:
            selected.append(providers[0])
        else:
            selected.append(f"COALESCE({', '.join(providers)})")
    columns = ", ".join(quote(f.name) for f in catalog.fields)
    wh.execute(f"INSERT INTO {quote(entity)} ({columns}) SELECT {', '.join(selected)} FROM {rows}")
    # The policy calculator looks entities up one at a time: an index turns a scan into a probe.
    wh.execute(f"CREATE UNIQUE INDEX {quote(entity + '_by_key')} ON {quote(entity)} ({quote(key)})")
    conflicts = 0
    for f in catalog.fields:
        holders = [s for s in sources if f.name in s.fields and f.name != key]
        if len(holders) < 2:
            continue
        col = quote(f.name)
        chosen = " ".join(
            f"WHEN {alias[s.source]}.{col} IS NOT NULL THEN '{s.source.replace(chr(39), chr(39) * 2)}'"
            for s in holders
        )
        provider_joins = " ".join(
            f"LEFT JOIN {quote(s.snapshot)} {alias[s.source]} ON {alias[s.source]}.{quote(key)} = e.{quote(key)}"
            for s in holders
        )
        for other in holders:
            o = alias[other.source]
            wh.execute(
                f"""INSERT INTO {CONFLICTS}
                SELECT ?, e.{quote(key)}, ?, CASE {chosen} END, CAST(e.{col} AS VARCHAR), ?, CAST({o}.{col} AS VARCHAR)
                FROM {quote(entity)} e {provider_joins}
                WHERE {o}.{col} IS NOT NULL AND {o}.{col} <> e.{col}""",
                [entity, f.name, other.source],
            )
        conflicts = int(
            wh.rows(f"SELECT count(*) FROM {CONFLICTS} WHERE entity = ?", [entity])[0][0]
        )
    return conflicts


def rebuild_links(wh: Warehouse) -> None:
    """Rebuild the link table (person works at enterprise, owns or lives in a house, ...)."""
    wh.drop_table(LINKS)
    wh.create_table(LINKS, LINKS_SCHEMA, if_not_exists=False)
    for entity in ENTITIES:
        key = load_catalog(entity).key
        for s in current_sources(wh, entity):
            for kind, (source_entity, target) in LINK_KINDS.items():
                col = link_column(kind)
                if source_entity != entity or col not in s.fields:
                    continue
                wh.execute(
                    f"""INSERT INTO {LINKS} SELECT ?, ?, {quote(key)}, ?, {quote(col)}, ?
                    FROM {quote(s.snapshot)} WHERE {quote(col)} IS NOT NULL""",
                    [kind, entity, target, s.source],
                )


def list_imports(wh: Warehouse, source: str | None = None, history: bool = False) -> pa.Table:
    """Registered sources with their current import (and, with history, every earlier snapshot)."""
    ensure_tables(wh)
    where = [] if history else ["status IN ('current', 'rejected')"]
    params: list[object] = []
    if source:
        where.append("source = ?")
        params.append(source)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    table = wh.arrow(
        f"""SELECT import_id, source, department, entity, priority, format, location, imported_at,
        status, rows_read, rows_loaded, rows_quarantined, message FROM {IMPORTS} {clause}
        ORDER BY source, import_id DESC""",
        params,
    )
    if history:
        return table
    # A rejected import matters only while it is newer than the source's current one.
    latest: dict[str, int] = {}
    keep = []
    for i, row in enumerate(table.to_pylist()):
        if row["source"] not in latest:
            latest[row["source"]] = row["import_id"]
            keep.append(i)
        elif row["status"] == "current":
            keep.append(i)
    return table.take(keep)


def quarantine_rows(
    wh: Warehouse,
    source: str | None = None,
    limit: int | None = None,
    redact_personal: bool = False,
) -> pa.Table:
    """Quarantined cells of the latest import of each source (a re-import replaces them).

    With `redact_personal` (for readers other than the data officer) raw values of personal fields and
    whole raw rows of person sources are withheld: quarantine must not become a way around grants.
    """
    ensure_tables(wh)
    params: list[object] = []
    extra = ""
    if source:
        extra = "AND q.source = ?"
        params.append(source)
    sql = f"""SELECT q.source, latest.entity, q.import_id, q.row_number, q.field, q.reason, q.value, q.record
        FROM {QUARANTINE} q
        JOIN (SELECT source, max(import_id) AS import_id, max(entity) AS entity FROM {IMPORTS}
              GROUP BY source) latest
          ON latest.source = q.source AND latest.import_id = q.import_id
        WHERE 1 = 1 {extra} ORDER BY q.source, q.row_number, q.field"""
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    table = wh.arrow(sql, params)
    if not redact_personal or table.num_rows == 0:
        return table
    rows = [redact_quarantine(row, row["entity"]) for row in table.to_pylist()]
    return pa.Table.from_pylist(rows, schema=table.schema)


def conflict_rows(wh: Warehouse, entity: str | None = None, limit: int | None = None) -> pa.Table:
    ensure_tables(wh)
    sql = f"SELECT * FROM {CONFLICTS}" + (" WHERE entity = ?" if entity else "")
    sql += " ORDER BY entity, entity_key, field"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return wh.arrow(sql, [entity] if entity else [])


def snapshot_of(wh: Warehouse, source: str) -> tuple[str, str] | None:
    """(snapshot table, entity) of a source's current import."""
    rows = wh.rows(
        f"SELECT snapshot, entity FROM {IMPORTS} WHERE source = ? AND status = 'current'", [source]
    )
    return (rows[0][0], rows[0][1]) if rows else None


__all__ = [
    "ROW",
    "ImportReport",
    "SourceImport",
    "conflict_rows",
    "current_sources",
    "ensure_tables",
    "import_into",
    "import_sources",
    "list_imports",
    "prune_snapshots",
    "quarantine_rows",
    "rebuild_entity",
    "rebuild_links",
    "snapshot_of",
]
