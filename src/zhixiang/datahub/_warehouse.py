"""Where entity tables live: a DuckDB file by default, a PostgreSQL schema in production.

Only this module knows the difference; the rest of the data hub writes portable SQL with `?` placeholders
and hands over Arrow tables. It is the one way into the warehouse for the data hub, the API and the
calculator.

A DuckDB file is served while it is being re-imported (see `publish_duckdb` and `import_into`): an
import never opens the served file; it builds a copy and swaps it in with `os.replace`. Within one
process every user of a file shares one DuckDB instance (DuckDB allows one configuration per file per
process) and gets a cursor of it; when the file's identity (device, inode) changes, new users wait for
the old instance to drain and then open the new file. Writes to a served file (audit records, grants)
hold `<file>.lock`, are refused with `WarehouseBusy` (503, Retry-After) while an import is between
copy and swap — so none is lost with the old file — and are checkpointed at once, so the file alone
(never its WAL) is what an import copies.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.csv as pacsv

from zhixiang.errors import Unavailable

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WarehouseError(RuntimeError):
    """The warehouse could not be opened or used; the message names the URL and what failed."""


class WarehouseBusy(WarehouseError, Unavailable):
    """The warehouse is locked by another process or being swapped: retry in a moment (HTTP 503)."""

    def __init__(self, message: str, retry_after: int = 2) -> None:
        WarehouseError.__init__(self, message)
        Unavailable.__init__(self, message, retry_after)

    def __str__(self) -> str:
        return self.message


#: How long opening a DuckDB file waits for another process's lock or an old instance to drain.
BUSY_WAIT_SECONDS = 3.0


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino)


class _Shared:
    """One DuckDB instance of one file identity in this process, shared by cursors."""

    def __init__(self, root: Any, identity: tuple[int, int] | None, read_only: bool) -> None:
        self.root = root
        self.identity = identity
        self.read_only = read_only
        self.users = 0
        # Long-lived holders (the calculator's lookup) asked to let go when the file is replaced
        # or someone must write.
        self.releasers: list[Callable[[], None]] = []


_SHARED: dict[str, _Shared] = {}
_SHARED_LOCK = threading.Lock()


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(
        word in text for word in ("lock", "different configuration", "conflict", "already attached")
    )


def _attach(path: Path, write: bool = False) -> tuple[_Shared, Any]:
    """A cursor on the process's instance of `path`, opening (or reopening) it as needed.

    Readers share a read-only instance; a writer waits for it to drain (asking long-lived holders
    to let go) and opens the file read-write, and readers arriving meanwhile share that one."""
    import duckdb

    key = str(path)
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        releasers: list[Callable[[], None]] = []
        with _SHARED_LOCK:
            current = _identity(path)
            shared = _SHARED.get(key)
            stale = shared is not None and current is not None and shared.identity != current
            if shared is not None and (stale or (write and shared.read_only)):
                if shared.users == 0:  # replaced, or read-only and a writer waits: let it go
                    shared.root.close()
                    del _SHARED[key]
                    shared = None
                else:
                    releasers, shared.releasers = shared.releasers, []
            elif shared is not None:
                shared.users += 1
                return shared, shared.root.cursor()
            if shared is None:
                read_only = not write and current is not None
                try:
                    root = duckdb.connect(key, read_only=read_only)
                except duckdb.Error as exc:
                    if not _is_lock_conflict(exc):
                        raise WarehouseError(f"无法打开 DuckDB 仓库 {key}: {exc}") from exc
                else:
                    shared = _SHARED[key] = _Shared(root, _identity(path), read_only)
                    shared.users += 1
                    return shared, root.cursor()
        for release in releasers:
            release()
        if releasers:
            continue
        if time.monotonic() > deadline:
            raise WarehouseBusy(f"数据仓库 {path.name} 正被其他进程使用或正在切换，请稍后重试")
        time.sleep(0.02)


def _detach(shared: _Shared, cursor: Any) -> None:
    cursor.close()
    with _SHARED_LOCK:
        shared.users -= 1
        if shared.users == 0:
            # Closing the last user releases the file for other processes (as before).
            for key, value in list(_SHARED.items()):
                if value is shared:
                    del _SHARED[key]
            shared.root.close()


@contextmanager
def _flock(path: Path, mode: int) -> Iterator[bool]:
    """Hold an advisory lock on `path` (created if absent); yields False if a non-blocking try failed."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def write_lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def import_lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".import.lock")


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

    def __init__(self, url: str, write: bool = False) -> None:
        self.url = url
        self._in_transaction = False
        if url.startswith("duckdb://"):
            import duckdb

            self.dialect = "duckdb"
            target = url.removeprefix("duckdb://") or ":memory:"
            self._target = target
            self._shared: _Shared | None = None
            self._releasers: list[Callable[[], None]] = []
            self._path: Path | None = None
            if target == ":memory:":
                self._duck = duckdb.connect(target)
            else:
                self._path = Path(target).resolve()
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._shared, self._duck = _attach(self._path, write)
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
            if self._shared is not None:
                shared, self._shared = self._shared, None
                with _SHARED_LOCK:
                    shared.releasers = [r for r in shared.releasers if r not in self._releasers]
                _detach(shared, self._duck)
            elif self._path is None:
                self._duck.close()
        else:
            self._pg.close()

    def release_when_replaced(self, release: Callable[[], None]) -> None:
        """For a long-lived holder: `release` (which should close this) is called once the file has
        been replaced and someone wants the new one; the holder reopens on its next use."""
        if self._shared is not None:
            with _SHARED_LOCK:
                self._shared.releasers.append(release)
            self._releasers.append(release)

    def is_stale(self) -> bool:
        """Whether the DuckDB file was replaced (an import was published) since this was opened."""
        if self._shared is None or self._path is None:
            return False
        current = _identity(self._path)
        return current is not None and current != self._shared.identity

    def ensure_writable(self) -> None:
        """Switch a DuckDB file from the shared read-only instance to a read-write one (a new
        cursor: temporary objects of the old one are gone, so call this before making any)."""
        if self.dialect != "duckdb" or self._shared is None or not self._shared.read_only:
            return
        assert self._path is not None
        old, self._shared = self._shared, None
        with _SHARED_LOCK:
            old.releasers = [r for r in old.releasers if r not in self._releasers]
        _detach(old, self._duck)
        self._shared, self._duck = _attach(self._path, write=True)
        if self._releasers:
            with _SHARED_LOCK:
                self._shared.releasers.extend(self._releasers)

    @contextmanager
    def _guarded_write(self) -> Iterator[None]:
        """Serialise writes to a served DuckDB file with imports (see the module docstring)."""
        if self.dialect != "duckdb" or self._path is None:
            yield
            return
        self.ensure_writable()
        with _flock(write_lock_path(self._path), fcntl.LOCK_EX):
            with _flock(import_lock_path(self._path), fcntl.LOCK_SH | fcntl.LOCK_NB) as free:
                if not free:
                    raise WarehouseBusy("数据正在导入，写入（授权、审计记录）稍后重试")
            if self.is_stale():
                raise WarehouseBusy("数据仓库刚被新导入的版本替换，请重试")
            yield
            # Other transactions running: the WAL stays and is copied along by the next import.
            with suppress(Exception):
                self._duck.execute("CHECKPOINT")

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statements ---------------------------------------------------------------------------------

    def _pg_sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.dialect == "duckdb":
            verb = sql.lstrip()[:6].upper()
            if not self._in_transaction and verb in ("UPDATE", "DELETE", "INSERT"):
                with self._guarded_write():
                    self._duck.execute(sql, list(params))
                return
            if verb not in ("SELECT", "WITH", "SET", "PRAGMA", "DESCRI"):
                self.ensure_writable()  # DDL (CREATE, DROP, ALTER …) cannot run read-only
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
            columns: list[Sequence[Any]] = (
                list(zip(*data, strict=True)) if data else [[] for _ in names]
            )
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
                with self._guarded_write():
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
        if if_not_exists and self.has_table(name):
            return  # readers call this too: no write (and no read-write open) when it is there
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
        if self.dialect == "duckdb" and not self._in_transaction:
            with self.transaction():
                self.append(name, table)
            return
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


def open_warehouse(url: str, write: bool = False) -> Warehouse:
    """Open the warehouse at `url`; the caller closes it (it is a context manager). A DuckDB file is
    opened read-only until the first write (or at once with `write`, e.g. for an import)."""
    return Warehouse(url, write)


def duckdb_file(url: str) -> Path | None:
    """The file of an embedded warehouse URL (None for PostgreSQL or memory)."""
    if not url.startswith("duckdb://"):
        return None
    target = url.removeprefix("duckdb://")
    return None if target in ("", ":memory:") else Path(target).resolve()


@contextmanager
def publish_duckdb(path: Path) -> Iterator[Path]:
    """Copy-and-swap: yield a private copy of the served file to change, then publish it atomically.

    Holds `<file>.import.lock` throughout (one import at a time; writers answer busy meanwhile) and
    `<file>.lock` only while copying and swapping. The copy is fsync'd before `os.replace`, and the
    directory after, so a crash leaves either the old file or the new one, never a mix.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.import-{os.getpid()}")
    with _flock(import_lock_path(path), fcntl.LOCK_EX | fcntl.LOCK_NB) as mine:
        if not mine:
            raise WarehouseBusy(f"另一个导入正在写 {path.name}，请等它结束", retry_after=30)
        for leftover in (staged, staged.with_name(staged.name + ".wal")):
            leftover.unlink(missing_ok=True)
        with _flock(write_lock_path(path), fcntl.LOCK_EX):
            if path.exists():
                shutil.copyfile(path, staged)
                wal = path.with_name(path.name + ".wal")
                if wal.exists() and wal.stat().st_size:
                    shutil.copyfile(wal, staged.with_name(staged.name + ".wal"))
        try:
            yield staged
            if not staged.exists():
                return  # nothing was built (nothing to import into an absent warehouse)
            fd = os.open(staged, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            with _flock(write_lock_path(path), fcntl.LOCK_EX):
                os.replace(staged, path)
                directory = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        finally:
            for suffix in ("", ".wal", ".lock", ".import.lock"):
                staged.with_name(staged.name + suffix).unlink(missing_ok=True)
