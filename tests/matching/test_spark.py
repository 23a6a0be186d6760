"""The same compiled policies on Spark (local mode) give DuckDB's results row for row."""

from __future__ import annotations

import shutil
import signal
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.matching import MatchFailed, open_results, run_matching
from zhixiang.rules import load_policies

AS_OF = date(2026, 6, 30)
POLICIES = load_policies([demo_policies_dir()]).policies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="Spark leg skipped: pyspark is not installed")
    if shutil.which("java") is None:
        pytest.skip("Spark leg skipped: no Java (make test installs default-jre-headless)")
    from zhixiang.matching._spark import spark_session

    interrupt = signal.getsignal(signal.SIGINT)
    session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    signal.signal(signal.SIGINT, interrupt)  # PySpark's own handler would outlive the session
    yield session
    session.stop()


def _warehouse(path: Path, table: pa.Table) -> str:
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", table)
        con.execute("CREATE TABLE enterprise AS SELECT * FROM rows_in")
    return f"duckdb://{path}"


def _decoded(results_dir: Path) -> dict[str, set[tuple]]:
    with open_results(results_dir) as results:
        return {
            c.policy_id: {
                (r.entity_id, r.status, r.failed, r.unknown, r.amount, r.changed)
                for r in results.rows(c.policy_id, limit=10_000)
            }
            | {
                (
                    "counts",
                    c.eligible,
                    c.needs_information,
                    c.ineligible,
                    c.near_miss,
                    c.total_amount,
                )
            }
            for c in results.run.policies
        }


def test_spark_agrees_with_duckdb_row_for_row(spark, tmp_path: Path) -> None:
    url = _warehouse(tmp_path / "w.duckdb", generate_enterprises(1000, seed=21, reference=AS_OF))
    on_duckdb = run_matching(url, POLICIES, AS_OF, results_dir=tmp_path / "duckdb")
    on_spark = run_matching(
        url, POLICIES, AS_OF, results_dir=tmp_path / "spark", engine="spark", session=spark
    )
    assert on_spark.engine == "spark" and on_spark.entities == on_duckdb.entities == 1000
    assert [p.version for p in on_spark.policies] != [p.version for p in on_duckdb.policies]
    duck, sparked = _decoded(tmp_path / "duckdb"), _decoded(tmp_path / "spark")
    assert duck.keys() == sparked.keys() and len(duck) == 14
    for policy_id in duck:
        assert sparked[policy_id] == duck[policy_id], policy_id


def test_a_failing_spark_job_names_the_policy_and_the_reason(spark, tmp_path: Path) -> None:
    rows = generate_enterprises(5, reference=AS_OF).to_pylist()
    rows[0]["revenue_prev"] = Decimal("9000000000000000.00")  # × 115% needs 16 whole digits
    url = _warehouse(
        tmp_path / "w.duckdb", pa.Table.from_pylist(rows, schema=generate_enterprises(1).schema)
    )
    policy = load_policies([demo_policies_dir()]).by_id("above-scale-growth-award")
    with pytest.raises(MatchFailed) as failed:
        run_matching(
            url, [policy], AS_OF, results_dir=tmp_path / "r", engine="spark", session=spark
        )
    assert "above-scale-growth-award" in failed.value.message
    assert "spark" in failed.value.message and "NUMERIC_VALUE_OUT_OF_RANGE" in failed.value.message
    assert not list((tmp_path / "r" / "runs").iterdir())
