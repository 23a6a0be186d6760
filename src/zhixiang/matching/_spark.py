"""The Spark engine: the same compiled policies and the same run algorithm, for data beyond one machine.

Parquet in, Parquet out. The policies are compiled by Ibis for Spark SQL (`dialect="pyspark"`);
the run's own queries are the engine-neutral SQL of `_batch`. Spark runs in local mode on one
machine (`local[N]`) or on a cluster (`spark://…`, `yarn`, `k8s://…`): see docs/scale.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis

from zhixiang.errors import NotFound


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def spark_session(master: str = "local[2]", driver_memory: str = "4g") -> Any:
    """The active Spark session, or a new one for `master` with settings the run relies on.

    `driver_memory` only counts when this call starts the JVM; in local mode the driver is the
    executor too, and Spark's default (1g) let the JVM die at 10M enterprises."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return (
        SparkSession.builder.master(master)
        .appName("zhixiang-match")
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


class SparkEngine:
    """Spark SQL over a Parquet input; every query writes straight to Parquet from the executors."""

    name = "spark"
    dialect = "pyspark"
    fingerprint_kind = "spark-xxhash64"

    def __init__(
        self,
        source: str | Path,
        table: str,
        *,
        spill_dir: Path,
        master: str = "local[2]",
        driver_memory: str = "4g",
        session: Any = None,
    ) -> None:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        self.spark = session or spark_session(master, driver_memory)
        # Overflow must stop the run, as on DuckDB, never turn into NULL (Spark's non-ANSI mode).
        self.spark.conf.set("spark.sql.ansi.enabled", "true")
        self._cached: list[Any] = []
        frame = self.spark.read.parquet(self._input(str(source), table, spill_dir))
        self._schema = frame.schema
        staged = frame.withColumn("_idx", F.monotonically_increasing_id())
        # The row index must not be recomputed differently between queries: keep it.
        staged = staged.persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(staged)
        staged.createOrReplaceTempView("staged")

    def _input(self, source: str, table: str, spill_dir: Path) -> str:
        """A Parquet path Spark can read; a local warehouse is exported once for the run."""
        if source.startswith(("duckdb://", "postgres://", "postgresql://")):
            from zhixiang.matching._batch import DuckEngine

            local = DuckEngine(source, table, spill_dir=spill_dir)
            try:
                local.write("SELECT * EXCLUDE (_idx) FROM staged", spill_dir / "input")
            finally:
                local.close()
            return str(spill_dir / "input")
        if "://" not in source and not Path(source).exists():
            raise NotFound(f"找不到主体数据: {source}", field="input")
        return source

    def schema(self) -> ibis.Schema:
        from ibis.backends.pyspark.datatypes import PySparkType

        return ibis.schema({f.name: PySparkType.to_ibis(f.dataType) for f in self._schema.fields})

    def execute(self, sql: str) -> None:
        self.spark.sql(sql)

    def view(self, name: str, query: str) -> None:
        self.spark.sql(query).createOrReplaceTempView(name)

    def fetch(self, sql: str) -> list[dict]:
        return [row.asDict() for row in self.spark.sql(sql).collect()]

    def write(self, query: str, directory: Path) -> None:
        self.spark.sql(query).write.mode("overwrite").parquet(str(directory))

    def parquet(self, directory: Path) -> str:
        return f"parquet.{_quote(str(directory))}"

    def materialize(self, name: str, query: str) -> None:
        from pyspark import StorageLevel

        frame = self.spark.sql(query).persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(frame)
        frame.createOrReplaceTempView(name)

    def fingerprint(self, columns: Sequence[str]) -> str:
        # Spark's hashes skip NULLs; the IS NULL flags keep (NULL, 1) and (1, NULL) apart.
        return f"xxhash64({', '.join(f'{_quote(c)}, {_quote(c)} IS NULL' for c in columns)})"

    def quote(self, name: str) -> str:
        return _quote(name)

    def reason(self, exc: BaseException) -> str:
        """The Spark error in one line: its error class and message, not the Java stack."""
        java = getattr(exc, "java_exception", None)
        try:
            text = str(java.getMessage()) if java is not None else str(exc)
        except Exception:  # the JVM is gone: nothing to ask it
            text = f"Spark 的 JVM 已退出（{type(exc).__name__}），请查看 Spark 日志；内存不足时调大 ZHIXIANG_SPARK_DRIVER_MEMORY"
        return text.strip().splitlines()[0] if text.strip() else type(exc).__name__

    def close(self) -> None:
        for frame in self._cached:
            frame.unpersist()
        for name in ("staged", "entities", "idmap", "changed_entities"):
            self.spark.catalog.dropTempView(name)
