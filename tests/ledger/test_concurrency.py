"""Bank-style races: many clients move money among a few accounts at once; I1-I6 must hold.

The same checker must also catch a broken ledger: a variant that updates balances by
read-modify-write (the classic lost update) runs under the same load and `verify` fails.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from creatorhub.db import Database
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import HoldNotPending, InsufficientFunds
from creatorhub.ledger.models import AccountKind
from creatorhub.ledger.service import TransferSpec
from creatorhub.ledger.verify import verify

CLIENTS = 12
SECONDS = 3.0
WALLETS = 5
START_BALANCE = 5_000


async def open_wallets(database: Database, count: int) -> list[uuid.UUID]:
    async with database.session_scope() as session:
        clearing = await ledger.platform_account(session, AccountKind.PROVIDER_CLEARING, "USD")
        wallets = [await ledger.user_account(session, uuid.uuid4(), "USD") for _ in range(count)]
        await ledger.apply_transfers(
            session,
            [
                TransferSpec(clearing, wallet, START_BALANCE, "funding", f"seed-{wallet}")
                for wallet in wallets
            ],
        )
    return wallets


async def test_random_concurrent_operations_keep_every_invariant(
    database: Database, database_url: str
) -> None:
    wallets = await open_wallets(database, WALLETS)
    async with database.session_scope() as session:
        in_transit = await ledger.platform_account(session, AccountKind.PAYOUTS_IN_TRANSIT, "USD")
        fee_shards = [
            await ledger.fee_account(session, "USD", key=f"k{n}", shards=4) for n in range(8)
        ]
    pending_holds: list[uuid.UUID] = []
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + SECONDS

    async def one_operation(rng: random.Random) -> None:
        a, b = rng.sample(wallets, 2)
        amount = rng.randint(1, 2_500)
        key = str(uuid.uuid4())
        operation = rng.choice(["transfer", "fee", "hold", "post", "void", "payout", "batch"])
        created_hold: uuid.UUID | None = None
        async with database.session_scope() as session:
            if operation == "transfer":
                await ledger.transfer(session, TransferSpec(a, b, amount, "tip", key))
            elif operation == "fee":
                # gross to the payee, the fee from the payee to one of the shards, atomically
                await ledger.apply_transfers(
                    session,
                    [
                        TransferSpec(a, b, amount, "tip", key),
                        TransferSpec(
                            b,
                            rng.choice(fee_shards),
                            amount // 10 + 1,
                            "platform_fee",
                            f"{key}:fee",
                        ),
                    ],
                )
            elif operation == "hold":
                hold = await ledger.create_hold(
                    session,
                    debit_account_id=a,
                    credit_account_id=b,
                    amount=amount,
                    kind="escrow_release",
                    idempotency_key=key,
                )
                created_hold = hold.hold_id
            elif operation in ("post", "void"):
                if not pending_holds:
                    outcomes["no_hold"] += 1
                    return
                hold_id = rng.choice(pending_holds)
                if operation == "void":
                    await ledger.void_hold(session, hold_id)
                else:
                    held = await ledger.get_hold(session, hold_id)
                    assert held is not None
                    await ledger.post_hold(session, hold_id, amount=rng.randint(1, held.amount))
            elif operation == "payout":
                # reserve into the in-transit account, then settle paid or returned at once
                await ledger.transfer(session, TransferSpec(a, in_transit, amount, "payout", key))
                settle_to = rng.choice([a, None])
                if settle_to is not None:
                    await ledger.transfer(
                        session,
                        TransferSpec(
                            in_transit, settle_to, amount, "payout_returned", f"{key}:returned"
                        ),
                    )
            else:
                await ledger.apply_transfers(
                    session,
                    [
                        TransferSpec(x, y, rng.randint(1, 50), "import", f"{key}:{n}")
                        for n, (x, y) in enumerate(
                            rng.sample(wallets, 2) for _ in range(rng.randint(2, 20))
                        )
                    ],
                )
        # Offered to the other clients only once committed: before that they cannot see it.
        if created_hold is not None:
            pending_holds.append(created_hold)
        outcomes[operation] += 1

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            try:
                await one_operation(rng)
            except InsufficientFunds:
                outcomes["refused_insufficient_funds"] += 1
            except HoldNotPending:
                outcomes["refused_hold_resolved"] += 1

    await asyncio.gather(*(client(seed) for seed in range(CLIENTS)))

    for operation in ("transfer", "fee", "hold", "post", "void", "payout", "batch"):
        assert outcomes[operation] > 0, outcomes
    print("operations:", dict(outcomes))
    assert outcomes["refused_insufficient_funds"] > 0, outcomes  # the guard was exercised
    assert verify(database_url) == []
    async with database.session_scope() as session:
        total = (
            await session.execute(
                text("SELECT sum(balance) FROM ledger.accounts WHERE currency = 'USD'")
            )
        ).scalar_one()
    assert total == 0


async def _broken_transfer(
    database: Database, debit: uuid.UUID, credit: uuid.UUID, amount: int
) -> None:
    """The bug the ledger functions exist to prevent: read, compute, write back."""
    async with database.session_scope() as session:
        rows = {
            row.id: row
            for row in (
                await session.execute(
                    text("SELECT id, balance FROM ledger.accounts WHERE id IN (:a, :b)"),
                    {"a": debit, "b": credit},
                )
            ).all()
        }
        await asyncio.sleep(0)  # let other clients read the same balances
        versions = {}
        for account_id, delta in ((debit, -amount), (credit, amount)):
            versions[account_id] = (
                await session.execute(
                    text(
                        "UPDATE ledger.accounts SET balance = :new, version = version + 1"
                        " WHERE id = :id RETURNING version"
                    ),
                    {"new": rows[account_id].balance + delta, "id": account_id},
                )
            ).scalar_one()
        transfer_id = uuid.uuid4()
        await session.execute(
            text(
                "INSERT INTO ledger.transfers (id, group_id, debit_account_id, credit_account_id,"
                " amount, currency, kind, idempotency_key, debit_account_version,"
                " debit_new_balance, credit_account_version, credit_new_balance)"
                " VALUES (:id, :id, :d, :c, :amount, 'USD', 'tip', :key, :dv, :db, :cv, :cb)"
            ),
            {
                "id": transfer_id,
                "d": debit,
                "c": credit,
                "amount": amount,
                "key": str(transfer_id),
                "dv": versions[debit],
                "db": rows[debit].balance - amount,
                "cv": versions[credit],
                "cb": rows[credit].balance + amount,
            },
        )


@pytest.mark.ledger_corrupted
async def test_the_checker_catches_a_read_modify_write_ledger(
    database: Database, database_url: str
) -> None:
    wallets = await open_wallets(database, 3)
    deadline = time.monotonic() + 1.5
    errors: Counter[str] = Counter()

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            a, b = rng.sample(wallets, 2)
            try:
                await _broken_transfer(database, a, b, rng.randint(1, 100))
            except DBAPIError as error:  # deadlocks: this variant also ignores lock order
                errors[type(error.orig).__name__] += 1

    await asyncio.gather(*(client(seed) for seed in range(8)))
    violations = verify(database_url)
    print("broken variant:", [str(v)[:120] for v in violations], dict(errors))
    found = {v.invariant for v in violations}
    assert "I3" in found, violations  # balances no longer equal their entries
    assert "I1" in found, violations  # money was created or destroyed
