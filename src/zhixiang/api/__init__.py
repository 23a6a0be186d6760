"""The web application: `create_app()` builds one FastAPI app on which every capability hangs its routes."""

from __future__ import annotations

from fastapi import FastAPI

from zhixiang import __version__
from zhixiang.api import data, open311, requests
from zhixiang.config import Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; routers hold no business logic, they call each capability's public face."""
    settings = settings or load_settings()
    app = FastAPI(title="智享 Zhixiang", version=__version__)
    app.state.settings = settings

    app.include_router(requests.router)
    app.include_router(open311.router)
    app.include_router(data.router)

    @app.get("/health", tags=["system"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


__all__ = ["create_app"]
