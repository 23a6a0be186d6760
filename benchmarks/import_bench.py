"""Import enterprise rows from CSV through the data hub (DuckDB's CSV reader straight into the
validation query, quarantine, the entity table written once) and compare with a plain DuckDB read_csv
of the same file, at one or more sizes.

    .venv/bin/python benchmarks/import_bench.py [--rows 100000 1000000 3000000] [--bad 0.001]

Per size: the median of --runs timed runs after a warm-up, wall and CPU time, the load average,
DuckDB's read_csv of the same file measured in the same run (interleaved), the ratio and an agreement
check (the spoiled rows quarantined at their lines, the others loaded, sampled values as read_csv's),
and the peak memory of one more import and of one read_csv, each in a fresh process (this one's peak
is the generated data's).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
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


def write_extract(rows: int, bad_share: float, folder: Path) -> tuple[Path, list[int]]:
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
    return folder / "bench.yaml", sorted(int(i) + 2 for i in bad)  # line 1 is the header


def cpu_seconds() -> float:
    """CPU time of this process (all threads): on a shared machine wall time also measures neighbours."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(work) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    start, cpu = time.perf_counter(), cpu_seconds()
    result = work()
    return time.perf_counter() - start, cpu_seconds() - cpu, result


def plain_read_csv(csv_path: Path, db: Path) -> int:
    """The baseline: DuckDB's own reader into a table (types sniffed, no checks)."""
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE plain AS SELECT * FROM read_csv('{csv_path}')")
    (rows,) = con.execute("SELECT count(*) FROM plain").fetchone()
    con.close()
    return int(rows)


def hub_import(mapping_path: Path, db: Path) -> tuple[object, int, list, list]:
    """The validated import users run (`zhixiang data import`, minus the copy-and-swap)."""
    for leftover in db.parent.glob(db.name + "*"):
        leftover.unlink()
    with open_warehouse(f"duckdb://{db}", write=True) as wh:
        report = import_sources(wh, [load_mapping(mapping_path)])
        rows = int(wh.rows("SELECT count(*) FROM enterprise")[0][0])
        sample = wh.rows(
            "SELECT credit_code, revenue, employees FROM enterprise ORDER BY credit_code LIMIT 5"
        )
        lines = [r for (r,) in wh.rows("SELECT row_number FROM dh_quarantine ORDER BY 1")]
    return report, rows, sample, lines


def peak_memory(side: str, source: Path, db: Path) -> int:
    """Peak resident memory (bytes) of one import (`side` "import": `source` is the mapping) or one
    read_csv ("read_csv": `source` is the CSV), run in a fresh Python process."""
    out = subprocess.run(
        [sys.executable, __file__, "--peak-of", side, str(source), str(db)],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.split()[-1])


def _report_peak(side: str, source: Path, db: Path) -> None:
    """The child side of `peak_memory`: do the work once, print ru_maxrss in bytes."""
    if side == "import":
        hub_import(source, db)
    else:
        plain_read_csv(source, db)
    # VmHWM, not ru_maxrss: Linux carries a parent's ru_maxrss over fork and exec (the generated
    # data's peak); the high-water mark belongs to the process's own address space.
    status = Path("/proc/self/status").read_text()
    (kilobytes,) = (line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    print(int(kilobytes) * 1024)


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench(rows: int, bad_share: float, runs: int) -> None:
    """One size: warm-up, then `runs` interleaved runs of each side; prints medians and agreement."""
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mapping_path, bad_lines = write_extract(rows, bad_share, folder)
        bad = len(bad_lines)
        csv_path = folder / "enterprises.csv"
        size_mb = csv_path.stat().st_size / 1e6
        plain_db, hub_db = folder / "plain.duckdb", folder / "warehouse.duckdb"

        plain_read_csv(csv_path, plain_db)  # warm-up: file in the page cache, libraries loaded
        hub_import(mapping_path, hub_db)
        plain_wall, plain_cpu, hub_wall, hub_cpu = [], [], [], []
        for _ in range(runs):  # interleaved, so both sides see the same neighbours
            wall, cpu, plain_rows = _timed(lambda: plain_read_csv(csv_path, plain_db))
            assert plain_rows == rows, plain_rows
            plain_wall.append(wall)
            plain_cpu.append(cpu)
            wall, cpu, outcome = _timed(lambda: hub_import(mapping_path, hub_db))
            hub_wall.append(wall)
            hub_cpu.append(cpu)
            report, entity_rows, sample, lines = outcome  # type: ignore[misc]
            # Agreement: every spoiled row quarantined at its line, every other row loaded.
            (result,) = report.sources
            assert result.rows_quarantined == bad, (result.rows_quarantined, bad)
            assert entity_rows == rows - bad, entity_rows
            assert lines == bad_lines, "quarantined lines differ from the spoiled ones"
        con = duckdb.connect(str(plain_db), read_only=True)
        codes = [r[0] for r in sample]
        expected = con.execute(
            "SELECT credit_code, CAST(revenue AS DECIMAL(18,2)), employees FROM plain "
            f"WHERE credit_code IN ({', '.join(repr(c) for c in codes)}) ORDER BY credit_code"
        ).fetchall()
        con.close()
        agree = [tuple(r) for r in sample] == [tuple(r) for r in expected]
        pw, pc_, hw, hc = (median(v) for v in (plain_wall, plain_cpu, hub_wall, hub_cpu))
        print(
            f"file: {rows:,} rows, {size_mb:.0f} MB CSV, {bad:,} bad rows; "
            f"median of {runs} runs after a warm-up"
        )
        print(
            f"DuckDB read_csv (plain, no checks):  wall {pw:6.2f} s  {rows / pw:10,.0f} rows/s"
            f"  cpu {pc_:6.2f} s   runs: {', '.join(f'{x:.2f}' for x in plain_wall)}"
            f"  cpu: {', '.join(f'{x:.2f}' for x in plain_cpu)}"
        )
        print(
            f"zhixiang data import (validated):     wall {hw:6.2f} s  {rows / hw:10,.0f} rows/s"
            f"  cpu {hc:6.2f} s   runs: {', '.join(f'{x:.2f}' for x in hub_wall)}"
            f"  cpu: {', '.join(f'{x:.2f}' for x in hub_cpu)}"
        )
        print(
            f"ratio import / read_csv: wall {hw / pw:.2f}x, cpu {hc / pc_:.2f}x "
            f"(speed {100 * pw / hw:.0f}% of read_csv by wall, {100 * pc_ / hc:.0f}% by cpu; target ≥ 50%)"
        )
        print(
            f"agreement: quarantined {result.rows_quarantined:,} = spoiled {bad:,} at the same lines; "
            f"loaded {entity_rows:,} = {rows:,} - {bad:,}; sampled values equal read_csv's: {agree}"
        )
        assert agree, (sample, expected)
        hub_peak = peak_memory("import", mapping_path, hub_db)
        plain_peak = peak_memory("read_csv", csv_path, plain_db)
        print(
            f"peak memory (one more run each, in a fresh process): import {hub_peak / 2**20:,.0f} MiB, "
            f"read_csv {plain_peak / 2**20:,.0f} MiB"
        )
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--bad", type=float, default=0.001, help="share of rows with a negative revenue"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs of each side (after a warm-up)"
    )
    parser.add_argument("--peak-of", nargs=3, help=argparse.SUPPRESS)  # see peak_memory
    args = parser.parse_args()
    if args.peak_of:
        side, source, db = args.peak_of
        _report_peak(side, Path(source), Path(db))
        return
    print(f"{os.cpu_count()} cores; the machine is shared. DuckDB threads: default on both sides.")
    for rows in args.rows:
        bench(rows, args.bad, args.runs)


if __name__ == "__main__":
    main()
