"""Paying a payee: gross in, platform fee out, net left in the wallet, now or after a hold period.

`pay_earnings` is what every product calls when someone earns money (an approved job slot, a
tip, a subscription period): from a payer account or by posting an escrow hold. With
`earnings_hold_days` > 0 the money lands in the payee's pending wallet with a release date and a
reason, and `release_due_earnings` (a periodic job) moves it to the available wallet.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import AccountKind
from creatorhub.ledger.service import TransferResult, TransferSpec
from creatorhub.payments.fees import (
    FeeQuote,
    compute_fee,
    fee_spec,
    fee_transfer,
    quote,
    quotes_for,
)
from creatorhub.payments.models import PendingEarning


@dataclass(frozen=True)
class Earning:
    quote: FeeQuote
    transfers: list[TransferResult]
    pending_until: datetime | None

    @property
    def created(self) -> bool:
        return bool(self.transfers) and self.transfers[0].created


async def pay_earnings(
    session: AsyncSession,
    *,
    payee_id: uuid.UUID,
    gross: int,
    currency: str,
    kind: str,
    key: str,
    reason: str,
    now: datetime,
    hold_days: int,
    fee_shards: int,
    payer_account_id: uuid.UUID | None = None,
    hold_id: uuid.UUID | None = None,
    reference_type: str | None = None,
    reference_id: str | None = None,
) -> Earning:
    """Credit `gross` to the payee minus the fee for `kind`, atomically, once per `key`.

    Exactly one of `payer_account_id` (a direct transfer) and `hold_id` (post an escrow hold,
    whose credit account must be the payee's destination wallet) is given.
    """
    if (payer_account_id is None) == (hold_id is None):
        raise ValueError("give exactly one of payer_account_id and hold_id")
    fee = await quote(session, kind=kind, payee_id=payee_id, gross=gross)
    kind_of_wallet = AccountKind.WALLET_PENDING if hold_days else AccountKind.WALLET_AVAILABLE
    destination = await ledger.user_account(session, payee_id, currency, kind_of_wallet)
    fee_specs = await fee_transfer(
        session,
        payee_account_id=destination,
        fee=fee,
        currency=currency,
        key=key,
        shards=fee_shards,
        reference_type=reference_type,
        reference_id=reference_id,
    )
    if hold_id is not None:
        results = await ledger.post_hold(session, hold_id, amount=gross, also=fee_specs)
    else:
        assert payer_account_id is not None
        gross_spec = TransferSpec(
            debit_account_id=payer_account_id,
            credit_account_id=destination,
            amount=gross,
            kind=kind,
            idempotency_key=key,
            currency=currency,
            reference_type=reference_type,
            reference_id=reference_id,
        )
        if fee_specs:
            (fee_spec,) = fee_specs
            results = await ledger.transfer_with_fee(
                session,
                gross_spec,
                fee_account_id=fee_spec.credit_account_id,
                fee=fee_spec.amount,
                fee_metadata=fee_spec.metadata,
            )
        else:
            results = [await ledger.transfer(session, gross_spec)]

    pending_until = None
    if hold_days and fee.net > 0 and results[0].created:
        pending_until = now + timedelta(days=hold_days)
        session.add(
            PendingEarning(
                user_id=payee_id,
                amount=fee.net,
                currency=currency,
                reason=reason,
                source_type=reference_type,
                source_id=reference_id,
                release_at=pending_until,
            )
        )
        await session.flush()
    return Earning(quote=fee, transfers=results, pending_until=pending_until)


@dataclass(frozen=True)
class EarningOrder:
    """One payee's earning in a batch (`pay_earnings_many`): its own key and reason."""

    payee_id: uuid.UUID
    gross: int
    key: str
    reason: str


async def pay_earnings_many(
    session: AsyncSession,
    orders: Sequence[EarningOrder],
    *,
    payer_account_id: uuid.UUID,
    currency: str,
    kind: str,
    now: datetime,
    hold_days: int,
    fee_shards: int,
    reference_type: str | None = None,
    reference_id: str | None = None,
) -> list[Earning]:
    """`pay_earnings` of many orders from one payer account, all or none, in five round
    trips whatever their number: the fee rules, the payees' wallets, the fee accounts, one
    ledger group (each order's gross transfer and its fee transfer, keyed like
    `pay_earnings`'s, so that re-running an order moves nothing) and the pending earnings.
    The ledger refuses the whole group if the payer cannot cover it. Answers an `Earning`
    per order, in order."""
    if not orders:
        return []
    payees = sorted({order.payee_id for order in orders})
    rates = await quotes_for(session, kind=kind, payees=payees)
    kind_of_wallet = AccountKind.WALLET_PENDING if hold_days else AccountKind.WALLET_AVAILABLE
    wallets = await ledger.user_accounts(session, payees, currency, kind_of_wallet)
    fee_accounts = await ledger.fee_accounts(session, currency, shards=fee_shards)
    specs: list[TransferSpec] = []
    fee_quotes: list[FeeQuote] = []
    for order in orders:
        basis_points, fixed = rates[order.payee_id]
        fee = FeeQuote(
            kind=kind,
            gross=order.gross,
            fee=compute_fee(order.gross, basis_points, fixed),
            basis_points=basis_points,
            fixed_amount=fixed,
        )
        fee_quotes.append(fee)
        wallet = wallets[order.payee_id]
        specs.append(
            TransferSpec(
                debit_account_id=payer_account_id,
                credit_account_id=wallet,
                amount=order.gross,
                kind=kind,
                idempotency_key=order.key,
                currency=currency,
                reference_type=reference_type,
                reference_id=reference_id,
            )
        )
        if fee.fee:
            specs.append(
                fee_spec(
                    fee,
                    wallet,
                    fee_accounts[ledger.fee_shard_for(order.key, fee_shards)],
                    currency=currency,
                    key=order.key,
                    reference_type=reference_type,
                    reference_id=reference_id,
                )
            )
    results = iter(await ledger.apply_transfers(session, specs))
    earnings: list[Earning] = []
    pending: list[dict[str, object]] = []
    release_at = now + timedelta(days=hold_days)
    for order, fee in zip(orders, fee_quotes, strict=True):
        transfers = [next(results)] + ([next(results)] if fee.fee else [])
        waiting = bool(hold_days) and fee.net > 0 and transfers[0].created
        earnings.append(Earning(fee, transfers, release_at if waiting else None))
        if waiting:
            pending.append(
                {
                    "user_id": order.payee_id,
                    "amount": fee.net,
                    "currency": currency,
                    "reason": order.reason,
                    "source_type": reference_type,
                    "source_id": reference_id,
                    "release_at": release_at,
                }
            )
    if pending:
        await session.execute(insert(PendingEarning), pending)
    return earnings


async def release_due_earnings(session: AsyncSession, now: datetime, *, limit: int = 500) -> int:
    """Move earnings whose holding period is over to the available wallet. Returns how many."""
    due = (
        await session.scalars(
            select(PendingEarning)
            .where(PendingEarning.released_at.is_(None), PendingEarning.release_at <= now)
            .order_by(PendingEarning.release_at, PendingEarning.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for earning in due:
        pending = await ledger.user_account(
            session, earning.user_id, earning.currency, AccountKind.WALLET_PENDING
        )
        available = await ledger.user_account(session, earning.user_id, earning.currency)
        await ledger.transfer(
            session,
            TransferSpec(
                debit_account_id=pending,
                credit_account_id=available,
                amount=earning.amount,
                kind="earning_release",
                idempotency_key=f"earning:{earning.id}:release",
                currency=earning.currency,
                reference_type="pending_earning",
                reference_id=str(earning.id),
            ),
        )
        earning.released_at = now
    await session.flush()
    return len(due)
