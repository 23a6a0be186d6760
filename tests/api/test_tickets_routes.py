"""Every ticket and Open311 route declares who may call it (walking the routers themselves, so the
check does not depend on how the application nests them)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from zhixiang.api import open311, tickets
from zhixiang.api._auth import PUBLIC, declared_permission


def test_every_ticket_route_declares_a_permission_and_only_reads_are_public() -> None:
    routes = [
        r for router in (tickets.router, open311.router) for r in router.routes
        if isinstance(r, APIRoute)
    ]  # fmt: skip
    declared = {f"{sorted(r.methods)} {r.path}": declared_permission(r) for r in routes}
    assert len(declared) == 17 and None not in declared.values(), declared
    public = sorted(k for k, v in declared.items() if v == PUBLIC)
    assert all(k.startswith("['GET']") for k in public), public
    assert declared["['POST'] /open311/v2/requests.{fmt}"] == "tickets.intake"
    assert declared["['POST'] /requests/tickets"] == "tickets.intake"
