"""The ledger's functions on a real database: transfers, groups, idempotency, holds, refusals."""

from __future__ import annotations

import uuid
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import text

from creatorhub.db import Database
from creatorhub.kit.clock import utcnow
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import (
    CurrencyMismatch,
    HoldNotPending,
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    PostExceedsHold,
    SameAccount,
    UnknownAccount,
)
from creatorhub.ledger.models import AccountKind, OwnerType
from creatorhub.ledger.service import TransferSpec


async def funded_wallet(database: Database, amount: int, currency: str = "USD") -> uuid.UUID:
    """A user wallet holding `amount`, funded from the provider clearing account."""
    async with database.session_scope() as session:
        wallet = await ledger.user_account(session, uuid.uuid4(), currency)
        if amount:
            clearing = await ledger.platform_account(
                session, AccountKind.PROVIDER_CLEARING, currency
            )
            await ledger.transfer(
                session,
                TransferSpec(clearing, wallet, amount, "funding", f"fund-{uuid.uuid4()}"),
            )
    return wallet


async def balances(database: Database, *ids: uuid.UUID) -> list[tuple[int, int, int]]:
    async with database.session_scope() as session:
        rows = []
        for account_id in ids:
            account = await ledger.get_account(session, account_id)
            assert account is not None
            rows.append((account.balance, account.pending_debits, account.version))
        return rows


async def count(database: Database, sql: str) -> int:
    async with database.session_scope() as session:
        return int((await session.execute(text(sql))).scalar_one())


async def test_transfer_moves_money_and_writes_the_chain(database: Database) -> None:
    alice = await funded_wallet(database, 10_000)
    bob = await funded_wallet(database, 0)
    async with database.session_scope() as session:
        first = await ledger.transfer(session, TransferSpec(alice, bob, 2_550, "tip", "t-1"))
        await ledger.transfer(session, TransferSpec(alice, bob, 1, "tip", "t-2"))
    assert first.created
    assert await balances(database, alice, bob) == [(7_449, 0, 3), (2_551, 0, 2)]
    async with database.session_scope() as session:
        chain = (
            await session.execute(
                text(
                    "SELECT account_version, amount, previous_balance, new_balance"
                    " FROM ledger.entries WHERE account_id = :a ORDER BY account_version"
                ),
                {"a": alice},
            )
        ).all()
    assert [tuple(row) for row in chain] == [
        (1, 10_000, 0, 10_000),
        (2, -2_550, 10_000, 7_450),
        (3, -1, 7_450, 7_449),
    ]


async def test_repeated_key_applies_once_and_a_reused_key_is_refused(database: Database) -> None:
    alice = await funded_wallet(database, 1_000)
    bob = await funded_wallet(database, 0)
    spec = TransferSpec(alice, bob, 300, "tip", "same-key")
    async with database.session_scope() as session:
        first = await ledger.transfer(session, spec)
    async with database.session_scope() as session:
        again = await ledger.transfer(session, spec)
    assert first.created and not again.created
    assert again.transfer_id == first.transfer_id
    assert await balances(database, alice, bob) == [(700, 0, 2), (300, 0, 1)]

    with pytest.raises(IdempotencyMismatch):
        async with database.session_scope() as session:
            await ledger.transfer(session, TransferSpec(alice, bob, 301, "tip", "same-key"))
    assert await balances(database, alice, bob) == [(700, 0, 2), (300, 0, 1)]


async def test_a_group_is_applied_whole_or_not_at_all(database: Database) -> None:
    alice = await funded_wallet(database, 1_000)
    bob = await funded_wallet(database, 0)
    carol = await funded_wallet(database, 0)
    group = [
        TransferSpec(alice, bob, 600, "tip", "g-1"),
        # Bob can pay on only after receiving: order inside a group counts.
        TransferSpec(bob, carol, 500, "tip", "g-2"),
        TransferSpec(alice, carol, 401, "tip", "g-3"),  # 1 cent more than Alice has left
    ]
    with pytest.raises(InsufficientFunds) as refused:
        async with database.session_scope() as session:
            await ledger.apply_transfers(session, group)
    assert refused.value.record["action"] == "prevent_negative_wallet"
    assert refused.value.record["attempted_value"] == -1
    assert refused.value.record["previous_value"] == 400  # after the first transfer
    assert await balances(database, alice, bob, carol) == [(1_000, 0, 1), (0, 0, 0), (0, 0, 0)]
    assert await count(database, "SELECT count(*) FROM ledger.transfers WHERE kind = 'tip'") == 0

    async with database.session_scope() as session:
        results = await ledger.apply_transfers(session, group[:2])
    assert [r.created for r in results] == [True, True]
    assert await balances(database, alice, bob, carol) == [(400, 0, 2), (100, 0, 2), (500, 0, 1)]


async def test_refused_debit_is_logged_in_seed_000_form(database: Database) -> None:
    user_id = uuid.uuid4()
    async with database.session_scope() as session:
        await session.execute(
            text(
                "INSERT INTO identity.users (id, email, display_name, roles)"
                " VALUES (:id, 'poor@example.com', 'Poor', ARRAY['creator'])"
            ),
            {"id": user_id},
        )
        wallet = await ledger.user_account(session, user_id, "USD")
        other = await ledger.user_account(session, uuid.uuid4(), "USD")
    with pytest.raises(InsufficientFunds) as refused:
        async with database.session_scope() as session:
            await ledger.transfer(session, TransferSpec(wallet, other, 2_000, "tip", "poor-1"))
    await ledger.record_insufficient_funds(database, refused.value)
    async with database.session_scope() as session:
        row = (
            await session.execute(
                text("SELECT source_uid, data FROM audit.system_logs WHERE component = 'ledger'")
            )
        ).one()
    assert row.source_uid == user_id
    assert row.data["action"] == "prevent_negative_wallet"
    assert row.data["attempted_value"] == -2_000
    assert row.data["previous_value"] == 0
    assert row.data["user_email"] == "poor@example.com"
    assert row.data["user_type"] == "creator"
    assert row.data["message"] == "Attempted wallet update below 0 prevented"


@pytest.mark.parametrize(
    ("amount", "problem"),
    [(0, InvalidAmount), (-5, InvalidAmount), (True, InvalidAmount), (1.5, InvalidAmount)],
)
async def test_bad_amounts_are_refused(
    database: Database, amount: object, problem: type[Exception]
) -> None:
    alice = await funded_wallet(database, 100)
    bob = await funded_wallet(database, 0)
    with pytest.raises(problem):
        async with database.session_scope() as session:
            await ledger.transfer(
                session,
                TransferSpec(alice, bob, amount, "tip", "bad"),  # type: ignore[arg-type]
            )
    assert await balances(database, alice, bob) == [(100, 0, 1), (0, 0, 0)]


async def test_currency_self_and_unknown_accounts_are_refused(database: Database) -> None:
    dollars = await funded_wallet(database, 100, "USD")
    euros = await funded_wallet(database, 100, "EUR")
    with pytest.raises(CurrencyMismatch):
        async with database.session_scope() as session:
            await ledger.transfer(session, TransferSpec(dollars, euros, 10, "tip", "x-1"))
    with pytest.raises(CurrencyMismatch):
        async with database.session_scope() as session:
            await ledger.transfer(
                session, TransferSpec(dollars, euros, 10, "tip", "x-2", currency="EUR")
            )
    with pytest.raises(SameAccount):
        async with database.session_scope() as session:
            await ledger.transfer(session, TransferSpec(dollars, dollars, 10, "tip", "x-3"))
    with pytest.raises(UnknownAccount):
        async with database.session_scope() as session:
            await ledger.transfer(session, TransferSpec(dollars, uuid.uuid4(), 10, "tip", "x-4"))
    assert await balances(database, dollars, euros) == [(100, 0, 1), (100, 0, 1)]


async def test_account_currency_must_be_iso_or_credit(database: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    async with database.session_scope() as session:
        credits = await ledger.ensure_account(
            session,
            owner_type=OwnerType.USER,
            owner_id=uuid.uuid4(),
            kind=AccountKind.CREDITS,
            currency="CREDIT",
        )
    assert credits
    with pytest.raises(IntegrityError):
        async with database.session_scope() as session:
            await ledger.ensure_account(
                session,
                owner_type=OwnerType.USER,
                owner_id=uuid.uuid4(),
                kind=AccountKind.WALLET_AVAILABLE,
                currency="usd",
            )


async def test_ensure_account_is_idempotent(database: Database) -> None:
    owner = uuid.uuid4()
    async with database.session_scope() as session:
        first = await ledger.user_account(session, owner, "USD")
        second = await ledger.user_account(session, owner, "USD")
        pending = await ledger.user_account(session, owner, "USD", AccountKind.WALLET_PENDING)
    assert first == second != pending


async def test_hold_reserves_then_posts_part_and_releases_the_rest(database: Database) -> None:
    brand = await funded_wallet(database, 1_000)
    creator = await funded_wallet(database, 0)
    async with database.session_scope() as session:
        hold = await ledger.create_hold(
            session,
            debit_account_id=brand,
            credit_account_id=creator,
            amount=700,
            kind="escrow_release",
            idempotency_key="h-1",
        )
    assert await balances(database, brand) == [(1_000, 700, 1)]
    # Held money cannot be spent twice.
    with pytest.raises(InsufficientFunds):
        async with database.session_scope() as session:
            await ledger.transfer(session, TransferSpec(brand, creator, 301, "tip", "spend"))

    async with database.session_scope() as session:
        posted = await ledger.post_hold(session, hold.hold_id, amount=450)
    assert len(posted) == 1 and posted[0].created
    assert await balances(database, brand, creator) == [(550, 0, 2), (450, 0, 1)]
    async with database.session_scope() as session:
        stored = await ledger.get_hold(session, hold.hold_id)
        assert stored is not None
        assert (stored.status, stored.posted_amount) == ("posted", 450)

    with pytest.raises(HoldNotPending):
        async with database.session_scope() as session:
            await ledger.post_hold(session, hold.hold_id)
    with pytest.raises(HoldNotPending):
        async with database.session_scope() as session:
            await ledger.void_hold(session, hold.hold_id)


async def test_post_with_a_fee_in_the_same_group(database: Database) -> None:
    brand = await funded_wallet(database, 1_000)
    creator = await funded_wallet(database, 0)
    async with database.session_scope() as session:
        hold = await ledger.create_hold(
            session,
            debit_account_id=brand,
            credit_account_id=creator,
            amount=1_000,
            kind="escrow_release",
            idempotency_key="h-fee",
        )
        fees = await ledger.fee_account(session, "USD", key="h-fee", shards=16)
        results = await ledger.post_hold(
            session,
            hold.hold_id,
            also=[TransferSpec(creator, fees, 100, "platform_fee", "h-fee:fee")],
        )
    assert len(results) == 2
    assert await balances(database, brand, creator, fees) == [(0, 0, 2), (900, 0, 2), (100, 0, 1)]


async def test_void_releases_and_a_voided_hold_cannot_post(database: Database) -> None:
    brand = await funded_wallet(database, 500)
    creator = await funded_wallet(database, 0)
    async with database.session_scope() as session:
        hold = await ledger.create_hold(
            session,
            debit_account_id=brand,
            credit_account_id=creator,
            amount=500,
            kind="escrow_release",
            idempotency_key="h-void",
        )
        await ledger.void_hold(session, hold.hold_id)
    assert await balances(database, brand) == [(500, 0, 1)]
    with pytest.raises(HoldNotPending):
        async with database.session_scope() as session:
            await ledger.post_hold(session, hold.hold_id)


async def test_hold_bounds(database: Database) -> None:
    brand = await funded_wallet(database, 500)
    creator = await funded_wallet(database, 0)
    with pytest.raises(InsufficientFunds):
        async with database.session_scope() as session:
            await ledger.create_hold(
                session,
                debit_account_id=brand,
                credit_account_id=creator,
                amount=501,
                kind="escrow_release",
                idempotency_key="too-much",
            )
    async with database.session_scope() as session:
        hold = await ledger.create_hold(
            session,
            debit_account_id=brand,
            credit_account_id=creator,
            amount=200,
            kind="escrow_release",
            idempotency_key="h-ok",
        )
        again = await ledger.create_hold(
            session,
            debit_account_id=brand,
            credit_account_id=creator,
            amount=200,
            kind="escrow_release",
            idempotency_key="h-ok",
        )
    assert not again.created and again.hold_id == hold.hold_id
    with pytest.raises(PostExceedsHold):
        async with database.session_scope() as session:
            await ledger.post_hold(session, hold.hold_id, amount=201)
    with pytest.raises(InvalidAmount):
        async with database.session_scope() as session:
            await ledger.post_hold(session, hold.hold_id, amount=0)
    assert await balances(database, brand) == [(500, 200, 1)]
    async with database.session_scope() as session:
        await ledger.void_hold(session, hold.hold_id)


async def test_expiry_releases_due_holds_only(database: Database) -> None:
    brand = await funded_wallet(database, 500)
    creator = await funded_wallet(database, 0)
    now = utcnow()
    async with database.session_scope() as session:
        due = await ledger.create_hold(
            session,
            debit_account_id=brand,
            credit_account_id=creator,
            amount=100,
            kind="reservation",
            idempotency_key="due",
            expires_at=now - timedelta(seconds=1),
        )
        later = await ledger.create_hold(
            session,
            debit_account_id=brand,
            credit_account_id=creator,
            amount=100,
            kind="reservation",
            idempotency_key="later",
            expires_at=now + timedelta(hours=1),
        )
    async with database.session_scope() as session:
        assert await ledger.expire_holds(session, now) == 1
        assert await ledger.expire_holds(session, now) == 0
        expired = await ledger.get_hold(session, due.hold_id)
        kept = await ledger.get_hold(session, later.hold_id)
        assert expired is not None and kept is not None
        assert (expired.status, kept.status) == ("expired", "pending")
    assert await balances(database, brand) == [(500, 100, 1)]
    async with database.session_scope() as session:
        await ledger.void_hold(session, later.hold_id)


async def test_history_is_append_only(database: Database) -> None:
    from sqlalchemy.exc import DBAPIError

    alice = await funded_wallet(database, 100)
    for statement in (
        "UPDATE ledger.transfers SET amount = 1",
        "DELETE FROM ledger.transfers",
        "DELETE FROM ledger.entries",  # a view over the transfers
        "TRUNCATE ledger.transfers CASCADE",
    ):
        with pytest.raises(DBAPIError):
            async with database.session_scope() as session:
                await session.execute(text(statement))
    assert await balances(database, alice) == [(100, 0, 1)]


def test_fee_shards_spread_evenly() -> None:
    counts = [0] * 16
    for n in range(16_000):
        counts[ledger.fee_shard_for(f"key-{n}", 16)] += 1
    assert min(counts) > 850 and max(counts) < 1_150


async def test_a_large_batch_applies_set_based_and_exactly_once(database: Database) -> None:
    wallets = [await funded_wallet(database, 100_000) for _ in range(5)]
    batch = [
        TransferSpec(wallets[n % 5], wallets[(n * 3 + 1) % 5], 1 + n % 97, "import", f"b-{n}")
        for n in range(500)
        if n % 5 != (n * 3 + 1) % 5
    ]
    async with database.session_scope() as session:
        first = await ledger.apply_transfers(session, batch)
    assert len(first) == len(batch) and all(r.created for r in first)
    async with database.session_scope() as session:
        again = await ledger.apply_transfers(session, batch)
    assert [r.transfer_id for r in again] == [r.transfer_id for r in first]
    assert not any(r.created for r in again)
    expected = [100_000] * 5
    for spec in batch:
        expected[wallets.index(spec.debit_account_id)] -= spec.amount
        expected[wallets.index(spec.credit_account_id)] += spec.amount
    assert [b for b, _, _ in await balances(database, *wallets)] == expected

    changed = [*batch[:20], TransferSpec(wallets[0], wallets[1], 5, "import", "b-1")]
    with pytest.raises(IdempotencyMismatch):
        async with database.session_scope() as session:
            await ledger.apply_transfers(session, changed)
    too_much = [TransferSpec(wallets[0], wallets[1], 10_000, "import", f"x-{n}") for n in range(30)]
    with pytest.raises(InsufficientFunds):
        async with database.session_scope() as session:
            await ledger.apply_transfers(session, too_much)
    assert [b for b, _, _ in await balances(database, *wallets)] == expected


async def test_transfer_with_fee_is_one_group_and_idempotent(database: Database) -> None:
    fan = await funded_wallet(database, 1_000)
    creator = await funded_wallet(database, 0)
    async with database.session_scope() as session:
        fees = await ledger.fee_account(session, "USD", key="tip-9", shards=16)
        spec = TransferSpec(fan, creator, 999, "tip", "tip-9")
        first = await ledger.transfer_with_fee(session, spec, fee_account_id=fees, fee=99)
        again = await ledger.transfer_with_fee(session, spec, fee_account_id=fees, fee=99)
    assert [r.created for r in first] == [True, True]
    assert [r.created for r in again] == [False, False]
    assert [r.idempotency_key for r in first] == ["tip-9", "tip-9:fee"]
    assert await balances(database, fan, creator, fees) == [(1, 0, 2), (900, 0, 2), (99, 0, 1)]
    assert (
        await count(
            database,
            "SELECT count(DISTINCT group_id) FROM ledger.transfers WHERE kind IN"
            " ('tip', 'platform_fee')",
        )
        == 1
    )
    for fee in (0, 1_000):
        with pytest.raises(InvalidAmount):
            async with database.session_scope() as session:
                await ledger.transfer_with_fee(
                    session,
                    TransferSpec(fan, creator, 999, "tip", f"bad-{fee}"),
                    fee_account_id=fees,
                    fee=fee,
                )
    with pytest.raises(SameAccount):
        async with database.session_scope() as session:
            await ledger.transfer_with_fee(
                session,
                TransferSpec(fan, creator, 1, "tip", "self-fee"),
                fee_account_id=creator,
                fee=1,
            )


async def test_a_large_batch_applies_only_its_new_keys_and_keeps_the_chain(
    database: Database,
) -> None:
    wallets = [await funded_wallet(database, 100_000) for _ in range(3)]
    seen = [TransferSpec(wallets[0], wallets[1], 10 + n, "import", f"seen-{n}") for n in range(20)]
    async with database.session_scope() as session:
        earlier = await ledger.apply_transfers(session, seen)
    fresh = [TransferSpec(wallets[1], wallets[2], 100 + n, "import", f"new-{n}") for n in range(20)]
    # The first 10 again, 20 new ones, and one new one twice: each key applies once.
    mixed = [*seen[:10], *fresh, fresh[3]]
    async with database.session_scope() as session:
        results = await ledger.apply_transfers(session, mixed)
    assert [r.created for r in results] == [False] * 10 + [True] * 20 + [False]
    assert [r.transfer_id for r in results[:10]] == [r.transfer_id for r in earlier[:10]]
    assert results[-1].transfer_id == results[13].transfer_id
    moved_seen = sum(spec.amount for spec in seen)
    moved_fresh = sum(spec.amount for spec in fresh)
    assert await balances(database, *wallets) == [
        (100_000 - moved_seen, 0, 21),
        (100_000 + moved_seen - moved_fresh, 0, 41),
        (100_000 + moved_fresh, 0, 21),
    ]
    async with database.session_scope() as session:
        chain = (
            await session.execute(
                text(
                    "SELECT account_version, previous_balance, new_balance FROM ledger.entries"
                    " WHERE account_id = :a ORDER BY account_version"
                ),
                {"a": wallets[1]},
            )
        ).all()
    assert [row.account_version for row in chain] == list(range(1, 42))
    assert all(a.new_balance == b.previous_balance for a, b in pairwise(chain))


async def test_a_large_batch_with_one_foreign_currency_is_refused_whole(
    database: Database,
) -> None:
    usd = [await funded_wallet(database, 10_000) for _ in range(2)]
    eur = await funded_wallet(database, 10_000, "EUR")
    batch = [TransferSpec(usd[0], usd[1], 1, "import", f"cur-{n}") for n in range(30)]
    batch[17] = TransferSpec(usd[0], eur, 1, "import", "cur-17")
    with pytest.raises(CurrencyMismatch, match="transfer 18 of the batch"):
        async with database.session_scope() as session:
            await ledger.apply_transfers(session, batch)
    assert await balances(database, *usd, eur) == [(10_000, 0, 1), (10_000, 0, 1), (10_000, 0, 1)]


async def test_transfer_with_fee_refuses_a_taken_fee_key_and_foreign_accounts(
    database: Database,
) -> None:
    fan = await funded_wallet(database, 1_000)
    creator = await funded_wallet(database, 0)
    elsewhere = await funded_wallet(database, 0)
    eur_fees = await funded_wallet(database, 0, "EUR")
    async with database.session_scope() as session:
        fees = await ledger.fee_account(session, "USD", key="tip-1", shards=16)
        await ledger.transfer(session, TransferSpec(fan, elsewhere, 5, "tip", "tip-1:fee"))
    with pytest.raises(IdempotencyMismatch):
        async with database.session_scope() as session:
            await ledger.transfer_with_fee(
                session,
                TransferSpec(fan, creator, 100, "tip", "tip-1"),
                fee_account_id=fees,
                fee=10,
            )
    with pytest.raises(CurrencyMismatch):
        async with database.session_scope() as session:
            await ledger.transfer_with_fee(
                session,
                TransferSpec(fan, creator, 100, "tip", "tip-2"),
                fee_account_id=eur_fees,
                fee=10,
            )
    with pytest.raises(UnknownAccount):
        async with database.session_scope() as session:
            await ledger.transfer_with_fee(
                session,
                TransferSpec(fan, creator, 100, "tip", "tip-3"),
                fee_account_id=uuid.uuid4(),
                fee=10,
            )
    assert await balances(database, fan, creator, elsewhere) == [(995, 0, 2), (0, 0, 0), (5, 0, 1)]
