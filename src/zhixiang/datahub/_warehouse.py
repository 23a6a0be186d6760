"""Where entity tables live: a DuckDB file by default, a PostgreSQL schema in production.

Only this module knows the difference; the rest of the data hub writes portable SQL with `?` placeholders
and hands over Arrow tables.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.csv as pacsv

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WarehouseError(RuntimeError):
    """The warehouse could not be opened or used; the message names the URL and what failed."""


def quote(name: str) -> str:
    """Quote an identifier that we generate ourselves (never user text)."""
    if not _NAME.match(name):
        raise WarehouseError(f"表名或列名不合法: {name!r}")
    return f'"{name}"'


def sql_type(dtype: pa.DataType) -> str:
    """The portable SQL type (DuckDB and PostgreSQL agree on these spellings) of an Arrow type."""
    if pa.types.is_decimal(dtype):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if pa.types.is_date(dtype):
        return "DATE"
    if pa.types.is_boolean(dtype):
        return "BOOLEAN"
    if pa.types.is_integer(dtype):
        return "BIGINT"
    if pa.types.is_floating(dtype):
        return "DOUBLE PRECISION"
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMP"
    return "VARCHAR"


class Warehouse:
    """One connection to the warehouse named by a URL (`duckdb://<file>` or `postgresql://…[?schema=x]`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._in_transaction = False
        if url.startswith("duckdb://"):
            import duckdb

            self.dialect = "duckdb"
            target = url.removeprefix("duckdb://") or ":memory:"
            self._target = target
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._duck = duckdb.connect(target)
            except duckdb.Error as exc:
                raise WarehouseError(f"无法打开 DuckDB 仓库 {target}: {exc}") from exc
        elif url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            import psycopg

            self.dialect = "postgres"
            conninfo, schema = _split_schema(url.replace("postgresql+psycopg://", "postgresql://"))
            try:
                self._pg = psycopg.connect(conninfo, autocommit=True)
            except psycopg.Error as exc:
                raise WarehouseError(f"无法连接 PostgreSQL 仓库: {exc}") from exc
            self.schema = schema or "public"
            if schema:
                self._pg.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
                self._pg.execute(f"SET search_path TO {quote(schema)}")
        else:
            raise WarehouseError(f"不支持的仓库地址 (应为 duckdb:// 或 postgresql://): {url}")

    @property
    def identity(self) -> str:
        """A stable name of the warehouse (the resolved file, or server/database/schema without the
        password): what the audit checkpoints are filed under."""
        if self.dialect == "duckdb":
            return f"duckdb:{self._target if self._target == ':memory:' else Path(self._target).resolve()}"
        info = self._pg.info
        return (
            f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}?schema={self.schema}"
        )

    def close(self) -> None:
        if self.dialect == "duckdb":
            self._duck.close()
        else:
            self._pg.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statements ---------------------------------------------------------------------------------

    def _pg_sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.dialect == "duckdb":
            self._duck.execute(sql, list(params))
        else:
            self._pg.execute(self._pg_sql(sql), list(params) or None)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        if self.dialect == "duckdb":
            return self._duck.execute(sql, list(params)).fetchall()
        cur = self._pg.execute(self._pg_sql(sql), list(params) or None)
        return cur.fetchall()

    def arrow(
        self, sql: str, params: Sequence[Any] = (), schema: pa.Schema | None = None
    ) -> pa.Table:
        """Run a query and return its result as Arrow (cast to `schema` when given)."""
        if self.dialect == "duckdb":
            table = self._duck.sql(sql, params=list(params) or None).to_arrow_table()
        else:
            cur = self._pg.execute(self._pg_sql(sql), list(params) or None)
            names = [d.name for d in cur.description or ()]
            data = cur.fetchall()
            columns = list(zip(*data, strict=True)) if data else [[] for _ in names]
            if schema is not None:
                return pa.table(
                    [
                        pa.array(col, type=schema.field(n).type)
                        for n, col in zip(names, columns, strict=True)
                    ],
                    names=names,
                )
            table = pa.table({n: pa.array(col) for n, col in zip(names, columns, strict=True)})
        return table.cast(schema) if schema is not None else table

    @contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """All or nothing: DDL and DML inside are rolled back together on any error."""
        if self._in_transaction:
            yield self
            return
        self._in_transaction = True
        try:
            if self.dialect == "duckdb":
                self._duck.begin()
                try:
                    yield self
                except BaseException:
                    self._duck.rollback()
                    raise
                self._duck.commit()
            else:
                with self._pg.transaction():
                    yield self
        finally:
            self._in_transaction = False

    def lock(self, table: str) -> None:
        """Serialise writers of `table` inside a transaction (DuckDB allows one writer process anyway)."""
        if self.dialect == "postgres":
            self.execute(f"LOCK TABLE {quote(table)} IN SHARE ROW EXCLUSIVE MODE")

    def duckdb_connection(self) -> Any:
        """The DuckDB connection of an embedded warehouse (validation then runs inside it), else None."""
        return self._duck if self.dialect == "duckdb" else None

    # -- tables -------------------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        if self.dialect == "duckdb":
            found = self.rows(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
                "AND table_schema = current_schema()",
                [name],
            )
        else:
            found = self.rows(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = ?",
                [name, self.schema],
            )
        return bool(found[0][0])

    def columns(self, name: str) -> list[str]:
        """The column names of table `name`, in order."""
        if self.dialect == "duckdb":
            return [r[0] for r in self._duck.execute(f"DESCRIBE {quote(name)}").fetchall()]
        cur = self._pg.execute(f"SELECT * FROM {quote(name)} LIMIT 0")
        return [d.name for d in cur.description or ()]

    def create_table(self, name: str, schema: pa.Schema, if_not_exists: bool = True) -> None:
        columns = ", ".join(f"{quote(f.name)} {sql_type(f.type)}" for f in schema)
        guard = "IF NOT EXISTS " if if_not_exists else ""
        self.execute(f"CREATE TABLE {guard}{quote(name)} ({columns})")

    def drop_table(self, name: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {quote(name)}")

    def write(self, name: str, table: pa.Table, replace: bool = False) -> None:
        """Create table `name` with the Arrow table's schema and rows (replacing it if asked)."""
        if replace:
            self.drop_table(name)
        self.create_table(name, table.schema, if_not_exists=False)
        self.append(name, table)

    def append(self, name: str, table: pa.Table) -> None:
        """Append Arrow rows to an existing table whose columns have the same names."""
        if table.num_rows == 0:
            return
        columns = ", ".join(quote(c) for c in table.column_names)
        if self.dialect == "duckdb":
            self._duck.register("_zx_arrow_in", table)
            try:
                self._duck.execute(
                    f"INSERT INTO {quote(name)} ({columns}) SELECT {columns} FROM _zx_arrow_in"
                )
            finally:
                self._duck.unregister("_zx_arrow_in")
            return
        buffer = io.BytesIO()
        # One chunk per column: pyarrow's CSV writer emits NUL bytes for some empty chunks.
        pacsv.write_csv(
            table.combine_chunks(),
            buffer,
            pacsv.WriteOptions(include_header=False, quoting_style="needed"),
        )
        with (
            self._pg.cursor() as cur,
            cur.copy(f"COPY {quote(name)} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
        ):
            copy.write(buffer.getvalue())


def _split_schema(url: str) -> tuple[str, str | None]:
    """Take our own `schema=` parameter out of a PostgreSQL URL; libpq does not know it."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def open_warehouse(url: str) -> Warehouse:
    """Open the warehouse at `url`; the caller closes it (it is a context manager)."""
    return Warehouse(url)
