"""Routing rules, time limits and the region tree, read from YAML data (rules.yaml beside this file).

Departments are not listed here: routing names codes of the department directory
(`zhixiang.access.load_departments()`), and a rule naming a code the directory lacks is refused.
Region codes are checked against the national code table (`zhixiang.identity`).
"""

from __future__ import annotations

import re
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

from zhixiang.access import DepartmentDirectory, load_departments
from zhixiang.identity import lookup_region, region_prefix
from zhixiang.tickets._deadlines import TimeLimit
from zhixiang.tickets._errors import InvalidInput

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
# Codes are stored on every ticket; these bounds match the columns.
PriorityCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=16)]
REGION_LEVELS = ("网格", "社区", "街道", "区", "市")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Strict):
    hours: float | None = Field(default=None, gt=0)
    working_days: int | None = Field(default=None, gt=0)

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


class ContentCheck(_Strict):
    """A ticket whose text says nothing (greetings, fillers) is never dispatched automatically."""

    min_chars: int = Field(ge=0)
    filler: list[str] = []

    @cached_property
    def _filler(self) -> re.Pattern[str]:
        words = sorted({w for w in self.filler if w}, key=len, reverse=True)
        return re.compile("|".join(map(re.escape, words)) or r"(?!)")

    def says_something(self, *texts: str) -> bool:
        """Whether at least `min_chars` letters, digits or Chinese characters remain once the
        filler is taken out (counting stops there)."""
        if self.min_chars == 0:
            return True
        found = 0
        for text in texts:
            for ch in self._filler.sub("", text):
                found += ch.isalnum()
                if found >= self.min_chars:
                    return True
        return False


class ReplyQuality(_Strict):
    """What to do with a reply scored by the injected `ReplyScorer` (see `tickets.ReplyScorer`)."""

    send_back_below: float | None = Field(default=None, ge=0, le=1)


class RequestRules(_Strict):
    """The whole rule file; validated on load so a typo is reported with its field, not at 3 a.m."""

    auto_dispatch_threshold: float = Field(ge=0, le=1)
    city: City
    text_limits: TextLimits
    content_check: ContentCheck = ContentCheck(min_chars=0)
    reply_quality: ReplyQuality = ReplyQuality()
    categories: list[Category]
    priorities: dict[PriorityCode, Priority]
    default_priority: str
    extension: Extension
    escalation: Escalation
    duplicates: Duplicates
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

    def check_departments(self, directory: DepartmentDirectory) -> None:
        """Every routing target must be a department of the directory, named by its code."""
        for i, rule in enumerate(self.routing):
            found = directory.get(rule.department)
            if found is None or found.code != rule.department:
                hint = f"（目录中的编号是 {found.code}）" if found else ""
                raise InvalidInput(
                    f"routing[{i}].department {rule.department!r} 不是部门目录中的编号{hint}",
                    f"routing[{i}].department",
                )

    def check_region(self, code: str, field: str = "region_code") -> str:
        """Accept a 6/9/12-digit 行政区划代码 of the national table inside this city, else say why.

        The national table goes down to streets (乡镇/街道, 9 digits); the community part of a
        12-digit code is checked for form only.
        """
        if not code.isdigit() or len(code) not in (6, 9, 12):
            raise InvalidInput(f"行政区划代码应为6/9/12位数字: {code!r}", field)
        if not code.startswith(region_prefix(self.city.code)):
            raise InvalidInput(f"行政区划代码 {code!r} 不在{self.city.name}的区县内", field)
        if lookup_region(code) is None:
            level = "区县" if len(code) == 6 or code[6:9] == "000" else "街道（乡镇）"
            raise InvalidInput(f"行政区划代码 {code!r} 的{level}不在国家行政区划代码表中", field)
        return code

    def region_name(self, code: str | None) -> str | None:
        found = lookup_region(code) if code else None
        return found.name if found else None

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


def load_rules(
    path: Path | None = None, directory: DepartmentDirectory | None = None
) -> RequestRules:
    """Read rules from `path`, $ZHIXIANG_TICKETS_RULES, or the packaged default; errors name the field.

    Routing targets are checked against `directory` (default: the department directory in effect).
    """
    from zhixiang.config import load_settings

    path = path or load_settings().tickets_rules or DEFAULT_RULES
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules = RequestRules.model_validate(data)
    except OSError as exc:
        raise InvalidInput(f"无法读取规则文件 {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"规则文件 {path} 不是合法的 YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(根)'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"规则文件 {path} 有误: {problems}") from None
    try:
        rules.check_departments(directory or load_departments())
    except InvalidInput as exc:
        raise InvalidInput(f"规则文件 {path} 有误: {exc.message}", exc.field) from None
    return rules
