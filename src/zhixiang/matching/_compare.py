"""Reforms: who gains and who loses when a policy changes, over the same warehouse on the same day.

Both versions are compiled to SQL and evaluated side by side in one query over the entity table
(read-only), so the comparison is exactly what two batch runs would give, without publishing a run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from zhixiang.catalog import load_catalog
from zhixiang.errors import InvalidInput
from zhixiang.identity import lookup_region
from zhixiang.matching._batch import open_engine
from zhixiang.matching._compiled import ENTITIES, PolicyCompiler
from zhixiang.rules import Policy

#: The outcome of each entity under the new version, against the old one (in display order).
CHANGES: dict[str, str] = {
    "newly_eligible": "新增符合",
    "no_longer_eligible": "不再符合",
    "amount_up": "金额增加",
    "amount_down": "金额减少",
    "unchanged": "金额不变",
}
_CASE = """CASE
  WHEN NOT o_ok AND n_ok THEN 'newly_eligible'
  WHEN o_ok AND NOT n_ok THEN 'no_longer_eligible'
  WHEN o_ok AND n_ok AND coalesce(n_amount, 0) > coalesce(o_amount, 0) THEN 'amount_up'
  WHEN o_ok AND n_ok AND coalesce(n_amount, 0) < coalesce(o_amount, 0) THEN 'amount_down'
  WHEN o_ok AND n_ok THEN 'unchanged'
  ELSE NULL END"""
#: 国民经济行业分类 (GB/T 4754—2017) 门类: an industry code's first letter.
INDUSTRY_SECTIONS = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}
EXAMPLES = 20  # entity ids listed per kind of change, so an officer can open a few


@dataclass(frozen=True)
class ChangeGroup:
    """One kind of change, overall or within one district or industry."""

    change: str
    count: int
    cost_change: Decimal  # new amount − old amount over these entities


@dataclass
class PolicyComparison:
    old: Policy
    new: Policy
    as_of: date
    entities: int
    old_eligible: int = 0
    new_eligible: int = 0
    old_cost: Decimal = Decimal(0)
    new_cost: Decimal = Decimal(0)
    changes: dict[str, ChangeGroup] = field(default_factory=dict)
    by_district: dict[str, dict[str, ChangeGroup]] = field(default_factory=dict)
    by_industry: dict[str, dict[str, ChangeGroup]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def cost_change(self) -> Decimal:
        return self.new_cost - self.old_cost

    def to_dict(self) -> dict:
        """Chart-ready: categories and one series per kind of change (ECharts `xAxis`/`series`)."""

        def chart(groups: dict[str, dict[str, ChangeGroup]], labels: dict[str, str]) -> dict:
            keys = sorted(groups)
            return {
                "categories": [labels.get(k, k) for k in keys],
                "codes": keys,
                "series": [
                    {
                        "key": change,
                        "name": label,
                        "data": [
                            groups[k][change].count if change in groups[k] else 0 for k in keys
                        ],
                        "cost_change": [
                            str(groups[k][change].cost_change) if change in groups[k] else "0"
                            for k in keys
                        ],
                    }
                    for change, label in CHANGES.items()
                ],
            }

        return {
            "old": {"policy_id": self.old.id, "title": self.old.title, "path": str(self.old.path)},
            "new": {"policy_id": self.new.id, "title": self.new.title, "path": str(self.new.path)},
            "as_of": self.as_of.isoformat(),
            "entities": self.entities,
            "eligible": {"old": self.old_eligible, "new": self.new_eligible},
            "cost": {
                "old": str(self.old_cost),
                "new": str(self.new_cost),
                "change": str(self.cost_change),
            },
            "changes": [
                {
                    "key": change,
                    "name": label,
                    "count": self.changes[change].count if change in self.changes else 0,
                    "cost_change": str(
                        self.changes[change].cost_change if change in self.changes else 0
                    ),
                    "examples": self.examples.get(change, []),
                }
                for change, label in CHANGES.items()
            ],
            "by_district": chart(self.by_district, district_labels(self.by_district)),
            "by_industry": chart(self.by_industry, INDUSTRY_SECTIONS),
        }


def district_labels(groups: Mapping[str, object]) -> dict[str, str]:
    labels = {}
    for code in groups:
        region = lookup_region(code) if code and code.isdigit() else None
        labels[code] = region.name if region else (code or "未知")
    return labels


def _check_pair(old: Policy, new: Policy, as_of: date) -> None:
    if old.entity != new.entity:
        raise InvalidInput(
            f"两个版本的主体类型不同: {old.entity} 与 {new.entity}，无法比较", field="entity"
        )
    for which, policy in (("原", old), ("新", new)):
        if not policy.in_force(as_of):
            raise InvalidInput(
                f"{which}版本 {policy.id}（{policy.path}）在 {as_of} 不在有效期内"
                f"（{policy.valid_from or '…'} 至 {policy.valid_to or '…'}），请换一个 --as-of",
                field="as_of",
            )


def compare_policies(
    source: str | Path, old: Policy, new: Policy, as_of: date, *, table: str | None = None
) -> PolicyComparison:
    """Evaluate both versions over every entity of the warehouse on `as_of` and count the changes."""
    _check_pair(old, new, as_of)
    catalog = load_catalog(old.entity)
    district = "region_code" if catalog.get("region_code") else None
    industry = "industry_code" if catalog.get("industry_code") else None
    with tempfile.TemporaryDirectory(prefix="zhixiang-compare-") as spill:
        engine = open_engine("duckdb", str(source), table or old.entity, Path(spill))
        try:
            engine.view(ENTITIES, "SELECT * FROM staged")
            compiler = PolicyCompiler(engine.schema(), engine.dialect)
            old_sql = compiler(old, as_of).sql
            new_sql = compiler(new, as_of).sql
            district_sql = f"substr(s.{district}, 1, 6)" if district else "NULL"
            industry_sql = f"substr(s.{industry}, 1, 1)" if industry else "NULL"
            engine.materialize(
                "compared",
                f"SELECT s.{engine.quote(catalog.key)} AS entity_id,"
                f" {district_sql} AS district, {industry_sql} AS industry,"
                " (o.failed = 0 AND o.unknown = 0) AS o_ok, o.amount AS o_amount,"
                " (n.failed = 0 AND n.unknown = 0) AS n_ok, n.amount AS n_amount"
                f" FROM staged s JOIN ({old_sql}) o ON o.idx = s._idx"
                f" JOIN ({new_sql}) n ON n.idx = s._idx",
            )
            engine.materialize("changes", f"SELECT *, {_CASE} AS change FROM compared")
            totals = engine.fetch(
                "SELECT count(*) AS entities,"
                " sum(CASE WHEN o_ok THEN 1 ELSE 0 END) AS old_eligible,"
                " sum(CASE WHEN n_ok THEN 1 ELSE 0 END) AS new_eligible,"
                " sum(CASE WHEN o_ok THEN o_amount ELSE 0 END) AS old_cost,"
                " sum(CASE WHEN n_ok THEN n_amount ELSE 0 END) AS new_cost FROM changes"
            )[0]
            result = PolicyComparison(
                old,
                new,
                as_of,
                entities=int(totals["entities"] or 0),
                old_eligible=int(totals["old_eligible"] or 0),
                new_eligible=int(totals["new_eligible"] or 0),
                old_cost=Decimal(totals["old_cost"] or 0),
                new_cost=Decimal(totals["new_cost"] or 0),
            )
            cost = (
                "sum(CASE WHEN n_ok THEN coalesce(n_amount, 0) ELSE 0 END)"
                " - sum(CASE WHEN o_ok THEN coalesce(o_amount, 0) ELSE 0 END)"
            )
            for row in engine.fetch(
                f"SELECT change, count(*) AS n, {cost} AS cost FROM changes"
                " WHERE change IS NOT NULL GROUP BY change"
            ):
                result.changes[row["change"]] = _group(row)
            for name, target in (
                ("district", result.by_district),
                ("industry", result.by_industry),
            ):
                for row in engine.fetch(
                    f"SELECT {name} AS part, change, count(*) AS n, {cost} AS cost FROM changes"
                    f" WHERE change IS NOT NULL GROUP BY {name}, change"
                ):
                    target.setdefault(row["part"] or "", {})[row["change"]] = _group(row)
            for row in engine.fetch(
                "SELECT change, entity_id FROM (SELECT change, entity_id, row_number() OVER"
                " (PARTITION BY change ORDER BY entity_id) AS k FROM changes"
                f" WHERE change IS NOT NULL AND change <> 'unchanged') WHERE k <= {EXAMPLES}"
                " ORDER BY change, entity_id"
            ):
                result.examples.setdefault(row["change"], []).append(row["entity_id"])
        finally:
            engine.close()
    return result


def _group(row: dict) -> ChangeGroup:
    return ChangeGroup(row["change"], int(row["n"]), Decimal(row["cost"] or 0))
