"""Import 1,000,000 enterprise rows from CSV through the data hub (read, validate every cell, quarantine,
snapshot, rebuild the entity table) and compare with a plain DuckDB read_csv of the same file.

    .venv/bin/python benchmarks/import_bench.py [--rows 1000000] [--bad 0.001]

Prints rows/s (target ≥ 200,000/s on 2 cores) and the ratio to DuckDB's read_csv in the same run.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from zhixiang.catalog import load_catalog
from zhixiang.datahub import import_sources, load_mapping, open_warehouse
from zhixiang.demo import generate_enterprises


def write_extract(rows: int, bad_share: float, folder: Path) -> tuple[Path, int]:
    """The generated enterprises as a department would export them, with some cells spoiled."""
    table = generate_enterprises(rows, seed=7)
    rng = np.random.default_rng(7)
    bad = rng.choice(rows, size=int(rows * bad_share), replace=False)
    revenue = table["revenue"].cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
    revenue[bad] = "-1"
    table = table.set_column(
        table.column_names.index("revenue"), "revenue", pa.array(revenue, pa.string())
    )
    path = folder / "enterprises.csv"
    pacsv.write_csv(table, path)
    catalog = load_catalog("enterprise")
    mapping = {
        "source": "bench",
        "department": "市场监管局",
        "entity": "enterprise",
        "format": "csv",
        "path": str(path),
        "encoding": "utf-8",
        "key": "credit_code",
        "columns": {f.name: f.name for f in catalog.fields},
    }
    (folder / "bench.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    return folder / "bench.yaml", len(bad)


def cpu_seconds() -> float:
    """CPU time of this process (all threads): on a shared machine wall time also measures neighbours."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--bad", type=float, default=0.001, help="share of rows with a negative revenue"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mapping_path, bad = write_extract(args.rows, args.bad, folder)
        csv_path = folder / "enterprises.csv"
        size_mb = csv_path.stat().st_size / 1e6

        con = duckdb.connect(str(folder / "plain.duckdb"))
        start, cpu = time.perf_counter(), cpu_seconds()
        con.execute(f"CREATE TABLE plain AS SELECT * FROM read_csv('{csv_path}')")
        plain, plain_cpu = time.perf_counter() - start, cpu_seconds() - cpu
        con.close()

        mapping = load_mapping(mapping_path)
        with open_warehouse(f"duckdb://{folder / 'warehouse.duckdb'}") as wh:
            start, cpu = time.perf_counter(), cpu_seconds()
            report = import_sources(wh, [mapping])
            hub, hub_cpu = time.perf_counter() - start, cpu_seconds() - cpu
            entity_rows = wh.rows("SELECT count(*) FROM enterprise")[0][0]
        (result,) = report.sources
        assert result.rows_quarantined == bad, (result.rows_quarantined, bad)
        assert entity_rows == args.rows - bad
        print(f"file: {args.rows:,} rows, {size_mb:.0f} MB CSV, {bad:,} bad rows")
        print(
            f"DuckDB read_csv (plain, no checks):  wall {plain:6.2f} s  {args.rows / plain:10,.0f} rows/s"
            f"  cpu {plain_cpu:6.2f} s"
        )
        print(
            f"zhixiang data import (validated):     wall {hub:6.2f} s  {args.rows / hub:10,.0f} rows/s"
            f"  cpu {hub_cpu:6.2f} s  (loaded {result.rows_loaded:,}, quarantined {result.rows_quarantined:,})"
        )
        print(f"ratio import / read_csv: wall {hub / plain:.2f}x, cpu {hub_cpu / plain_cpu:.2f}x")
        print(
            f"rows per CPU-second: {args.rows / hub_cpu:,.0f} (≈ {2 * args.rows / hub_cpu:,.0f} rows/s on 2 idle "
            f"cores if both were busy throughout); target ≥ 200,000 rows/s wall"
        )


if __name__ == "__main__":
    main()
