"""The department directory and the permission table: one spelling per department, one check per act."""

from __future__ import annotations

import pytest

from zhixiang.access import (
    ANONYMOUS,
    PERMISSIONS,
    Principal,
    PrincipalKind,
    Role,
    load_departments,
    parse_departments,
    permission,
)
from zhixiang.errors import Forbidden, InvalidInput, NotFound, Unauthenticated


def test_every_spelling_of_a_department_resolves_to_one_code() -> None:
    directory = load_departments()
    for spelling in ("city-hrss", "厦门市人力资源和社会保障局", "市人力资源和社会保障局", "人社局"):
        assert directory.resolve(spelling).code == "city-hrss"
    with pytest.raises(NotFound, match="部门目录中没有"):
        directory.resolve("人社厅")


def test_a_branch_belongs_to_its_parent_bureau() -> None:
    directory = load_departments()
    assert [d.code for d in directory.ancestors("siming-environment")] == ["city-environment", "xm"]
    assert "siming-environment" in {d.code for d in directory.descendants("city-environment")}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("departments: []", "departments"),
        ("departments:\n  - {code: A, name: x, kind: bureau}", "第1项 code"),
        ("departments:\n  - {code: a, name: x, kind: bureau, parent: b}", "上级 b 不在目录中"),
        (
            "departments:\n  - {code: a, name: x, kind: bureau}\n  - {code: b, name: x, kind: bureau}",
            "同时指 a 与 b",
        ),
        (
            "departments:\n  - {code: a, name: x, kind: bureau, parent: b}\n"
            "  - {code: b, name: y, kind: bureau, parent: a}",
            "成环",
        ),
        ("departments: [", "不是合法的 YAML"),
    ],
)
def test_a_broken_directory_is_refused_saying_where(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_departments(text, "test.yaml")


def test_each_permission_names_known_roles_and_unknown_names_fail_loudly() -> None:
    for name, p in PERMISSIONS.items():
        assert p.name == name and p.roles and p.label
    with pytest.raises(KeyError, match="unknown permission"):
        permission("tickets.delete_everything")


def test_a_handler_is_held_to_its_department_and_below() -> None:
    handler = Principal(
        PrincipalKind.USER, "li", roles=frozenset({Role.HANDLER}), department="city-environment"
    )
    assert handler.can("tickets.handle") and not handler.can("tickets.dispatch")
    assert handler.sees_department("city-environment")
    assert handler.sees_department("siming-environment")
    assert not handler.sees_department("city-hrss")
    agent = Principal(
        PrincipalKind.USER, "wang", roles=frozenset({Role.AGENT}), department="center"
    )
    assert agent.sees_department("city-hrss")


def test_refusals_say_who_could_and_tell_the_public_to_sign_in() -> None:
    handler = Principal(PrincipalKind.KEY, "k1", roles=frozenset({Role.HANDLER}), department="x")
    with pytest.raises(Forbidden, match="坐席"):
        handler.require("tickets.dispatch")
    with pytest.raises(Unauthenticated):
        ANONYMOUS.require("tickets.read")


# What a leader may do is read: each permission a leader holds is named after what it reads, and
# (tests/api/test_auth.py) every route such a permission opens is a GET.
READING = ("read", "metrics", "summary", "sources", "quality", "explain", "results", "check")


def test_a_leader_only_reads() -> None:
    held = [name for name, p in PERMISSIONS.items() if Role.LEADER in p.roles]
    assert held and all(name.rsplit(".", 1)[-1] in READING for name in held), held


def test_data_officers_machines_and_the_public_never_read_tickets() -> None:
    """A data officer runs imports and grants; it has no duty that needs citizens' requests."""
    for role in (Role.DATA_OFFICER, Role.CHANNEL, Role.ENTERPRISE, Role.CITIZEN):
        who = Principal(PrincipalKind.KEY, "k", roles=frozenset({role}), department="city-data")
        assert not who.can("tickets.read") and not who.can("tickets.metrics"), role


# What an enterprise or citizen does for itself besides the portal pages: object to its own line in a
# 公示 and apply for a 申请审核 policy (each route checks the subject is the caller's own).
SELF_SERVICE = ("grants.object", "review.apply")


def test_portal_accounts_hold_portal_permissions_only() -> None:
    for name, p in PERMISSIONS.items():
        portal = p.roles & {Role.ENTERPRISE, Role.CITIZEN}
        assert not portal or name.startswith("portal.") or name in SELF_SERVICE, name
        assert not name.startswith("portal.") or p.roles <= {Role.ENTERPRISE, Role.CITIZEN}


def test_only_a_system_administrator_administers_accounts_and_keys() -> None:
    assert PERMISSIONS["access.admin"].roles == {Role.SYSADMIN}


def test_scope_follows_the_directory_the_caller_was_authenticated_under() -> None:
    directory = parse_departments(
        "departments:\n  - {code: top, name: 上级, kind: bureau}\n"
        "  - {code: sub, name: 下级, kind: branch, parent: top}\n"
    )
    handler = Principal(
        PrincipalKind.KEY,
        "k",
        roles=frozenset({Role.HANDLER}),
        department="top",
        directory=directory,
    )
    assert handler.sees_department("sub") and not handler.sees_department("city-hrss")
    below = Principal(
        PrincipalKind.KEY,
        "k",
        roles=frozenset({Role.HANDLER}),
        department="sub",
        directory=directory,
    )
    assert not below.sees_department("top")
