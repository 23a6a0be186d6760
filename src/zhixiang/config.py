"""Where the platform keeps its state; one place so every capability agrees."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Locations and connection strings, read from the environment with embedded defaults."""

    home: Path
    warehouse_url: str
    tickets_url: str
    policies_dir: Path | None = None  # None: the bundled demo policies

    @property
    def results_dir(self) -> Path:
        return self.home / "results"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"


def load_settings() -> Settings:
    """Read ZHIXIANG_HOME, _WAREHOUSE, _TICKETS_DB and _POLICIES; default to files under ./var."""
    home = Path(os.environ.get("ZHIXIANG_HOME", "var")).resolve()
    warehouse = os.environ.get("ZHIXIANG_WAREHOUSE", f"duckdb://{home / 'zhixiang.duckdb'}")
    tickets = os.environ.get("ZHIXIANG_TICKETS_DB", f"sqlite:///{home / 'tickets.db'}")
    policies = os.environ.get("ZHIXIANG_POLICIES")
    return Settings(
        home=home,
        warehouse_url=warehouse,
        tickets_url=tickets,
        policies_dir=Path(policies).resolve() if policies else None,
    )
