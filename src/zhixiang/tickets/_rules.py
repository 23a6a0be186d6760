"""Routing rules, time limits and the region tree, read from YAML data (rules.yaml beside this file)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from zhixiang.identity import region_prefix
from zhixiang.tickets._deadlines import TimeLimit
from zhixiang.tickets._errors import InvalidInput

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
# Codes are stored on every ticket; these bounds match the columns.
DepartmentCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=32)]
PriorityCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=16)]
REGION_LEVELS = ("网格", "社区", "街道", "区", "市")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Strict):
    hours: float | None = Field(None, gt=0)
    working_days: int | None = Field(None, gt=0)

    def time_limit(self) -> TimeLimit:
        return TimeLimit(hours=self.hours, working_days=self.working_days)

    @model_validator(mode="after")
    def _one(self) -> Limit:
        self.time_limit()
        return self


class Priority(_Strict):
    label: str
    sign: Limit
    handle: Limit


class Category(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=32)
    name: str = Field(max_length=32)


class City(_Strict):
    code: str = Field(pattern=r"^\d{4}00$")
    name: str


class RoutingRule(_Strict):
    category: str
    department: str
    region: str | None = None


class Extension(_Strict):
    max_times: int = Field(ge=0)
    max_working_days: int = Field(gt=0)


class Escalation(_Strict):
    every: Limit


class Duplicates(_Strict):
    window_hours: float = Field(gt=0)
    threshold: float = Field(gt=0, le=1)
    radius_m: float = Field(ge=0)
    max_candidates: int = Field(gt=0)


class TextLimits(_Strict):
    title: int = Field(gt=0)
    body: int = Field(gt=0)


class RequestRules(_Strict):
    """The whole rule file; validated on load so a typo is reported with its field, not at 3 a.m."""

    auto_dispatch_threshold: float = Field(ge=0, le=1)
    city: City
    districts: dict[str, str]
    text_limits: TextLimits
    categories: list[Category]
    priorities: dict[PriorityCode, Priority]
    default_priority: str
    extension: Extension
    escalation: Escalation
    duplicates: Duplicates
    departments: dict[DepartmentCode, str]
    routing: list[RoutingRule]

    @model_validator(mode="after")
    def _consistent(self) -> RequestRules:
        names = {c.name for c in self.categories}
        if self.default_priority not in self.priorities:
            raise ValueError(f"default_priority {self.default_priority!r} 不在 priorities 中")
        for i, rule in enumerate(self.routing):
            where = f"routing[{i}]"
            if rule.category not in names:
                raise ValueError(f"{where}.category {rule.category!r} 不是已定义的一级分类")
            if rule.department not in self.departments:
                raise ValueError(f"{where}.department {rule.department!r} 不在 departments 中")
            if rule.region is not None:
                try:
                    self.check_region(rule.region, field=f"{where}.region")
                except InvalidInput as exc:
                    raise ValueError(f"{where}.region: {exc.message}") from None
        return self

    @cached_property
    def category_names(self) -> dict[str, Category]:
        return {c.name: c for c in self.categories}

    @cached_property
    def category_codes(self) -> dict[str, Category]:
        return {c.code: c for c in self.categories}

    def check_region(self, code: str, field: str = "region_code") -> str:
        """Accept a 6/9/12-digit 行政区划代码 inside this city; refuse anything else, saying why."""
        if len(code) not in (6, 9, 12):
            raise InvalidInput(f"行政区划代码应为6/9/12位数字: {code!r}", field)
        try:
            region_prefix(code)
        except ValueError as exc:
            raise InvalidInput(str(exc), field) from None
        if code[:6] != self.city.code and code[:6] not in self.districts:
            raise InvalidInput(f"行政区划代码 {code!r} 不在{self.city.name}的区县内", field)
        return code

    def route(self, category: str, region_code: str | None) -> str | None:
        """The department for category × region: the most specific matching rule, else None."""
        best: tuple[int, str] | None = None
        for rule in self.routing:
            if rule.category != category:
                continue
            prefix = region_prefix(rule.region) if rule.region else ""
            if prefix and not (region_code or "").startswith(prefix):
                continue
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), rule.department)
        return best[1] if best else None

    def region_chain(self, region_code: str | None, grid_id: str | None) -> list[tuple[str, str]]:
        """(level, code) from the most specific known level up to the city: 网格→社区→街道→区→市."""
        chain: list[tuple[str, str]] = []
        if grid_id:
            chain.append(("网格", grid_id))
        code = region_code or ""
        if len(code) == 12 and code[9:] != "000":
            chain.append(("社区", code))
        if len(code) >= 9 and code[6:9] != "000":
            chain.append(("街道", code[:9]))
        if len(code) >= 6 and code[:6] != self.city.code:
            chain.append(("区", code[:6]))
        chain.append(("市", self.city.code))
        return chain


def load_rules(path: Path | None = None) -> RequestRules:
    """Read rules from `path`, $ZHIXIANG_TICKETS_RULES, or the packaged default; errors name the field."""
    from zhixiang.config import load_settings

    path = path or load_settings().tickets_rules or DEFAULT_RULES
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RequestRules.model_validate(data)
    except OSError as exc:
        raise InvalidInput(f"无法读取规则文件 {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"规则文件 {path} 不是合法的 YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(根)'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"规则文件 {path} 有误: {problems}") from None
