"""Platform fees: basis points of the gross plus a fixed amount, per kind of transaction.

The rounding rule lives here and only here: the percentage part is rounded down (a fraction of
a cent goes to the payee), and the fee never exceeds the gross. Every fee-bearing transaction is
a ledger group of two transfers, so statements show gross, fee and net:

    payer ──gross──▶ payee wallet ──fee──▶ platform fee shard
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change, snapshot
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

    def metadata(self) -> dict[str, object]:
        """What the fee transfer records of how it was computed."""
        return {
            "fee_of": self.kind,
            "gross": self.gross,
            "basis_points": self.basis_points,
            "fixed_amount": self.fixed_amount,
        }


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


async def rules(session: AsyncSession) -> Sequence[FeeRule]:
    """Every rule: by kind of transaction, the default first, then the payees' overrides."""
    rows = await session.scalars(
        select(FeeRule).order_by(FeeRule.transaction_kind, FeeRule.user_id.nulls_first())
    )
    return rows.all()


async def set_rule(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    kind: str,
    user_id: uuid.UUID | None,
    basis_points: int,
    fixed_amount: int,
) -> FeeRule:
    """Set the default fee of a kind of transaction, or one payee's override (`user_id`).

    One upsert (`INSERT … ON CONFLICT … DO UPDATE` on the rule's partial unique index), so
    concurrent setters of one rule never collide: each either creates it or updates it, the
    last one to commit wins, and there is one row. The audit row shows the rule before (as the
    statement found it) and after.
    """
    found = FeeRule.__table__.alias("found")
    before = (
        select(func.to_jsonb(literal_column("found")))
        .select_from(found)
        .where(
            found.c.transaction_kind == kind,
            found.c.user_id.is_(None) if user_id is None else found.c.user_id == user_id,
        )
        .scalar_subquery()
    )
    values = {
        "transaction_kind": kind,
        "user_id": user_id,
        "basis_points": basis_points,
        "fixed_amount": fixed_amount,
        "updated_by": actor_id,
    }
    statement = insert(FeeRule).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[FeeRule.transaction_kind]
        if user_id is None
        else [FeeRule.transaction_kind, FeeRule.user_id],
        index_where=FeeRule.user_id.is_(None) if user_id is None else FeeRule.user_id.is_not(None),
        set_={
            "basis_points": statement.excluded.basis_points,
            "fixed_amount": statement.excluded.fixed_amount,
            "updated_by": statement.excluded.updated_by,
            "updated_at": func.now(),
        },
    )
    row = (
        await session.execute(
            statement.returning(FeeRule, before.label("before")),
            execution_options={"populate_existing": True},
        )
    ).one()
    rule: FeeRule = row[0]
    old: dict[str, object] | None = row[1]
    await record_change(
        session,
        action="fees.set",
        entity_type="fee_rule",
        entity_id=rule.id,
        actor_id=actor_id,
        before=old,
        after=snapshot(rule),
    )
    return rule


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


async def quotes_for(
    session: AsyncSession, *, kind: str, payees: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """`quote`'s rule for many payees in one round trip: {payee: (basis points, fixed)},
    each payee's override where there is one, else the default (no rule: no fee)."""
    found = (
        await session.scalars(
            select(FeeRule).where(
                FeeRule.transaction_kind == kind,
                FeeRule.user_id.is_(None) | FeeRule.user_id.in_(list(payees)),
            )
        )
    ).all()
    default = next(((r.basis_points, r.fixed_amount) for r in found if r.user_id is None), (0, 0))
    overrides = {r.user_id: (r.basis_points, r.fixed_amount) for r in found if r.user_id}
    return {payee: overrides.get(payee, default) for payee in payees}


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
        fee_spec(
            fee,
            payee_account_id,
            fees,
            currency=currency,
            key=key,
            reference_type=reference_type,
            reference_id=reference_id,
        )
    ]


def fee_spec(
    fee: FeeQuote,
    payee_account_id: uuid.UUID,
    fee_account_id: uuid.UUID,
    *,
    currency: str,
    key: str,
    reference_type: str | None,
    reference_id: str | None,
) -> TransferSpec:
    """The transfer of a (non-zero) fee from the payee's account to a fee account, keyed by
    the earning's key (`key:fee`)."""
    return TransferSpec(
        debit_account_id=payee_account_id,
        credit_account_id=fee_account_id,
        amount=fee.fee,
        kind="platform_fee",
        idempotency_key=f"{key}:fee",
        currency=currency,
        reference_type=reference_type,
        reference_id=reference_id,
        metadata=fee.metadata(),
    )
