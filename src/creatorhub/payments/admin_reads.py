"""What in payments waits for an administrator (the admin pages, issue 13): payees whose
available balance is below the payout minimum, and payouts that failed or stalled.

Reads only; the action on them is `payouts.request_payout` with an administrator's release,
as `POST /v1/admin/payouts` does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.identity.models import User
from creatorhub.ledger.models import Account, AccountKind, OwnerType
from creatorhub.payments.models import Payout, PayoutAccount, PayoutStatus
from creatorhub.payments.payouts import STALLED_AFTER


@dataclass(frozen=True)
class BelowMinimum:
    """A payee whose available balance is above zero but below the payout minimum, with a
    payout account ready: only an administrator's release (`request_payout` with
    `released_below_minimum_by`) can pay it out."""

    user_id: uuid.UUID
    email: str
    display_name: str
    currency: str
    available: int


async def payees_below_minimum(
    session: AsyncSession, settings: Settings, *, limit: int
) -> list[BelowMinimum]:
    """The payees waiting below the minimum, the largest balances first."""
    available = (Account.balance - Account.pending_debits).label("available")
    rows = await session.execute(
        select(User.id, User.email, User.display_name, Account.currency, available)
        .select_from(Account)
        .join(User, User.id == Account.owner_id)
        .join(
            PayoutAccount,
            (PayoutAccount.user_id == Account.owner_id)
            & (PayoutAccount.provider == settings.payments_provider)
            & PayoutAccount.payouts_enabled.is_(True),
        )
        .where(
            Account.owner_type == OwnerType.USER,
            Account.kind == AccountKind.WALLET_AVAILABLE,
            available > 0,
            available < settings.payout_minimum_amount,
        )
        .order_by(available.desc(), User.id)
        .limit(limit)
    )
    return [BelowMinimum(*row) for row in rows.all()]


async def payouts_needing_attention(
    session: AsyncSession, now: datetime, *, limit: int, stalled_after: timedelta = STALLED_AFTER
) -> Sequence[Payout]:
    """Failed payouts (their money is back in the payee's wallet) and payouts handed over
    without a provider reference for longer than `stalled_after` (`resubmit_stalled` asks the
    provider again), newest first."""
    rows = await session.scalars(
        select(Payout)
        .where(
            (Payout.status == PayoutStatus.FAILED)
            | (
                (Payout.status == PayoutStatus.IN_TRANSIT)
                & Payout.provider_reference.is_(None)
                & (Payout.updated_at < now - stalled_after)
            )
        )
        .order_by(Payout.updated_at.desc(), Payout.id.desc())
        .limit(limit)
    )
    return rows.all()
