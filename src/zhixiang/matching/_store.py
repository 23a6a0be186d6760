"""Match runs on disk, published by an atomic switch.

    results/
      current.json                 which run is published (replaced atomically; the only switch)
      runs/<run_id>/manifest.json  what the run did: date, entities, per-policy counts and condition ids
      runs/<run_id>/entities/      idx → entity_id, and a fingerprint of each entity's facts
      runs/<run_id>/rows/policy_id=<id>/   the rows worth keeping (eligible, needs information,
                                   near-miss, changed since the previous run): idx, failed, unknown,
                                   amount, changed
      compiled/<key>.sql           compiled SQL per policy version

A run writes only inside its own directory and publishes by replacing `current.json`, so a run
killed at any moment leaves the previous run current and readable; the next run removes the debris.
Only one run at a time writes (a lock file); readers never take the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from zhixiang.errors import Conflict, NotFound

POINTER = "current.json"
RUNS = "runs"
MANIFEST = "manifest.json"
FORMAT = 1
_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{12}-[0-9a-f]{6}$")


@dataclass(frozen=True)
class PolicyCounts:
    """One policy's outcome in a run; `conditions` decode the bit masks of its rows."""

    policy_id: str
    title: str
    eligible: int
    needs_information: int
    ineligible: int
    near_miss: int
    total_amount: Decimal
    conditions: tuple[str, ...] = ()
    has_benefit: bool = False
    version: str = ""  # hash of the compiled SQL: same version, same outcome for the same facts
    kept: int = 0  # rows stored (the rest are ineligible by two or more conditions: counted only)
    changed: int = 0  # rows whose outcome differs from the previous run
    reused: bool = False  # incremental: only changed entities were evaluated

    def condition_ids(self, mask: int, *, unknown: bool = False) -> tuple[str, ...]:
        """The condition ids set in a mask; in an unknown mask the bit after the last is `amount`."""
        ids = [*self.conditions, "amount"] if unknown and self.has_benefit else self.conditions
        return tuple(cid for i, cid in enumerate(ids) if mask >> i & 1)


@dataclass
class MatchRun:
    """What a batch run did: when, for which date, over how many entities, with which outcome."""

    run_id: str
    as_of: date
    entities: int
    policies: list[PolicyCounts] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # policies not in force on as_of
    data_problems: list[str] = field(default_factory=list)
    path: Path | None = None
    entity: str = "enterprise"
    key: str = "credit_code"
    engine: str = "duckdb"
    fingerprint: str = ""  # how entity fingerprints were computed (engines differ)
    mode: str = "full"  # full | incremental
    previous: str | None = None
    changed_entities: int | None = None  # incremental: entities new or changed since `previous`
    started: str = ""
    seconds: float = 0.0

    def policy(self, policy_id: str) -> PolicyCounts:
        for counts in self.policies:
            if counts.policy_id == policy_id:
                return counts
        available = "、".join(c.policy_id for c in self.policies) or "无"
        raise NotFound(
            f"批次 {self.run_id} 中没有政策 {policy_id}（本批次的政策: {available}）",
            field="policy_id",
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data["format"] = FORMAT
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str, indent=2)

    @classmethod
    def from_dict(cls, data: dict, path: Path | None = None) -> MatchRun:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["as_of"] = date.fromisoformat(data["as_of"])
        values["path"] = path
        values["policies"] = [
            PolicyCounts(
                **{
                    **p,
                    "total_amount": Decimal(str(p["total_amount"])),
                    "conditions": tuple(p["conditions"]),
                }
            )
            for p in data["policies"]
        ]
        return cls(**values)


def new_run_id() -> str:
    return f"{datetime.now():%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"


def run_path(results_dir: Path, run_id: str) -> Path:
    if not _RUN_ID.match(run_id):
        raise NotFound(f"批次编号格式不对: {run_id}", field="run_id")
    return results_dir / RUNS / run_id


def _write_atomically(path: Path, text: str) -> None:
    """Write, flush to disk, then rename over the old file: readers see the old or the new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def publish(results_dir: Path, run: MatchRun) -> None:
    """Complete the run's manifest, then make it current: the one atomic switch."""
    assert run.path is not None
    _write_atomically(run.path / MANIFEST, run.to_json())
    _write_atomically(
        results_dir / POINTER, json.dumps({"run_id": run.run_id, "format": FORMAT}) + "\n"
    )


def current_run_id(results_dir: Path) -> str | None:
    try:
        return json.loads((results_dir / POINTER).read_text("utf-8"))["run_id"]
    except FileNotFoundError:
        return None


def load_run(results_dir: Path, run_id: str | None = None) -> MatchRun:
    """A published run (the current one by default); NotFound says what to do when there is none."""
    chosen = run_id or current_run_id(results_dir)
    if chosen is None:
        raise NotFound("尚未运行批量匹配（请先运行 zhixiang match）")
    path = run_path(results_dir, chosen)
    try:
        data = json.loads((path / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        raise NotFound(f"没有已完成的匹配批次 {chosen}", field="run_id") from None
    return MatchRun.from_dict(data, path)


def list_runs(results_dir: Path) -> list[MatchRun]:
    """Completed runs, newest first (runs killed before they finished have no manifest)."""
    root = results_dir / RUNS
    if not root.is_dir():
        return []
    runs = [load_run(results_dir, p.name) for p in root.iterdir() if (p / MANIFEST).is_file()]
    return sorted(runs, key=lambda r: r.run_id, reverse=True)


@contextmanager
def writer_lock(results_dir: Path) -> Iterator[None]:
    """One writing run at a time; the OS releases the lock when a run dies, even by kill -9."""
    results_dir.mkdir(parents=True, exist_ok=True)
    with open(results_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict("另一个批量匹配正在运行，请等它结束后再试") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def collect_garbage(results_dir: Path, keep: int) -> None:
    """Remove what killed runs left behind and all but the newest `keep` completed runs.

    Called under the writer lock; the current run is always kept, and so is the one before it,
    so a reader that opened it a moment ago can finish.
    """
    root = results_dir / RUNS
    if not root.is_dir():
        return
    current = current_run_id(results_dir)
    complete = sorted(
        (p for p in root.iterdir() if (p / MANIFEST).is_file()), key=lambda p: p.name, reverse=True
    )
    keep_names = {p.name for p in complete[: max(keep, 2)]} | {current}
    for path in root.iterdir():
        if path.name not in keep_names:
            shutil.rmtree(path, ignore_errors=True)
