"""The grant ledger every grants test starts from: migrated on the database under test, disposed after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zhixiang.grants import GrantLedger


@pytest.fixture
def ledger(database_url: str) -> Iterator[GrantLedger]:
    found = GrantLedger(database_url)
    found.migrate()
    yield found
    found.dispose()
