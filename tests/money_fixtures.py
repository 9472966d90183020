"""Every money test ends with the ledger's invariants checked (`creatorhub ledger verify`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from creatorhub.ledger.verify import verify


@pytest.fixture(autouse=True)
def ledger_verified(request: pytest.FixtureRequest, database_url: str) -> Iterator[None]:
    """After the test: I1-I6 hold on its database. Opt out only where a test corrupts it."""
    yield
    if request.node.get_closest_marker("ledger_corrupted"):
        return
    violations = verify(database_url)
    assert not violations, "ledger invariants violated:\n" + "\n".join(map(str, violations))
