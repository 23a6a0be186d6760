"""Batch matching: every policy over every entity, written by the engine itself, published atomically.

One algorithm for every engine (DuckDB here, Spark in `_spark.py`), in plain SQL both understand:

1. Stage the entity table with a row index `_idx`; write the entity list (idx, entity_id, fingerprint).
2. Map the previous run's entities onto this run's by entity_id (`idmap`); an entity is unchanged
   when its fingerprint (a hash of all its facts) is the same.
3. Per policy, one query straight to Parquet: the rows worth keeping — eligible, needs information,
   near-miss, or changed since the previous run — with the condition outcomes as bit masks. An
   incremental run copies the previous rows of unchanged entities for a policy whose compiled SQL is
   unchanged and evaluates only the rest; the answer is the same as a full run's (tested).
4. Counts come from the kept rows (every row not kept is ineligible), then the manifest is written
   and `current.json` switched.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import ibis

from zhixiang.catalog import load_catalog
from zhixiang.errors import NotFound, ZhixiangError
from zhixiang.matching import _store as store
from zhixiang.matching._compiled import ENTITIES, CompiledPolicy, PolicyCompiler
from zhixiang.matching._engine import data_problem_counts, describe_problems
from zhixiang.rules import NEAR_MISS_CLOSENESS, Policy


class MatchFailed(ZhixiangError):
    """The engine could not run a policy; the message names the policy and the engine's reason."""

    status = 503
    exit_code = 1


class Engine(Protocol):
    """What the algorithm needs from an engine: run SQL, write a query to Parquet, read Parquet back."""

    name: str
    dialect: str  # for compiling policies
    fingerprint_kind: str

    def schema(self) -> ibis.Schema: ...
    def execute(self, sql: str) -> None: ...
    def fetch(self, sql: str) -> list[dict]: ...
    def write(self, query: str, directory: Path) -> None: ...
    def parquet(self, directory: Path) -> str: ...
    def view(self, name: str, query: str) -> None: ...
    def materialize(self, name: str, query: str) -> None: ...
    def fingerprint(self, columns: Sequence[str]) -> str: ...
    def quote(self, name: str) -> str: ...
    def reason(self, exc: BaseException) -> str: ...
    def close(self) -> None: ...


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


# Parquet 2 encodings (delta for integers and strings) and no dictionaries (ids and fingerprints are
# unique; delta packs the small masks nearly as well): ~10% less CPU per policy than the default,
# files a quarter of the size. DuckDB, Spark 3.3+ and pyarrow read them.
_PARQUET = "FORMAT parquet, PARQUET_VERSION v2, DICTIONARY_SIZE_LIMIT 1"


class DuckEngine:
    """DuckDB in memory, reading the warehouse (a DuckDB file attached read-only, a PostgreSQL
    table streamed in, or Parquet) and writing Parquet with COPY; it spills to disk past its limit."""

    name = "duckdb"
    dialect = "duckdb"
    fingerprint_kind = "duckdb-hash"

    def __init__(
        self,
        source: str | Path,
        table: str,
        *,
        spill_dir: Path,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET preserve_insertion_order = false")  # lets COPY write in parallel
        self.con.execute(f"SET temp_directory = {_literal(spill_dir)}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {_literal(memory_limit)}")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.con.execute(
            f"CREATE TEMP VIEW staged AS SELECT rowid AS _idx, * FROM {self._base(str(source), table)}"
        )

    def _base(self, source: str, table: str) -> str:
        if source.startswith("duckdb://"):
            db_file = source.removeprefix("duckdb://")
            if not db_file or db_file == ":memory:" or not Path(db_file).is_file():
                raise NotFound(f"找不到数据仓库文件: {db_file or '(内存)'}", field="warehouse")
            self.con.execute(f"ATTACH {_literal(db_file)} AS warehouse (READ_ONLY)")
            tables = {r[0] for r in self.con.execute("SHOW TABLES FROM warehouse").fetchall()}
            if table not in tables:
                raise NotFound(f"数据仓库中没有主体表 {table}", field="table")
            return f"warehouse.main.{_quote(table)}"
        if source.startswith(("postgres://", "postgresql://")):
            reader = ibis.connect(source).table(table).to_pyarrow_batches(chunk_size=200_000)
            self.con.register("postgres_rows", reader)
            self.con.execute("CREATE TEMP TABLE base AS SELECT * FROM postgres_rows")
            self.con.unregister("postgres_rows")
            return "base"
        path = Path(source)
        if not path.exists():
            raise NotFound(f"找不到主体数据: {path}", field="input")
        pattern = path / "*.parquet" if path.is_dir() else path
        self.con.execute(
            f"CREATE TEMP TABLE base AS SELECT * FROM read_parquet({_literal(pattern)})"
        )
        return "base"

    def schema(self) -> ibis.Schema:
        arrow = self.con.execute("SELECT * EXCLUDE (_idx) FROM staged LIMIT 0").arrow().schema
        return ibis.Schema.from_pyarrow(arrow)

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def fetch(self, sql: str) -> list[dict]:
        cursor = self.con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def write(self, query: str, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # Pushing the keep filter below the policy's projection would evaluate the closeness and
        # masks twice (in the filter for every entity, again for the kept rows): ~8% of a run's CPU.
        self.con.execute("SET disabled_optimizers = 'filter_pushdown'")
        try:
            self.con.execute(
                f"COPY ({query}) TO {_literal(directory / 'data.parquet')} ({_PARQUET})"
            )
        finally:
            self.con.execute("RESET disabled_optimizers")

    def parquet(self, directory: Path) -> str:
        return f"read_parquet({_literal(directory / '*.parquet')})"

    def view(self, name: str, query: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {query}")

    def materialize(self, name: str, query: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query}")

    def fingerprint(self, columns: Sequence[str]) -> str:
        return f"hash({', '.join(map(_quote, columns))})"

    def quote(self, name: str) -> str:
        return _quote(name)

    def reason(self, exc: BaseException) -> str:
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__

    def close(self) -> None:
        self.con.close()


# ---------------------------------------------------------------- the queries, engine-neutral SQL

# Eligible, needs information, close enough to be worth telling, or qualifying later by a date alone.
# A near-miss list may ask for any closeness from KEEP_CLOSENESS up. A row that misses one condition
# but is not close (a scope it is not in, a threshold far off) is read by no list: counted, not kept
# (at 1M × 14 that was 72% of the kept rows).
KEEP_CLOSENESS = Decimal("0.5")
_KEEP = f"({{t}}.failed = 0 OR {{t}}.closeness >= {KEEP_CLOSENESS} OR {{t}}.holds_on IS NOT NULL)"
_COLUMNS = "{t}.idx, {t}.failed, {t}.unknown, {t}.amount, {t}.closeness, {t}.holds_on"
_DIFFERS = (
    "({c}.failed <> {p}.failed OR {c}.unknown <> {p}.unknown"
    " OR {c}.amount IS DISTINCT FROM {p}.amount)"
)


def _evaluated(sql: str, previous: str | None) -> str:
    """Rows of the compiled policy worth keeping, with `changed` against the previous run's rows."""
    if previous is None:  # nothing to compare with: every kept row is news
        return (
            f"SELECT {_COLUMNS.format(t='c')}, true AS changed"
            f" FROM ({sql}) c WHERE {_KEEP.format(t='c')}"
        )
    differs = _DIFFERS.format(c="c", p="p")
    return (
        f"SELECT {_COLUMNS.format(t='c')},"
        f" CASE WHEN p.idx IS NULL THEN {_KEEP.format(t='c')} ELSE {differs} END AS changed"
        f" FROM ({sql}) c LEFT JOIN ({previous}) p ON c.idx = p.idx"
        f" WHERE {_KEEP.format(t='c')} OR (p.idx IS NOT NULL AND {differs})"
    )


def _previous_rows(rows: str, same_order: bool) -> str:
    """The previous run's rows of a policy, renumbered into this run's entity index."""
    if same_order:  # the same entities in the same order: the numbers already agree
        return f"SELECT idx, failed, unknown, amount FROM {rows}"
    return (
        f"SELECT m.idx, r.failed, r.unknown, r.amount FROM {rows} r JOIN idmap m ON r.idx = m.p_idx"
    )


def _reused(rows: str, same_order: bool) -> str:
    """Unchanged entities keep the previous outcome; rows kept only because they changed then go."""
    keep = _KEEP.format(t="r")
    if same_order:
        return (
            f"SELECT {_COLUMNS.format(t='r')}, false AS changed FROM"
            f" {rows} r WHERE {keep} AND NOT EXISTS"
            " (SELECT 1 FROM changed_entities c WHERE c._idx = r.idx)"
        )
    return (
        "SELECT m.idx, r.failed, r.unknown, r.amount, r.closeness, r.holds_on, false AS changed"
        f" FROM {rows} r JOIN idmap m ON r.idx = m.p_idx WHERE m.same AND {keep}"
    )


def _counts(policy_id: str, rows: str) -> str:
    return (
        f"SELECT {_literal(policy_id)} AS policy_id, count(*) AS kept,"
        " sum(CASE WHEN failed = 0 AND unknown = 0 THEN 1 ELSE 0 END) AS eligible,"
        " sum(CASE WHEN failed = 0 AND unknown <> 0 THEN 1 ELSE 0 END) AS needs_information,"
        f" sum(CASE WHEN closeness >= {NEAR_MISS_CLOSENESS} THEN 1 ELSE 0 END) AS near_miss,"
        " sum(CASE WHEN changed THEN 1 ELSE 0 END) AS changed,"
        f" sum(amount) AS total_amount FROM {rows}"
    )


# ---------------------------------------------------------------- the run


@dataclass(frozen=True)
class _Previous:
    """The published run this one is compared with, when its entities can be matched to ours."""

    run: store.MatchRun
    incremental: bool  # fingerprints comparable and not forced full
    same_order: bool  # the same entities under the same row numbers as in the previous run

    def rows(self, engine: Engine, policy_id: str) -> str | None:
        assert self.run.path is not None
        if policy_id not in {p.policy_id for p in self.run.policies}:
            return None
        return engine.parquet(self.run.path / "rows" / f"policy_id={policy_id}")


def open_engine(
    engine: str, source: str | Path, table: str, spill_dir: Path, **options: object
) -> Engine:
    if engine == "duckdb":
        return DuckEngine(source, table, spill_dir=spill_dir, **options)  # type: ignore[arg-type]
    if engine == "spark":
        from zhixiang.matching._spark import SparkEngine

        return SparkEngine(source, table, spill_dir=spill_dir, **options)  # type: ignore[arg-type]
    raise NotFound(f"未知的计算引擎 {engine}（可选: duckdb、spark）", field="engine")


def run_matching(
    source: str | Path,
    policies: Sequence[Policy],
    as_of: date,
    *,
    results_dir: Path,
    entity: str = "enterprise",
    table: str | None = None,
    engine: str = "duckdb",
    full: bool = False,
    keep: int = 3,
    progress: Callable[[Policy], None] | None = None,
    **engine_options: object,
) -> store.MatchRun:
    """Evaluate the policies in force on `as_of` over the entity table and publish the run.

    `source` is a warehouse URL (`duckdb:///file`, `postgresql://…`) or a Parquet file/folder.
    Incremental unless `full`: when the previous run used the same entity fingerprints, only
    entities whose facts changed, and policies whose compiled SQL changed, are evaluated.
    """
    started = time.perf_counter()
    catalog = load_catalog(entity)
    mine = [p for p in policies if p.entity == entity]
    in_force = [p for p in mine if p.in_force(as_of)]
    with store.writer_lock(results_dir):
        store.collect_garbage(results_dir, keep)
        run = store.MatchRun(
            run_id=store.new_run_id(),
            as_of=as_of,
            entities=0,
            skipped=[p.id for p in mine if not p.in_force(as_of)],
            entity=entity,
            key=catalog.key,
            engine=engine,
            started=datetime.now().isoformat(timespec="seconds"),
        )
        run.path = store.run_path(results_dir, run.run_id)
        spill = run.path / ".spill"
        spill.mkdir(parents=True)
        try:
            eng = open_engine(engine, source, table or entity, spill, **engine_options)
            try:
                _run(eng, run, in_force, as_of, results_dir, full, progress)
            except BaseException:
                with contextlib.suppress(Exception):  # a dead engine must not hide why it died
                    eng.close()
                raise
            eng.close()
            shutil.rmtree(spill, ignore_errors=True)
            run.seconds = round(time.perf_counter() - started, 3)
            store.publish(results_dir, run)
        except BaseException:
            shutil.rmtree(run.path, ignore_errors=True)
            raise
    return run


def _run(
    eng: Engine,
    run: store.MatchRun,
    policies: Sequence[Policy],
    as_of: date,
    results_dir: Path,
    full: bool,
    progress: Callable[[Policy], None] | None,
) -> None:
    assert run.path is not None
    schema = eng.schema()
    if run.key not in schema:
        raise NotFound(f"主体表缺少主键列 {run.key}", field=run.key)
    run.fingerprint = eng.fingerprint_kind
    counts = eng.fetch(ibis.to_sql(data_problem_counts(ibis.table(schema, "staged"), run.entity), dialect=eng.dialect))[0]  # fmt: skip
    run.entities = int(counts["rows"])
    run.data_problems = describe_problems(counts, run.entity)
    entities = run.path / "entities"
    eng.write(
        f"SELECT _idx AS idx, {eng.quote(run.key)} AS entity_id,"
        f" {eng.fingerprint(list(schema.names))} AS fp FROM staged",
        entities,
    )
    previous = _previous(eng, run, results_dir, entities, duplicates=bool(counts["duplicate_keys"]), full=full)  # fmt: skip
    if previous is not None:
        run.previous = previous.run.run_id
    if previous is not None and previous.incremental:
        run.mode = "incremental"
        eng.materialize(
            "changed_entities",
            "SELECT * FROM staged s WHERE NOT EXISTS"
            " (SELECT 1 FROM idmap m WHERE m.idx = s._idx AND m.same)",
        )
        run.changed_entities = int(eng.fetch("SELECT count(*) AS n FROM changed_entities")[0]["n"])
    compiler = PolicyCompiler(schema, eng.dialect, cache_dir=results_dir / "compiled")
    written = []
    for policy in policies:
        compiled = compiler(policy, as_of)
        written.append((compiled, _match_policy(eng, run, compiled, previous)))
        if progress:
            progress(policy)
    if written:  # one query for all counts: engines like Spark pay a lot per query
        counts_sql = " UNION ALL ".join(
            _counts(c.policy.id, eng.parquet(run.path / "rows" / f"policy_id={c.policy.id}"))
            for c, _ in written
        )
        got = {row["policy_id"]: row for row in eng.fetch(counts_sql)}
        run.policies = [_policy_counts(run, c, got[c.policy.id], reused) for c, reused in written]


def _previous(
    eng: Engine,
    run: store.MatchRun,
    results_dir: Path,
    entities: Path,
    *,
    duplicates: bool,
    full: bool,
) -> _Previous | None:
    """The current published run, with its entities matched to ours, if it can be compared at all."""
    try:
        last = store.load_run(results_dir)
    except NotFound:
        return None
    if duplicates or last.path is None or (last.entity, last.key) != (run.entity, run.key):
        return None
    comparable = last.fingerprint == run.fingerprint
    eng.materialize(
        "idmap",
        f"SELECT c.idx, p.idx AS p_idx, {'c.fp = p.fp' if comparable else 'false'} AS same"
        f" FROM {eng.parquet(entities)} c JOIN {eng.parquet(last.path / 'entities')} p"
        " ON c.entity_id = p.entity_id",
    )
    mapped = eng.fetch(
        "SELECT count(*) AS n, sum(CASE WHEN idx = p_idx THEN 0 ELSE 1 END) AS moved FROM idmap"
    )[0]
    same_order = mapped["n"] == run.entities == last.entities and not mapped["moved"]
    return _Previous(last, incremental=comparable and not full, same_order=same_order)


def _match_policy(
    eng: Engine, run: store.MatchRun, compiled: CompiledPolicy, previous: _Previous | None
) -> bool:
    """Write the policy's kept rows; True when only changed entities were evaluated."""
    policy = compiled.policy
    assert run.path is not None
    out = run.path / "rows" / f"policy_id={policy.id}"
    prev_rows = previous.rows(eng, policy.id) if previous else None
    prev_counts = previous.run.policy(policy.id) if prev_rows and previous else None
    reuse = bool(previous and previous.incremental and prev_counts and prev_counts.version == compiled.version)  # fmt: skip
    same_order = bool(previous and previous.same_order)
    prev_relation = _previous_rows(prev_rows, same_order) if prev_rows else None
    try:
        eng.view(ENTITIES, f"SELECT * FROM {'changed_entities' if reuse else 'staged'}")
        query = _evaluated(compiled.sql, prev_relation)
        if reuse:
            assert prev_rows is not None
            query = f"{_reused(prev_rows, same_order)} UNION ALL {query}"
        eng.write(query, out)
    except ZhixiangError:
        raise
    except Exception as exc:
        raise MatchFailed(
            f"政策 {policy.id}（{policy.title}）在 {eng.name} 上运行失败: {eng.reason(exc)}",
            field=policy.id,
        ) from exc
    return reuse


def _policy_counts(
    run: store.MatchRun, compiled: CompiledPolicy, got: dict, reused: bool
) -> store.PolicyCounts:
    """Every row not kept is ineligible, so the kept rows and the entity count give every figure."""
    policy = compiled.policy
    eligible = int(got["eligible"] or 0)
    needs_information = int(got["needs_information"] or 0)
    return store.PolicyCounts(
        policy_id=policy.id,
        title=policy.title,
        eligible=eligible,
        needs_information=needs_information,
        ineligible=run.entities - eligible - needs_information,
        near_miss=int(got["near_miss"] or 0),
        total_amount=Decimal(got["total_amount"] or 0),
        conditions=policy.condition_ids(),
        has_benefit=policy.benefit is not None,
        version=compiled.version,
        kept=int(got["kept"] or 0),
        changed=int(got["changed"] or 0),
        reused=reused,
    )
