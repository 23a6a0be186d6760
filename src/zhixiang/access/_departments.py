"""The department directory: one list of departments that every capability names by code.

Data, not code: `departments.yaml` beside this file (or the file `Settings.departments` names).
Every spelling a department goes by (code, official name, aliases) resolves to one `Department`, so a
grant written as "人社局", a policy issued by "厦门市人力资源和社会保障局" and a ticket routed to
`city-hrss` all mean the same department.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from zhixiang.errors import InvalidInput, NotFound

DEFAULT_DEPARTMENTS = Path(__file__).with_name("departments.yaml")
DepartmentCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=32)]


class DepartmentKind(StrEnum):
    GOVERNMENT = "government"  # 人民政府: the top of a jurisdiction
    CENTER = "center"  # 12345 热线/派单中心
    BUREAU = "bureau"  # 委办局
    BRANCH = "branch"  # 分局、派出机构


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    kind: DepartmentKind
    parent: str | None
    region: str | None
    aliases: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: DepartmentCode
    name: str = Field(min_length=1, max_length=64)
    kind: DepartmentKind
    parent: DepartmentCode | None = None
    region: str | None = Field(None, pattern=r"^\d{6}(\d{3})?$")
    aliases: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = []


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    departments: list[_Entry] = Field(min_length=1)


class DepartmentDirectory:
    """Departments by code, found by any of their names; parents and children for scoping."""

    def __init__(self, departments: list[Department], source: str = "") -> None:
        self.source = source
        self._by_code: dict[str, Department] = {}
        self._by_name: dict[str, Department] = {}
        for d in departments:
            if d.code in self._by_code:
                raise InvalidInput(f"{source}: 部门编号重复: {d.code}", "code")
            self._by_code[d.code] = d
        for d in departments:
            if d.parent is not None and d.parent not in self._by_code:
                raise InvalidInput(
                    f"{source}: 部门 {d.code} 的上级 {d.parent} 不在目录中", "parent"
                )
            for spelling in (d.code, d.name, *d.aliases):
                other = self._by_name.get(spelling)
                if other is not None and other is not d:
                    raise InvalidInput(
                        f"{source}: 名称“{spelling}”同时指 {other.code} 与 {d.code}", "aliases"
                    )
                self._by_name[spelling] = d
        for d in departments:  # a parent chain that loops would make scoping never end
            seen = {d.code}
            up = d.parent
            while up is not None:
                if up in seen:
                    raise InvalidInput(f"{source}: 部门 {d.code} 的上级关系成环", "parent")
                seen.add(up)
                up = self._by_code[up].parent

    def __iter__(self) -> Iterator[Department]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, name_or_code: object) -> bool:
        return name_or_code in self._by_name

    def get(self, name_or_code: str | None) -> Department | None:
        """The department called `name_or_code` (code, official name or alias), or None."""
        return self._by_name.get(name_or_code or "")

    def resolve(self, name_or_code: str | None, field: str = "department") -> Department:
        """Like `get`, but an unknown name is refused with a message that says what is known."""
        found = self.get(name_or_code)
        if found is None:
            raise NotFound(
                f"部门目录中没有“{name_or_code}”（可用编号、全称或简称，见 zhixiang access departments list）",
                field,
            )
        return found

    def code_of(self, name_or_code: str) -> str:
        return self.resolve(name_or_code).code

    def name_of(self, code: str | None) -> str | None:
        found = self.get(code)
        return found.name if found else None

    def ancestors(self, code: str) -> list[Department]:
        """The department's parents, nearest first."""
        chain = []
        up = self.resolve(code).parent
        while up is not None:
            chain.append(self._by_code[up])
            up = self._by_code[up].parent
        return chain

    def descendants(self, code: str) -> list[Department]:
        """Every department below `code` (its branches and their branches)."""
        root = self.resolve(code).code
        return [d for d in self if root in {a.code for a in self.ancestors(d.code)}]


def parse_departments(text: str, source: str = "departments.yaml") -> DepartmentDirectory:
    """A directory from YAML text; every problem is refused with the entry and field it is in."""
    try:
        data = yaml.safe_load(text)
        parsed = _File.model_validate(data)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source} 不是合法的 YAML: {exc}") from None
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = list(e["loc"])
            where = f"第{loc[1] + 1}项" if len(loc) > 1 and isinstance(loc[1], int) else ""
            what = ".".join(str(p) for p in loc[2:]) or ".".join(str(p) for p in loc)
            problems.append(f"{where} {what}: {e['msg']}".strip())
        raise InvalidInput(f"{source} 有误: " + "; ".join(problems)) from None
    return DepartmentDirectory(
        [
            Department(e.code, e.name, e.kind, e.parent, e.region, tuple(e.aliases))
            for e in parsed.departments
        ],
        source,
    )


@cache
def _load(path: Path) -> DepartmentDirectory:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"无法读取部门目录 {path}: {exc}") from None
    return parse_departments(text, str(path))


def load_departments(path: Path | None = None) -> DepartmentDirectory:
    """The directory in effect: `path`, else `Settings.departments`, else the packaged file."""
    if path is None:
        from zhixiang.config import load_settings

        path = load_settings().departments or DEFAULT_DEPARTMENTS
    return _load(path.resolve())
