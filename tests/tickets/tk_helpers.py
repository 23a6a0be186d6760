"""Callers and a clock shared by the ticket tests: principals as `zhixiang.access` makes them."""

from __future__ import annotations

from datetime import datetime

from zhixiang.access import Principal, PrincipalKind, Role


def person(name: str, role: Role, department: str | None = None) -> Principal:
    return Principal(PrincipalKind.USER, name, name, frozenset({role}), department)


AGENT = person("wang", Role.AGENT, "center")
SIMING = person("li", Role.HANDLER, "siming-housing")
HEALTH = person("zhao", Role.HANDLER, "city-health")
OFFICER = person("sun", Role.DATA_OFFICER, "city-data")
LEADER = person("zhou", Role.LEADER)
APP = Principal(PrincipalKind.KEY, "app1", "i厦门", frozenset({Role.CHANNEL}))


class Clock:
    """The store's notion of now, moved by the test instead of waiting for days to pass."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
