"""Giveaway credits: the ledger's `CREDIT` currency on each user's `credits` account.

Every movement is a ledger transfer with one of the seed's transaction types as its kind
(`KIND_OF`): credits come from the platform's `credit_issuance` account (which may go negative:
it is the count of credits in circulation, negated) and a used credit goes back to it. So the
balance is the ledger's, and the seed's `credits` rows (`giveaways.credits`, a view of the
transfers with each one's balance after it) cannot disagree with the sum.

* purchase: a credit pack paid from the user's wallet, in the same ledger group as the credits
  it brings (the price to the platform's revenue, the credits from issuance): both or neither;
* usage: a draw's credits, held when the draw is created and posted when it completes;
* refund: credits given back for a completed draw an admin refunds;
* bonus: the welcome bonus (once per user, by its idempotency key) and an admin's grant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit import service as audit
from creatorhub.config import Settings
from creatorhub.kit.errors import Conflict, NotFound
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds
from creatorhub.ledger.models import AccountKind, OwnerType

CREDIT = "CREDIT"

PURCHASE = "giveaway_credit_purchase"
USAGE = "giveaway_draw"
REFUND = "giveaway_credit_refund"
BONUS = "giveaway_bonus"
KIND_OF = {"purchase": PURCHASE, "usage": USAGE, "refund": REFUND, "bonus": BONUS}


@dataclass(frozen=True)
class CreditPack:
    code: str
    credits: int
    price: int  # minor units of `currency`
    currency: str


# The packs on sale. Prices in cents: a pack is cheaper per credit the bigger it is; the plans
# (monthly 10 credits for $14.99, annual 50 a month for $99.00) are cheaper still.
CREDIT_PACKS: dict[str, CreditPack] = {
    pack.code: pack
    for pack in (
        CreditPack("single", 1, 299, "USD"),
        CreditPack("five", 5, 1299, "USD"),
        CreditPack("twenty", 20, 3999, "USD"),
    )
}


class UnknownPack(NotFound):
    code = "credit_pack_not_found"


class InsufficientCredits(Conflict):
    code = "insufficient_credits"


def credits_ref(user_id: uuid.UUID) -> Any:
    return ledger.user_account_ref(user_id, CREDIT, AccountKind.CREDITS)


def issuance_ref() -> Any:
    return ledger.platform_account_ref(AccountKind.CREDIT_ISSUANCE, CREDIT)


async def credits_account(session: AsyncSession, user_id: uuid.UUID) -> uuid.UUID:
    return await ledger.user_account(session, user_id, CREDIT, AccountKind.CREDITS)


async def issuance_account(session: AsyncSession) -> uuid.UUID:
    return await ledger.platform_account(session, AccountKind.CREDIT_ISSUANCE, CREDIT)


@dataclass(frozen=True)
class Balance:
    balance: int  # credits on the account
    reserved: int  # held by draws not finished yet
    available: int  # what a new draw can reserve


async def balance(session: AsyncSession, user_id: uuid.UUID) -> Balance:
    """The user's credits, in one statement (a user who never had any reads zeros)."""

    def figure(name: Any) -> Any:
        return ledger.account_figure(
            owner_type=OwnerType.USER,
            owner_id=user_id,
            kind=AccountKind.CREDITS,
            currency=CREDIT,
            figure=name,
        )

    row = (
        await session.execute(
            select(figure("balance").label("balance"), figure("pending_debits").label("held"))
        )
    ).one()
    total, held = int(row.balance or 0), int(row.held or 0)
    return Balance(balance=total, reserved=held, available=total - held)


async def grant_welcome_bonus(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID
) -> bool:
    """The welcome bonus, once per user whatever the number of calls (its key is the user's):
    True when this call granted it."""
    if settings.giveaway_welcome_credits == 0:
        return False
    result = await ledger.transfer(
        session,
        ledger.TransferSpec(
            debit_account_id=await issuance_account(session),
            credit_account_id=await credits_account(session, user_id),
            amount=settings.giveaway_welcome_credits,
            kind=BONUS,
            idempotency_key=f"giveaways:welcome:{user_id}",
            currency=CREDIT,
            reference_type="user",
            reference_id=str(user_id),
            metadata={"reason": "welcome bonus"},
        ),
    )
    return result.created


async def purchase(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    pack_code: str,
    idempotency_key: str,
) -> CreditPack:
    """Buy a pack from the wallet: the price and the credits move in one ledger group, so a
    wallet short of the price (409 `insufficient_funds`) buys nothing."""
    pack = CREDIT_PACKS.get(pack_code)
    if pack is None:
        raise UnknownPack(
            f"no credit pack {pack_code!r}: the packs are {', '.join(CREDIT_PACKS)}",
            field="body.pack",
        )
    wallet = await ledger.user_account(session, user_id, pack.currency)
    revenue = await ledger.fee_account(
        session, pack.currency, key=str(user_id), shards=settings.fee_shards
    )
    metadata = {"pack": pack.code, "credits": pack.credits, "price": pack.price}
    await ledger.apply_transfers(
        session,
        [
            ledger.TransferSpec(
                debit_account_id=wallet,
                credit_account_id=revenue,
                amount=pack.price,
                kind=PURCHASE,
                idempotency_key=f"giveaways:purchase:{user_id}:{idempotency_key}:price",
                currency=pack.currency,
                reference_type="credit_pack",
                reference_id=pack.code,
                metadata=metadata,
            ),
            ledger.TransferSpec(
                debit_account_id=await issuance_account(session),
                credit_account_id=await credits_account(session, user_id),
                amount=pack.credits,
                kind=PURCHASE,
                idempotency_key=f"giveaways:purchase:{user_id}:{idempotency_key}:credits",
                currency=CREDIT,
                reference_type="credit_pack",
                reference_id=pack.code,
                metadata=metadata,
            ),
        ],
    )
    return pack


async def grant(
    session: AsyncSession,
    *,
    admin_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: int,
    reason: str,
    idempotency_key: str,
) -> None:
    """An admin's bonus, audited; its reason is on the ledger transfer and in the audit trail.
    (The request's schema bounds `amount` to 1..10,000.)"""
    await ledger.transfer(
        session,
        ledger.TransferSpec(
            debit_account_id=await issuance_account(session),
            credit_account_id=await credits_account(session, user_id),
            amount=amount,
            kind=BONUS,
            idempotency_key=f"giveaways:grant:{admin_id}:{idempotency_key}",
            currency=CREDIT,
            reference_type="user",
            reference_id=str(user_id),
            metadata={"reason": reason, "granted_by": str(admin_id)},
        ),
    )
    await audit.record_change(
        session,
        action="giveaways.credits.granted",
        entity_type="user",
        entity_id=user_id,
        actor_id=admin_id,
        after={"amount": amount, "reason": reason},
        description=f"granted {amount} giveaway credit(s): {reason}",
    )


async def hold_for_draw(
    session: AsyncSession, *, user_id: uuid.UUID, draw_id: uuid.UUID, amount: int
) -> uuid.UUID:
    """Reserve a draw's credits (posted when it completes, voided when it fails or is
    cancelled): 409 `insufficient_credits` and nothing reserved when the account is short."""
    try:
        held = await ledger.create_hold(
            session,
            debit_account_id=await credits_account(session, user_id),
            credit_account_id=await issuance_account(session),
            amount=amount,
            kind=USAGE,
            idempotency_key=f"giveaways:draw:{draw_id}:credits",
            currency=CREDIT,
            reference_type="draw",
            reference_id=str(draw_id),
        )
    except InsufficientFunds as refusal:
        # The refusal ended the transaction: the figures are for the caller to read after.
        raise InsufficientCredits(
            f"the draw needs {amount} credit(s) and your available credits (balance less what"
            " unfinished draws reserve) are fewer: buy a pack or wait for a draw to finish"
        ) from refusal
    return held.hold_id
