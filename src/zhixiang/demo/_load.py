"""How the demo data reach the warehouse."""

from __future__ import annotations

import pyarrow as pa
from ibis.backends import BaseBackend

from zhixiang.config import Settings


def load_demo_enterprises(con: BaseBackend, table: pa.Table, settings: Settings) -> None:
    """Put the generated enterprises in the warehouse table `enterprise`."""
    con.create_table("enterprise", table, overwrite=True)
