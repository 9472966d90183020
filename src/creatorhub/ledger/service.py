"""Moving money: accounts, transfers (single, grouped, batched) and two-phase holds.

Each call is one round trip to a PL/pgSQL function that locks the accounts involved in id order,
writes the transfer with each account's new version and balance (the chain; ledger.entries shows
it as legs), and updates the balances in the same transaction. The caller's
transaction decides when it all commits. Refusals come back as `LedgerProblem`s (4xx); a
refused transfer leaves the caller's transaction aborted, so callers that want to go on after one
(a renewal job marking a subscription past due, say) wrap the call in `session.begin_nested()`.

Idempotency keys are mandatory: a transfer with a key seen before is not applied again and the
earlier transfer is returned (`created=False`); the same key for a different transfer is refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Executable,
    FromClause,
    ScalarSelect,
    Select,
    SmallInteger,
    Text,
    bindparam,
    column,
    func,
    literal,
    null,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.models import LogLevel
from creatorhub.audit.service import record_blocked
from creatorhub.db import Database
from creatorhub.ledger.errors import InsufficientFunds, InvalidAmount, translate
from creatorhub.ledger.models import (
    PLATFORM_OWNER_ID,
    Account,
    AccountKind,
    Hold,
    OwnerType,
)

# Accounts that stand for the world outside the ledger: they go negative by design, so that
# every currency still sums to zero (I1).
NEGATIVE_KINDS = frozenset({AccountKind.PROVIDER_CLEARING, AccountKind.CREDIT_ISSUANCE})


@dataclass(frozen=True)
class TransferSpec:
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    kind: str
    idempotency_key: str
    currency: str | None = None  # when given, both accounts must hold it
    reference_type: str | None = None
    reference_id: str | None = None
    metadata: dict[str, Any] | None = field(default=None, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "debit_account_id": str(self.debit_account_id),
            "credit_account_id": str(self.credit_account_id),
            "amount": self.amount,
            "kind": self.kind,
            "idempotency_key": self.idempotency_key,
            "currency": self.currency,
            "reference_type": self.reference_type,
            "reference_id": self.reference_id,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class TransferResult:
    transfer_id: uuid.UUID
    idempotency_key: str
    created: bool


def _check_amount(amount: object) -> None:
    # bool is an int subclass; a JSON `true` must not move one cent.
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(f"amounts are integers in minor units, got {amount!r}")


async def _call(session: AsyncSession, sql: str, params: dict[str, Any]) -> Sequence[Any]:
    """Run a ledger function, turning its refusals into problems."""
    return (await send(session, text(sql), params)).all()


async def send(
    session: AsyncSession, statement: Executable, params: dict[str, Any] | None = None
) -> Result[Any]:
    """Send a statement that calls the ledger (a function call of this module's, or a caller's
    statement with one inside, see `transfer_select`), turning its refusals into problems."""
    try:
        return await session.execute(statement, params)
    except DBAPIError as error:
        problem = translate(error)
        if problem is None:
            raise
        raise problem from error


# --- accounts -----------------------------------------------------------------------------


async def ensure_account(
    session: AsyncSession,
    *,
    owner_type: OwnerType | str,
    owner_id: uuid.UUID,
    kind: AccountKind | str,
    currency: str,
    shard: int = 0,
    allow_negative: bool | None = None,
) -> uuid.UUID:
    """The id of the account, created on first use (concurrent first uses get the same row)."""
    if allow_negative is None:
        allow_negative = kind in NEGATIVE_KINDS
    rows = await _call(
        session,
        "SELECT ledger.ensure_account(:owner_type, :owner_id, :kind, :currency,"
        " CAST(:shard AS smallint), :allow_negative)",
        {
            "owner_type": str(owner_type),
            "owner_id": owner_id,
            "kind": str(kind),
            "currency": currency,
            "shard": shard,
            "allow_negative": allow_negative,
        },
    )
    account_id: uuid.UUID = rows[0][0]
    return account_id


async def user_account(
    session: AsyncSession,
    user_id: uuid.UUID,
    currency: str,
    kind: AccountKind = AccountKind.WALLET_AVAILABLE,
) -> uuid.UUID:
    return await ensure_account(
        session, owner_type=OwnerType.USER, owner_id=user_id, kind=kind, currency=currency
    )


async def user_accounts(
    session: AsyncSession,
    user_ids: Sequence[uuid.UUID],
    currency: str,
    kind: AccountKind = AccountKind.WALLET_AVAILABLE,
) -> dict[uuid.UUID, uuid.UUID]:
    """`user_account` of many users in one round trip: {user id: account id}. Created in
    the users' id order, so that two callers creating overlapping sets cannot deadlock."""
    rows = await _call(
        session,
        "SELECT u.id, ledger.ensure_account('user', u.id, :kind, :currency, CAST(0 AS smallint),"
        " :allow_negative) FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS u(id, n)"
        " ORDER BY u.n",
        {
            "ids": sorted(set(user_ids)),
            "kind": str(kind),
            "currency": currency,
            "allow_negative": kind in NEGATIVE_KINDS,
        },
    )
    return {row[0]: row[1] for row in rows}


def user_account_ref(
    user_id: uuid.UUID, currency: str, kind: AccountKind = AccountKind.WALLET_AVAILABLE
) -> ColumnElement[uuid.UUID]:
    """`user_account` as SQL for the caller's statement (see `account_ref`): the account is
    found, or created, by the statement that moves money on it, without a round trip of its
    own."""
    return account_ref(owner_type=OwnerType.USER, owner_id=user_id, kind=kind, currency=currency)


def platform_account_ref(kind: AccountKind, currency: str) -> ColumnElement[uuid.UUID]:
    """`platform_account` as SQL for the caller's statement (see `account_ref`)."""
    return account_ref(
        owner_type=OwnerType.PLATFORM, owner_id=PLATFORM_OWNER_ID, kind=kind, currency=currency
    )


async def platform_account(session: AsyncSession, kind: AccountKind, currency: str) -> uuid.UUID:
    return await ensure_account(
        session,
        owner_type=OwnerType.PLATFORM,
        owner_id=PLATFORM_OWNER_ID,
        kind=kind,
        currency=currency,
    )


def fee_shard_for(key: str, shards: int) -> int:
    """The fee sub-account a transfer credits, spread evenly and reproducibly by its key.

    One fee account would be locked by every fee-bearing transfer and serialize them all;
    `shards` sub-accounts let that many proceed at once. Their sum is the platform's fee income.
    """
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


async def fee_account(session: AsyncSession, currency: str, *, key: str, shards: int) -> uuid.UUID:
    return await ensure_account(
        session,
        owner_type=OwnerType.PLATFORM,
        owner_id=PLATFORM_OWNER_ID,
        kind=AccountKind.PLATFORM_FEES,
        currency=currency,
        shard=fee_shard_for(key, shards),
    )


async def fee_accounts(session: AsyncSession, currency: str, *, shards: int) -> list[uuid.UUID]:
    """Every fee sub-account of the currency in one round trip, by shard (`fee_shard_for`)."""
    rows = await _call(
        session,
        "SELECT ledger.ensure_account('platform', :owner, 'platform_fees', :currency,"
        " CAST(s AS smallint), false) FROM generate_series(0, :last) AS s ORDER BY s",
        {"owner": PLATFORM_OWNER_ID, "currency": currency, "last": shards - 1},
    )
    return [row[0] for row in rows]


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    return await session.get(Account, account_id, populate_existing=True)


def account_figure(
    *,
    owner_type: OwnerType,
    owner_id: uuid.UUID,
    kind: AccountKind,
    currency: str,
    figure: Literal["balance", "pending_debits"] = "balance",
) -> ColumnElement[int]:
    """An account's balance (or its pending debits) as SQL for the caller's read, 0 for an
    account not created yet: a wallet shows its figures in one statement."""
    column = Account.balance if figure == "balance" else Account.pending_debits
    found = (
        select(column)
        .where(
            Account.owner_type == owner_type,
            Account.owner_id == owner_id,
            Account.kind == kind,
            Account.currency == currency,
            Account.shard == 0,
        )
        .scalar_subquery()
    )
    return func.coalesce(found, 0)


async def find_account(
    session: AsyncSession,
    *,
    owner_type: OwnerType,
    owner_id: uuid.UUID,
    kind: AccountKind,
    currency: str,
) -> Account | None:
    return await session.scalar(
        select(Account)
        .where(
            Account.owner_type == owner_type,
            Account.owner_id == owner_id,
            Account.kind == kind,
            Account.currency == currency,
            Account.shard == 0,
        )
        .execution_options(populate_existing=True)
    )


# --- transfers ----------------------------------------------------------------------------


async def apply_transfers(
    session: AsyncSession,
    transfers: Sequence[TransferSpec],
    *,
    group_id: uuid.UUID | None = None,
) -> list[TransferResult]:
    """Apply all the transfers or none, as one group, in one round trip (also the batch API)."""
    for spec in transfers:
        _check_amount(spec.amount)
    rows = await _call(
        session,
        "SELECT transfer_id, idempotency_key, created"
        " FROM ledger.apply_transfers(CAST(:transfers AS jsonb), :group_id)",
        {"transfers": json.dumps([t.as_json() for t in transfers]), "group_id": group_id},
    )
    return [TransferResult(row[0], row[1], row[2]) for row in rows]


async def transfer(
    session: AsyncSession, spec: TransferSpec, *, group_id: uuid.UUID | None = None
) -> TransferResult:
    """One transfer, through the single-transfer fast path (`ledger.transfer`)."""
    _check_amount(spec.amount)
    rows = await _call(
        session,
        "SELECT transfer_id, idempotency_key, created FROM ledger.transfer(:debit, :credit,"
        " :amount, :kind, :key, :currency, :reference_type, :reference_id,"
        " CAST(:metadata AS jsonb), :group_id)",
        {
            "debit": spec.debit_account_id,
            "credit": spec.credit_account_id,
            "amount": spec.amount,
            "kind": spec.kind,
            "key": spec.idempotency_key,
            "currency": spec.currency,
            "reference_type": spec.reference_type,
            "reference_id": spec.reference_id,
            "metadata": json.dumps(spec.metadata) if spec.metadata is not None else None,
            "group_id": group_id,
        },
    )
    return TransferResult(rows[0][0], rows[0][1], rows[0][2])


async def transfer_with_fee(
    session: AsyncSession,
    spec: TransferSpec,
    *,
    fee_account_id: uuid.UUID,
    fee: int,
    fee_metadata: dict[str, Any] | None = None,
) -> list[TransferResult]:
    """`spec` and a platform fee from its payee to `fee_account_id`, as one group, one call.

    The fee transfer's idempotency key is `spec.idempotency_key + ":fee"`.
    """
    _check_amount(spec.amount)
    _check_amount(fee)
    rows = await _call(
        session,
        "SELECT transfer_id, idempotency_key, created FROM ledger.transfer_with_fee(:debit,"
        " :credit, :amount, :kind, :key, :fee_account, :fee, :currency, :reference_type,"
        " :reference_id, CAST(:metadata AS jsonb), CAST(:fee_metadata AS jsonb))",
        {
            "debit": spec.debit_account_id,
            "credit": spec.credit_account_id,
            "amount": spec.amount,
            "kind": spec.kind,
            "key": spec.idempotency_key,
            "fee_account": fee_account_id,
            "fee": fee,
            "currency": spec.currency,
            "reference_type": spec.reference_type,
            "reference_id": spec.reference_id,
            "metadata": json.dumps(spec.metadata) if spec.metadata is not None else None,
            "fee_metadata": json.dumps(fee_metadata) if fee_metadata is not None else None,
        },
    )
    return [TransferResult(row[0], row[1], row[2]) for row in rows]


# --- holds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldResult:
    hold_id: uuid.UUID
    created: bool


async def create_hold(
    session: AsyncSession,
    *,
    debit_account_id: uuid.UUID,
    credit_account_id: uuid.UUID,
    amount: int,
    kind: str,
    idempotency_key: str,
    currency: str | None = None,
    reference_type: str | None = None,
    reference_id: str | None = None,
    expires_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> HoldResult:
    """Reserve `amount` on the debit account for a later post or void."""
    _check_amount(amount)
    rows = await _call(
        session,
        "SELECT hold_id, created FROM ledger.create_hold(:debit, :credit, :amount, :kind, :key,"
        " :reference_type, :reference_id, :expires_at, CAST(:metadata AS jsonb), :currency)",
        {
            "debit": debit_account_id,
            "credit": credit_account_id,
            "amount": amount,
            "kind": kind,
            "key": idempotency_key,
            "reference_type": reference_type,
            "reference_id": reference_id,
            "expires_at": expires_at,
            "metadata": json.dumps(metadata) if metadata is not None else None,
            "currency": currency,
        },
    )
    return HoldResult(rows[0][0], rows[0][1])


async def post_hold(
    session: AsyncSession,
    hold_id: uuid.UUID,
    *,
    amount: int | None = None,
    also: Sequence[TransferSpec] = (),
    metadata: dict[str, Any] | None = None,
) -> list[TransferResult]:
    """Post all of the hold or `amount` of it (the rest is released), with `also` atomically."""
    if amount is not None:
        _check_amount(amount)
    for spec in also:
        _check_amount(spec.amount)
    rows = await _call(
        session,
        "SELECT transfer_id, idempotency_key, created FROM ledger.post_hold(:hold_id, :amount,"
        " CAST(:also AS jsonb), CAST(:metadata AS jsonb))",
        {
            "hold_id": hold_id,
            "amount": amount,
            "also": json.dumps([t.as_json() for t in also]),
            "metadata": json.dumps(metadata) if metadata is not None else None,
        },
    )
    return [TransferResult(row[0], row[1], row[2]) for row in rows]


async def void_hold(session: AsyncSession, hold_id: uuid.UUID) -> None:
    await _call(session, "SELECT ledger.void_hold(:hold_id, 'voided')", {"hold_id": hold_id})


async def expire_holds(session: AsyncSession, now: datetime, *, limit: int = 500) -> int:
    rows = await _call(
        session, "SELECT ledger.expire_holds(:now, :limit)", {"now": now, "limit": limit}
    )
    count: int = rows[0][0]
    return count


async def get_hold(session: AsyncSession, hold_id: uuid.UUID) -> Hold | None:
    return await session.get(Hold, hold_id, populate_existing=True)


# --- inside a caller's statement -----------------------------------------------------------
# The calls above are one round trip each. A workflow that writes its own rows with the money
# (a claim: the hold, the claim and the slot) sends them all as one statement; these are the same
# ledger functions as SQL to put in it. A refusal comes back as the same SQLSTATE, which the
# caller turns into its problem with `errors.translate`.

AccountRef = uuid.UUID | ColumnElement[uuid.UUID]


def account_ref(
    *,
    owner_type: OwnerType | str,
    owner_id: uuid.UUID,
    kind: AccountKind | str,
    currency: str,
    shard: int = 0,
) -> ColumnElement[uuid.UUID]:
    """The account's id, created on first use by the statement that uses it: `ensure_account`
    without a round trip of its own."""
    return func.ledger.ensure_account(
        literal(str(owner_type), Text),
        literal(owner_id, PG_UUID(as_uuid=True)),
        literal(str(kind), Text),
        literal(currency, Text),
        literal(shard, SmallInteger),
        literal(kind in NEGATIVE_KINDS, Boolean),
        type_=PG_UUID(as_uuid=True),
    )


def _account(ref: AccountRef) -> ColumnElement[uuid.UUID]:
    return literal(ref, PG_UUID(as_uuid=True)) if isinstance(ref, uuid.UUID) else ref


def hold_select(
    *,
    debit_account: AccountRef,
    credit_account: AccountRef,
    amount: int,
    kind: str,
    idempotency_key: str,
    currency: str | None = None,
    reference_type: str | None = None,
    reference_id: str | None = None,
    expires_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> Select[tuple[uuid.UUID, bool]]:
    """`create_hold` as a SELECT of (hold_id, created), to run as a CTE of the caller's
    statement; either account may be an `account_ref`."""
    _check_amount(amount)
    call = func.ledger.create_hold(
        _account(debit_account),
        _account(credit_account),
        literal(amount, BigInteger),
        literal(kind, Text),
        literal(idempotency_key, Text),
        literal(reference_type, Text),
        literal(reference_id, Text),
        literal(expires_at, DateTime(timezone=True)),
        literal(metadata, JSONB) if metadata is not None else null(),
        literal(currency, Text),
    ).table_valued(column("hold_id", PG_UUID(as_uuid=True)), column("created", Boolean))
    return select(call.c.hold_id, call.c.created)


def transfer_select(
    *,
    debit_account: AccountRef,
    credit_account: AccountRef,
    amount: int | ColumnElement[int],
    kind: str,
    idempotency_key: str | ColumnElement[str],
    currency: str | None = None,
    reference_type: str | None = None,
    reference_id: str | ColumnElement[str] | None = None,
    metadata: dict[str, Any] | None = None,
    each_row_of: FromClause | None = None,
) -> Select[tuple[uuid.UUID, str, bool]]:
    """`transfer` as a SELECT of (transfer_id, idempotency_key, created), to run as a CTE of the
    caller's statement; either account may be an `account_ref`.

    With `each_row_of` (a CTE of the caller's, say the rows it updates), one transfer per row
    of it, whose amount, key and reference may be that row's columns (SQL expressions): a
    refund transfers what the refund row it marks issued says, in the statement that marks it.
    """
    if isinstance(amount, int):
        _check_amount(amount)
    call = func.ledger.transfer(
        _account(debit_account),
        _account(credit_account),
        _value(amount, BigInteger),
        literal(kind, Text),
        _value(idempotency_key, Text),
        literal(currency, Text),
        literal(reference_type, Text),
        _value(reference_id, Text),
        literal(metadata, JSONB) if metadata is not None else null(),
        null(),
    ).table_valued(
        column("transfer_id", PG_UUID(as_uuid=True)),
        column("idempotency_key", Text),
        column("created", Boolean),
    )
    query = select(call.c.transfer_id, call.c.idempotency_key, call.c.created)
    if each_row_of is not None:
        # A function in FROM sees the FROM items before it (PostgreSQL calls it per row).
        query = query.select_from(each_row_of).join(call, true())
    return query


def _value(value: Any, type_: Any) -> ColumnElement[Any]:
    return value if isinstance(value, ColumnElement) else literal(value, type_)


# --- built once ------------------------------------------------------------------------------
# The same SQL as `account_ref`, `transfer_select` and `hold_select` for statements built once
# (`creatorhub.db.Prepared`): every value a bind parameter named by a prefix, given at each use
# by the matching `*_params` function. A hot path's statement is then built at import, not per
# request.

_UUID = PG_UUID(as_uuid=True)
# A missing metadata is SQL NULL, as `null()` above, not the JSON value null.
_METADATA = JSONB(none_as_null=True)


def prepared_account_ref(prefix: str) -> ColumnElement[uuid.UUID]:
    """`account_ref` with its owner, kind, currency and shard as parameters (`prefix`…):
    `account_params` gives them."""
    return func.ledger.ensure_account(
        bindparam(prefix + "owner_type", type_=Text),
        bindparam(prefix + "owner_id", type_=_UUID),
        bindparam(prefix + "kind", type_=Text),
        bindparam(prefix + "currency", type_=Text),
        bindparam(prefix + "shard", type_=SmallInteger),
        bindparam(prefix + "allow_negative", type_=Boolean),
        type_=_UUID,
    )


def account_params(
    prefix: str,
    *,
    owner_type: OwnerType | str,
    owner_id: uuid.UUID,
    kind: AccountKind | str,
    currency: str,
    shard: int = 0,
) -> dict[str, Any]:
    """The values of a `prepared_account_ref(prefix)`: the account `account_ref` names."""
    return {
        prefix + "owner_type": str(owner_type),
        prefix + "owner_id": owner_id,
        prefix + "kind": str(kind),
        prefix + "currency": currency,
        prefix + "shard": shard,
        prefix + "allow_negative": kind in NEGATIVE_KINDS,
    }


def user_account_params(
    prefix: str,
    user_id: uuid.UUID,
    currency: str,
    kind: AccountKind = AccountKind.WALLET_AVAILABLE,
) -> dict[str, Any]:
    """`user_account_ref`'s account, as the values of a `prepared_account_ref(prefix)`."""
    return account_params(
        prefix, owner_type=OwnerType.USER, owner_id=user_id, kind=kind, currency=currency
    )


def platform_account_params(prefix: str, kind: AccountKind, currency: str) -> dict[str, Any]:
    """`platform_account_ref`'s account, as the values of a `prepared_account_ref(prefix)`."""
    return account_params(
        prefix,
        owner_type=OwnerType.PLATFORM,
        owner_id=PLATFORM_OWNER_ID,
        kind=kind,
        currency=currency,
    )


def account_id_param(name: str) -> ColumnElement[uuid.UUID]:
    """An account given by its id, as a parameter (`name`) of a statement built once."""
    return bindparam(name, type_=_UUID)


def prepared_transfer(
    debit_account: ColumnElement[uuid.UUID],
    credit_account: ColumnElement[uuid.UUID],
    prefix: str = "transfer_",
) -> Select[tuple[uuid.UUID, str, bool]]:
    """`transfer_select` with its amount, kind, key, currency, reference and metadata as
    parameters (`prefix`…, from `transfer_params`); the accounts are SQL of the statement
    (`prepared_account_ref`, `account_id_param`)."""
    call = func.ledger.transfer(
        debit_account,
        credit_account,
        bindparam(prefix + "amount", type_=BigInteger),
        bindparam(prefix + "kind", type_=Text),
        bindparam(prefix + "idempotency_key", type_=Text),
        bindparam(prefix + "currency", type_=Text),
        bindparam(prefix + "reference_type", type_=Text),
        bindparam(prefix + "reference_id", type_=Text),
        bindparam(prefix + "metadata", type_=_METADATA),
        null(),
    ).table_valued(
        column("transfer_id", _UUID),
        column("idempotency_key", Text),
        column("created", Boolean),
    )
    return select(call.c.transfer_id, call.c.idempotency_key, call.c.created)


def transfer_params(
    prefix: str = "transfer_",
    *,
    amount: int,
    kind: str,
    idempotency_key: str,
    currency: str | None = None,
    reference_type: str | None = None,
    reference_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The values of a `prepared_transfer(..., prefix)`."""
    _check_amount(amount)
    return {
        prefix + "amount": amount,
        prefix + "kind": kind,
        prefix + "idempotency_key": idempotency_key,
        prefix + "currency": currency,
        prefix + "reference_type": reference_type,
        prefix + "reference_id": reference_id,
        prefix + "metadata": metadata,
    }


def prepared_hold(
    debit_account: ColumnElement[uuid.UUID],
    credit_account: ColumnElement[uuid.UUID],
    prefix: str = "hold_",
) -> Select[tuple[uuid.UUID, bool]]:
    """`hold_select` with its values as parameters (`prefix`…, from `hold_params`)."""
    call = func.ledger.create_hold(
        debit_account,
        credit_account,
        bindparam(prefix + "amount", type_=BigInteger),
        bindparam(prefix + "kind", type_=Text),
        bindparam(prefix + "idempotency_key", type_=Text),
        bindparam(prefix + "reference_type", type_=Text),
        bindparam(prefix + "reference_id", type_=Text),
        bindparam(prefix + "expires_at", type_=DateTime(timezone=True)),
        bindparam(prefix + "metadata", type_=_METADATA),
        bindparam(prefix + "currency", type_=Text),
    ).table_valued(column("hold_id", _UUID), column("created", Boolean))
    return select(call.c.hold_id, call.c.created)


def hold_params(
    prefix: str = "hold_",
    *,
    amount: int,
    kind: str,
    idempotency_key: str,
    currency: str | None = None,
    reference_type: str | None = None,
    reference_id: str | None = None,
    expires_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The values of a `prepared_hold(..., prefix)`."""
    _check_amount(amount)
    return {
        prefix + "amount": amount,
        prefix + "kind": kind,
        prefix + "idempotency_key": idempotency_key,
        prefix + "reference_type": reference_type,
        prefix + "reference_id": reference_id,
        prefix + "expires_at": expires_at,
        prefix + "metadata": metadata,
        prefix + "currency": currency,
    }


def balance_of(account_id: ColumnElement[uuid.UUID]) -> ScalarSelect[int]:
    """An account's balance as a subquery, for a read that shows it with its owner's row (a
    job's escrow with the job): no round trip of its own."""
    return select(Account.balance).where(Account.id == account_id).scalar_subquery()


def void_hold_call(hold_id: ColumnElement[uuid.UUID]) -> ColumnElement[Any]:
    """`void_hold` as an expression, called once per row of the caller's statement."""
    return func.ledger.void_hold(hold_id, literal("voided", Text))


# --- refusals -----------------------------------------------------------------------------


async def record_insufficient_funds(database: Database, refusal: InsufficientFunds) -> None:
    """Keep seed 000's `prevent_negative_wallet` record of a refused debit in system_logs.

    The refused transaction rolled back, so this writes in a transaction of its own.
    """
    owner_id = refusal.record.get("owner_id")
    source_uid = None
    if refusal.record.get("owner_type") == OwnerType.USER and owner_id:
        source_uid = uuid.UUID(str(owner_id))
    await record_blocked(
        database,
        component="ledger",
        data=refusal.record or {"action": "prevent_negative_wallet"},
        source_uid=source_uid,
        level=LogLevel.WARNING,
    )
