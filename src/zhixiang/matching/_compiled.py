"""Compiled SQL per policy version, cached: building and compiling Ibis expressions costs more than
running them at small sizes (0.75 CPU-s for 14 policies, ~12 for 200), so a policy is compiled once
per (content, date, table schema, compiler) and the SQL text is kept on disk.

Every compiled policy reads the relation `entities` (the entity table plus the row index `_idx`) and
yields one row per entity: `idx`, `failed` and `unknown` (bit i = condition i; in `unknown` the bit
after the last condition is the amount), `amount` (set only when eligible), `closeness` (outreach:
how close a near-miss candidate is) and `holds_on` (即将符合: the day it qualifies with no change).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import metadata, resources
from pathlib import Path

import ibis

from zhixiang.errors import InvalidInput
from zhixiang.rules import Policy, compile_policy

ENTITIES = "entities"
ROW_INDEX = "_idx"
MAX_CONDITIONS = 62  # the masks are signed 64-bit integers; the amount takes one more bit
_FORMAT = "rows-v2"  # bump when the shape of the SQL below changes


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy as SQL for one engine; equal `version`s give equal outcomes for equal facts."""

    policy: Policy
    sql: str
    version: str


@cache
def compiler_fingerprint() -> str:
    """What the SQL depends on besides the policy: Ibis, sqlglot and the rules package's own code."""
    digest = hashlib.sha256(_FORMAT.encode())
    for package in ("ibis-framework", "sqlglot"):
        digest.update(f"{package}={metadata.version(package)}".encode())
    rules = resources.files("zhixiang.rules")
    for entry in sorted(rules.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".py", ".lark")):
            digest.update(entry.name.encode())
            digest.update(entry.read_bytes())
    return digest.hexdigest()


def content_hash(policy: Policy, as_of: date) -> str:
    """The policy's meaning on `as_of`: its conditions, benefit and parameter values, not its labels."""
    benefit = None if policy.benefit is None else (policy.benefit.node, policy.benefit.cap)
    meaning = (
        policy.id,
        policy.entity,
        tuple((c.id, c.node) for c in policy.conditions),
        benefit,
        sorted(policy.params_at(as_of).items()),
    )
    return hashlib.sha256(repr(meaning).encode()).hexdigest()


class PolicyCompiler:
    """Compiles policies for one table schema and SQL dialect, remembering each result."""

    def __init__(self, schema: ibis.Schema, dialect: str, cache_dir: Path | None = None) -> None:
        self.schema = ibis.schema({ROW_INDEX: "int64", **dict(schema.items())})
        self.dialect = dialect
        self.cache_dir = cache_dir
        self._memory: dict[str, str] = {}
        self.compiled = 0  # how many were compiled rather than found, for progress and benchmarks

    def _key(self, policy: Policy, as_of: date) -> str:
        parts = (
            compiler_fingerprint(),
            self.dialect,
            content_hash(policy, as_of),
            as_of.isoformat(),
            repr(sorted((name, str(t)) for name, t in self.schema.items())),
        )
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def __call__(self, policy: Policy, as_of: date) -> CompiledPolicy:
        if len(policy.conditions) > MAX_CONDITIONS:
            raise InvalidInput(
                f"政策 {policy.id} 有 {len(policy.conditions)} 个条件，批量匹配最多支持 {MAX_CONDITIONS} 个",
                field=policy.id,
            )
        key = self._key(policy, as_of)
        sql = self._memory.get(key) or self._read(key)
        if sql is None:
            sql = self._compile(policy, as_of)
            self._write(key, sql)
            self.compiled += 1
        self._memory[key] = sql
        return CompiledPolicy(policy, sql, hashlib.sha256(sql.encode()).hexdigest()[:16])

    def _compile(self, policy: Policy, as_of: date) -> str:
        table = ibis.table(self.schema, name=ENTITIES)
        expr = compile_policy(policy, table, as_of, key=ROW_INDEX, with_ids=False)
        rows = expr.select(
            idx=expr.entity_id,
            failed=expr.failed_mask,
            unknown=expr.unknown_mask,
            amount=expr.amount,
            closeness=expr.closeness,
            holds_on=expr.holds_on,
        )
        return str(ibis.to_sql(rows, dialect=self.dialect))

    def _read(self, key: str) -> str | None:
        if self.cache_dir is None:
            return None
        try:
            return (self.cache_dir / f"{key}.sql").read_text("utf-8")
        except OSError:
            return None

    def _write(self, key: str, sql: str) -> None:
        if self.cache_dir is None:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(sql)
        os.replace(tmp, self.cache_dir / f"{key}.sql")
