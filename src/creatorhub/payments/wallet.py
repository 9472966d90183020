"""A user's wallet as they see it: available, held, pending (each item with its date and
reason), in payout, and the transaction history with gross, fee and net per transaction."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, func, select, text, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.kit.errors import Unprocessable
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import Account, AccountKind, OwnerType
from creatorhub.payments.models import PendingEarning
from creatorhub.payments.payouts import open_payouts_total_of


@dataclass(frozen=True)
class WalletSummary:
    currency: str
    available: int
    held: int
    pending: int
    pending_items: list[PendingEarning]
    in_payout: int


async def summary(session: AsyncSession, user_id: uuid.UUID, currency: str) -> WalletSummary:
    """The wallet's figures and pending items, in one statement (a wallet not used yet shows
    zeros: reading it creates nothing)."""

    def figure(kind: AccountKind, name: Literal["balance", "pending_debits"]) -> Any:
        return ledger.account_figure(
            owner_type=OwnerType.USER, owner_id=user_id, kind=kind, currency=currency, figure=name
        )

    item = func.json_build_object(
        "id", PendingEarning.id,
        "amount", PendingEarning.amount,
        "reason", PendingEarning.reason,
        "release_at", PendingEarning.release_at,
        "source_type", PendingEarning.source_type,
        "source_id", PendingEarning.source_id,
    )  # fmt: skip
    items = (
        select(
            func.coalesce(
                func.json_agg(
                    aggregate_order_by(item, PendingEarning.release_at, PendingEarning.id)
                ),
                text("'[]'::json"),
            )
        )
        .where(
            PendingEarning.user_id == user_id,
            PendingEarning.currency == currency,
            PendingEarning.released_at.is_(None),
        )
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(
                figure(AccountKind.WALLET_AVAILABLE, "balance").label("balance"),
                figure(AccountKind.WALLET_AVAILABLE, "pending_debits").label("held"),
                figure(AccountKind.WALLET_PENDING, "balance").label("pending"),
                open_payouts_total_of(user_id, currency).label("in_payout"),
                type_coerce(items, JSON).label("items"),
            )
        )
    ).one()
    pending_items = [
        PendingEarning(
            **{**entry, "release_at": datetime.fromisoformat(entry["release_at"])},
            user_id=user_id,
            currency=currency,
        )
        for entry in row.items
    ]
    return WalletSummary(
        currency=currency,
        available=int(row.balance) - int(row.held),
        held=int(row.held),
        pending=int(row.pending),
        pending_items=pending_items,
        in_payout=int(row.in_payout),
    )


async def currencies(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The currencies the user has a wallet in, the first one opened first (the wallet page's
    default and its currency links)."""
    rows = await session.scalars(
        select(Account.currency)
        .where(
            Account.owner_type == OwnerType.USER,
            Account.owner_id == user_id,
            Account.kind.in_([AccountKind.WALLET_AVAILABLE, AccountKind.WALLET_PENDING]),
        )
        .group_by(Account.currency)
        .order_by(func.min(Account.created_at), Account.currency)
    )
    return list(rows.all())


@dataclass(frozen=True)
class WalletTransaction:
    id: uuid.UUID  # the ledger group: one business transaction
    created_at: datetime
    kinds: list[str]
    reference_type: str | None
    reference_id: str | None
    gross: int
    fee: int
    net: int
    balance_after: int
    wallet: str


def encode_cursor(created_at: datetime, group_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(group_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, group = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created), uuid.UUID(group)
    except (ValueError, TypeError) as error:
        raise Unprocessable(
            "malformed cursor", code="invalid_cursor", field="query.cursor"
        ) from error


# One row per ledger group touching the user's wallets: fees are the group's platform_fee legs,
# gross the other legs, net their sum, all as seen from the user's accounts.
TRANSACTIONS_SQL = text(
    """
    SELECT t.group_id AS id,
           min(e.created_at) AS created_at,
           array_agg(DISTINCT t.kind) AS kinds,
           min(t.reference_type) AS reference_type,
           min(t.reference_id) AS reference_id,
           coalesce(sum(e.amount) FILTER (WHERE t.kind <> 'platform_fee'), 0) AS gross,
           coalesce(-sum(e.amount) FILTER (WHERE t.kind = 'platform_fee'), 0) AS fee,
           sum(e.amount) AS net,
           (array_agg(e.new_balance ORDER BY e.account_version DESC))[1] AS balance_after,
           min(a.kind) AS wallet
      FROM ledger.entries e
      JOIN ledger.transfers t ON t.id = e.transfer_id
      JOIN ledger.accounts a ON a.id = e.account_id
     WHERE a.owner_type = 'user' AND a.owner_id = :user_id AND a.currency = :currency
       AND a.kind IN ('wallet_available', 'wallet_pending')
     GROUP BY t.group_id
    HAVING (CAST(:after_created AS timestamptz) IS NULL
            OR (min(e.created_at), t.group_id) < (CAST(:after_created AS timestamptz),
                                                  CAST(:after_group AS uuid)))
     ORDER BY min(e.created_at) DESC, t.group_id DESC
     LIMIT :limit
    """
)


async def transactions(
    session: AsyncSession,
    user_id: uuid.UUID,
    currency: str,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[WalletTransaction], str | None]:
    after: tuple[Any, Any] = (None, None)
    if cursor:
        after = decode_cursor(cursor)
    rows = (
        await session.execute(
            TRANSACTIONS_SQL,
            {
                "user_id": user_id,
                "currency": currency,
                "after_created": after[0],
                "after_group": after[1],
                "limit": limit + 1,
            },
        )
    ).all()
    items = [
        WalletTransaction(
            id=row.id,
            created_at=row.created_at,
            kinds=sorted(row.kinds),
            reference_type=row.reference_type,
            reference_id=row.reference_id,
            gross=int(row.gross),
            fee=int(row.fee),
            net=int(row.net),
            balance_after=int(row.balance_after),
            wallet=row.wallet,
        )
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(last.created_at, last.id)
    return items, next_cursor
