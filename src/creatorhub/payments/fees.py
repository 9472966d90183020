"""Platform fees: basis points of the gross plus a fixed amount, per kind of transaction.

The rounding rule lives here and only here: the percentage part is rounded down (a fraction of
a cent goes to the payee), and the fee never exceeds the gross. Every fee-bearing transaction is
a ledger group of two transfers, so statements show gross, fee and net:

    payer ──gross──▶ payee wallet ──fee──▶ platform fee shard
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.ledger import service as ledger
from creatorhub.ledger.service import TransferSpec
from creatorhub.payments.models import FeeRule

BASIS_POINTS_PER_UNIT = 10_000


@dataclass(frozen=True)
class FeeQuote:
    kind: str
    gross: int
    fee: int
    basis_points: int
    fixed_amount: int

    @property
    def net(self) -> int:
        return self.gross - self.fee


def compute_fee(gross: int, basis_points: int, fixed_amount: int) -> int:
    """The fee on `gross`: floor(gross * bps / 10 000) + fixed, at most the gross."""
    if gross <= 0:
        return 0
    return min(gross, gross * basis_points // BASIS_POINTS_PER_UNIT + fixed_amount)


async def applicable_rule(
    session: AsyncSession, kind: str, payee_id: uuid.UUID | None
) -> FeeRule | None:
    """The payee's override for `kind` if there is one, else the default rule."""
    rules = (
        await session.scalars(
            select(FeeRule).where(
                FeeRule.transaction_kind == kind,
                (FeeRule.user_id.is_(None)) | (FeeRule.user_id == payee_id),
            )
        )
    ).all()
    overrides = [rule for rule in rules if rule.user_id is not None]
    if overrides:
        return overrides[0]
    return rules[0] if rules else None


async def quote(
    session: AsyncSession, *, kind: str, payee_id: uuid.UUID | None, gross: int
) -> FeeQuote:
    rule = await applicable_rule(session, kind, payee_id)
    bps, fixed = (rule.basis_points, rule.fixed_amount) if rule else (0, 0)
    return FeeQuote(
        kind=kind,
        gross=gross,
        fee=compute_fee(gross, bps, fixed),
        basis_points=bps,
        fixed_amount=fixed,
    )


async def fee_transfer(
    session: AsyncSession,
    *,
    payee_account_id: uuid.UUID,
    fee: FeeQuote,
    currency: str,
    key: str,
    shards: int,
    reference_type: str | None = None,
    reference_id: str | None = None,
) -> list[TransferSpec]:
    """The transfer collecting `fee` from the payee's account, or nothing for a zero fee."""
    if fee.fee == 0:
        return []
    fees = await ledger.fee_account(session, currency, key=key, shards=shards)
    return [
        TransferSpec(
            debit_account_id=payee_account_id,
            credit_account_id=fees,
            amount=fee.fee,
            kind="platform_fee",
            idempotency_key=f"{key}:fee",
            currency=currency,
            reference_type=reference_type,
            reference_id=reference_id,
            metadata={
                "fee_of": fee.kind,
                "gross": fee.gross,
                "basis_points": fee.basis_points,
                "fixed_amount": fee.fixed_amount,
            },
        )
    ]
