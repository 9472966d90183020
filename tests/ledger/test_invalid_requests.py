"""`invalid_ledger_request` (CH009): a ledger call the functions cannot make sense of, and the
history it refuses to rewrite. No API route sends one (the services build every call), so the
closest real path is the service functions on a real database; each refusal changes nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from creatorhub.db import Database
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InvalidLedgerRequest, translate
from creatorhub.ledger.models import AccountKind
from creatorhub.ledger.service import TransferSpec
from snapshots import rows


async def wallets(database: Database) -> tuple[uuid.UUID, uuid.UUID]:
    async with database.session_scope() as session:
        alice = await ledger.user_account(session, uuid.uuid4(), "USD")
        bob = await ledger.user_account(session, uuid.uuid4(), "USD")
        clearing = await ledger.platform_account(session, AccountKind.PROVIDER_CLEARING, "USD")
        await ledger.transfer(session, TransferSpec(clearing, alice, 100, "funding", "fund-a"))
    return alice, bob


async def ledger_rows(database: Database) -> str:
    return await rows(database, "ledger.accounts", "ledger.transfers", "ledger.holds")


@pytest.mark.parametrize(
    ("kind", "key"),
    [("", "k-1"), ("tip", "")],
    ids=["without a kind", "without an idempotency key"],
)
async def test_a_transfer_missing_what_it_is_is_refused(
    database: Database, kind: str, key: str
) -> None:
    alice, bob = await wallets(database)
    before = await ledger_rows(database)
    with pytest.raises(InvalidLedgerRequest) as refused:
        async with database.session_scope() as session:
            await ledger.transfer(session, TransferSpec(alice, bob, 10, kind, key))
    assert refused.value.code == "invalid_ledger_request"
    assert refused.value.status == 422
    assert "kind and idempotency_key are required" in str(refused.value)
    assert await ledger_rows(database) == before


async def test_history_cannot_be_rewritten(database: Database) -> None:
    """A transfer is never updated: the append-only guard refuses with CH009, which the ledger
    reads as `invalid_ledger_request`."""
    await wallets(database)
    before = await ledger_rows(database)
    with pytest.raises(DBAPIError) as caught:
        async with database.session_scope() as session:
            await session.execute(text("UPDATE ledger.transfers SET amount = amount + 1"))
    problem = translate(caught.value)
    assert isinstance(problem, InvalidLedgerRequest)
    assert problem.code == "invalid_ledger_request"
    assert "append-only" in str(problem)
    assert await ledger_rows(database) == before
