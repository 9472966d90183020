"""Visibility campaigns' money (issue 14, part C): views validated after their window, settled
per promoter and UTC day into earnings to the cent, within the funded budget, and rolled up
into `view_stats`.

**Validation.** A counted view (`pending`) becomes `validated` once its window has passed
(`campaign_view_validation_hours`, 72 h by default): the settlement of its day does it in the
statement that marks it paid (one write per view, not two), and `validate_due_views` does it
for the views of the day the window ends in. An admin may reject pending views before that
(the tracking part's route); rejected views are never paid.

**Settlement** (`settle_due`, `settle_campaign`). A promoter campaign's day is settled once the
whole day is past its window (each of its views payable, or rejected), days in order, so that
the fraction of a cent carried from one day to the next follows the days:

    amount      = (carry_before + views * cpv) // 100
    carry_after = (carry_before + views * cpv) %  100

with `carry_before` the promoter campaign's last settlement's `carry_after` (0 at first). Over
any number of days the amounts add up to exactly floor(total views * cpv / 100): no cent is
created or lost (tests/campaigns/test_settlement_properties.py). The settled day is a
`view_settlements` row (its key makes re-running a day change nothing), its views are `paid`
with `settled_on`, and the campaign's `campaign_budget_allocations.spent_amount` and the
promoter campaign's `spent_budget` grow by the amount, in the transaction that moves the money.

**Budget control is absolute.** Everything a settlement does happens under the campaign's row
lock, taken first (then its allocation row, then its promoter campaigns by id: the lock order
every campaign money path keeps; the job settles a batch of promoter campaigns per transaction,
since the tracking link's clicks wait on that lock), and what it may pay is read after the
lock: the least of the allocation left (`allocated - spent - refunded`) and the escrow
account's unreserved balance (`balance - pending_debits`: what no hold reserves). It pays only
the views that fit (the largest k with (carry + k * cpv) // 100 <= what is left); the others
are `over_cap`, never paid, and a campaign that could not pay all its due views pauses itself
(`budget_spent`). The money then moves as **one ledger group** per batch
(`payments.earnings.pay_earnings_many`): escrow → the promoter's wallet for each day paid, less
the platform fee, the days keyed one by one. The ledger refuses the group if the escrow's
unreserved balance does not cover it (its guard on a may-not-go-negative account, pending
debits counted), and the allocation row's check (`spent + refunded <= allocated`) refuses the
record: so even a path that skipped the campaign lock could not overspend, it would be refused
and roll back whole. No hold is taken here: the amount is reserved and recorded in one
statement under the lock, so a hold would be created and posted in the same breath, reserving
nothing the lock does not; holds remain what other paths' pending spending (and ending) read
through `pending_debits`.

An ended campaign keeps in its escrow what its counted views can still earn
(`service.ending`); settlement pays them from it, and once none waits, `refund_rest` returns
what they did not earn.

**Stats.** `rollup_view_stats` recomputes `view_stats` (counted, dropped by reason, validated,
rejected, paid views and amount) per promoter campaign and day from `views` and
`view_settlements`, as an upsert: running it again changes nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change
from creatorhub.campaigns.models import CampaignStatus, PauseReason
from creatorhub.campaigns.service import lock_campaign, pause_for_budget, refund_rest
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.payments.earnings import EarningOrder, pay_earnings_many

EARNING_KIND = "campaign_earning"  # the fee rule (10 % by default) and the ledger kind
DEFAULT_WINDOW = timedelta(hours=72)


def validation_window(settings: Settings) -> timedelta:
    """How long a counted view waits before it is payable (`campaign_view_validation_hours`)."""
    return timedelta(hours=settings.campaign_view_validation_hours)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def settleable_through(now: datetime, window: timedelta) -> date:
    """The last UTC day whose every view is past its validation window at `now`."""
    return (now - window).astimezone(UTC).date() - timedelta(days=1)


def payable_views(*, carry: int, cpv: int, left: int) -> int:
    """The most views k whose pay fits in `left`: the largest k with
    (carry + k * cpv) // 100 <= left (then (carry + k * cpv) < (left + 1) * 100)."""
    if left < 0:
        return 0
    return max(0, ((left + 1) * 100 - 1 - carry) // cpv)


def split_day(*, carry_before: int, views: int, cpv: int) -> tuple[int, int]:
    """(amount, carry_after) of a day's views: the cents paid and the hundredths carried."""
    return divmod(carry_before + views * cpv, 100)


# --- validation ------------------------------------------------------------------------------

_VALIDATE = text(
    "UPDATE campaigns.views SET outcome = 'validated', validated_at = :now"
    " WHERE outcome = 'pending' AND occurred_at <= :cutoff"
)


async def validate_due_views(
    session: AsyncSession, now: datetime, *, window: timedelta = DEFAULT_WINDOW
) -> int:
    """Pending views whose window has passed become validated. Returns how many."""
    result = await session.execute(_VALIDATE, {"now": now, "cutoff": now - window})
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- settlement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaySettled:
    promoter_campaign_id: uuid.UUID
    promoter_id: uuid.UUID
    day: date
    due_views: int
    paid_views: int
    amount: int
    fee: int
    carry_before: int
    carry_after: int
    transfer_id: uuid.UUID | None  # the gross transfer to the promoter (None: nothing paid)


@dataclass
class CampaignSettled:
    campaign_id: uuid.UUID
    days: list[DaySettled] = field(default_factory=list)
    paused: bool = False
    refunded: int = 0  # ended: what it kept for its last views and they did not earn
    validated: int = 0  # views still pending when their day was settled (validated with it)

    @property
    def amount(self) -> int:
        return sum(day.amount for day in self.days)

    @property
    def over_cap(self) -> int:
        return sum(day.due_views - day.paid_views for day in self.days)


# Campaigns that may have validated views to settle: funded visibility campaigns still running;
# ended ones with money still kept back for their last views (`service.ending`), or ended
# recently enough that views counted before the end may still wait (they are all past their
# window one day after it: settled then, paid or over cap).
_CANDIDATES = text(
    "SELECT c.id, c.ended_at IS NOT NULL AS ended FROM campaigns.campaigns c"
    " JOIN campaigns.campaign_budget_allocations b ON b.campaign_id = c.id"
    " WHERE c.type = 'visibility'"
    " AND (c.status IN ('active', 'paused') OR c.ended_at >= :ended_since"
    "      OR b.allocated_amount - b.spent_amount - b.refunded_amount > 0)"
    " ORDER BY c.id"
)
ENDED_SETTLING = timedelta(days=2)  # beyond the window: its last day, and a day's slack
# Promoter campaigns settled per transaction: the campaign's lock (which its clicks wait for)
# is held for one batch of them at a time.
PROMOTERS_PER_TRANSACTION = 200

# The campaign is locked first (the core's `lock_campaign`); then its allocation, with the
# escrow's unreserved balance.
_LOCK_ALLOCATION = text(
    "SELECT b.allocated_amount - b.spent_amount - b.refunded_amount AS left_in_allocation,"
    " a.balance - a.pending_debits AS unreserved"
    " FROM campaigns.campaign_budget_allocations b"
    " JOIN ledger.accounts a ON a.id = :escrow_account_id"
    " WHERE b.campaign_id = :campaign_id FOR UPDATE OF b"
)

# Its promoter campaigns' payable views (pending or validated: every view of a day up to
# `through` is past its window) of unsettled days, by promoter campaign and day: each promoter
# campaign's views read by its index from the day after its last settled one.
_DUE = text(
    "SELECT pc.id AS promoter_campaign_id, pc.promoter_id,"
    " (v.occurred_at AT TIME ZONE 'UTC')::date AS day, count(*) AS views"
    " FROM campaigns.promoter_campaigns pc"
    " CROSS JOIN LATERAL (SELECT max(s.day) AS last_day FROM campaigns.view_settlements s"
    "   WHERE s.promoter_campaign_id = pc.id) settled"
    " JOIN campaigns.views v ON v.promoter_campaign_id = pc.id"
    "  AND v.occurred_at >= coalesce((settled.last_day + 1)::timestamp AT TIME ZONE 'UTC',"
    "                                 '-infinity')"
    "  AND v.occurred_at < :through_end AND v.outcome IN ('pending', 'validated')"
    " WHERE pc.campaign_id = :campaign_id"
    "  AND (CAST(:only AS uuid[]) IS NULL OR pc.id = ANY(CAST(:only AS uuid[])))"
    " GROUP BY 1, 2, 3 ORDER BY 1, 3"
)

# The promoter campaigns with due days, locked by id, with their last carried fraction.
_LOCK_PROMOTERS = text(
    "SELECT pc.id, coalesce((SELECT s.carry_after FROM campaigns.view_settlements s"
    "   WHERE s.promoter_campaign_id = pc.id ORDER BY s.day DESC LIMIT 1), 0) AS carry"
    " FROM campaigns.promoter_campaigns pc WHERE pc.id = ANY(:ids) ORDER BY pc.id FOR UPDATE OF pc"
)

# The due views of each planned (promoter campaign, day): the first k by id paid, the rest
# over cap. A day is due only once all of it is past its window, so its views still `pending`
# are validated by this very statement (one write per view, not two); how many were is counted.
_MARK_VIEWS = text(
    "WITH plan AS ("
    "  SELECT * FROM unnest(CAST(:pcs AS uuid[]), CAST(:days AS date[]), CAST(:ks AS bigint[]))"
    "  AS p(pc, day, k)),"
    " ranked AS ("
    "  SELECT v.id, p.day, p.k, v.outcome = 'pending' AS was_pending,"
    "   row_number() OVER (PARTITION BY p.pc, p.day ORDER BY v.id) AS rn"
    "  FROM plan p JOIN campaigns.views v ON v.promoter_campaign_id = p.pc"
    "   AND v.occurred_at >= p.day::timestamp AT TIME ZONE 'UTC'"
    "   AND v.occurred_at < (p.day + 1)::timestamp AT TIME ZONE 'UTC'"
    "   AND v.outcome IN ('pending', 'validated')),"
    " marked AS ("
    "  UPDATE campaigns.views v"
    "  SET outcome = CASE WHEN r.rn <= r.k THEN 'paid' ELSE 'over_cap' END,"
    "      settled_on = CASE WHEN r.rn <= r.k THEN r.day END,"
    "      validated_at = coalesce(v.validated_at, :now)"
    "  FROM ranked r WHERE v.id = r.id AND v.outcome IN ('pending', 'validated')"
    "  RETURNING r.was_pending)"
    " SELECT count(*) AS views, count(*) FILTER (WHERE was_pending) AS validated FROM marked"
)

_RECORD_SETTLEMENTS = text(
    "INSERT INTO campaigns.view_settlements"
    " (promoter_campaign_id, day, views, amount, carry_before, carry_after, ledger_transfer_id)"
    " SELECT * FROM unnest(CAST(:pcs AS uuid[]), CAST(:days AS date[]), CAST(:views AS bigint[]),"
    "  CAST(:amounts AS bigint[]), CAST(:carry_before AS int[]), CAST(:carry_after AS int[]),"
    "  CAST(:transfers AS uuid[]))"
)

_SPEND_PROMOTERS = text(
    "UPDATE campaigns.promoter_campaigns pc SET spent_budget = pc.spent_budget + p.amount"
    " FROM unnest(CAST(:pcs AS uuid[]), CAST(:amounts AS bigint[])) AS p(id, amount)"
    " WHERE pc.id = p.id"
)

_SPEND_ALLOCATION = text(
    "UPDATE campaigns.campaign_budget_allocations"
    " SET spent_amount = spent_amount + :amount, updated_at = :now"
    " WHERE campaign_id = :campaign_id"
)


def settlement_key(promoter_campaign_id: uuid.UUID, day: date) -> str:
    return f"campaign-views:{promoter_campaign_id}:{day.isoformat()}"


async def settle_campaign(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    *,
    through: date,
    now: datetime,
    hold_days: int,
    fee_shards: int,
    by: uuid.UUID | None = None,
    only: Sequence[uuid.UUID] | None = None,
    roll_up: bool = True,
) -> CampaignSettled:
    """Settle the campaign's validated views of every unsettled day up to `through` (of the
    promoter campaigns `only`, when given), in the caller's transaction (see the module's
    docstring for the locks and the budget control). The caller makes sure those days are
    past their window (`settleable_through`)."""
    settled = CampaignSettled(campaign_id)
    campaign = await lock_campaign(session, campaign_id)
    if campaign.cpv is None:
        return settled
    budget = (
        (
            await session.execute(
                _LOCK_ALLOCATION,
                {"campaign_id": campaign_id, "escrow_account_id": campaign.escrow_account_id},
            )
        )
        .mappings()
        .first()
    )
    if budget is None:  # never funded: nothing was counted
        return settled
    due = (
        (
            await session.execute(
                _DUE,
                {
                    "campaign_id": campaign_id,
                    "through_end": day_start(through + timedelta(days=1)),
                    "only": list(only) if only is not None else None,
                },
            )
        )
        .mappings()
        .all()
    )
    if not due:
        return settled
    ids = sorted({row["promoter_campaign_id"] for row in due})
    carries = {
        row[0]: int(row[1]) for row in (await session.execute(_LOCK_PROMOTERS, {"ids": ids})).all()
    }
    cpv: int = campaign.cpv
    left = min(int(budget["left_in_allocation"]), int(budget["unreserved"]))
    short = False
    planned: list[tuple[Any, int, int, int, int]] = []  # row, paid, amount, carries
    for row in due:
        pc_id: uuid.UUID = row["promoter_campaign_id"]
        views = int(row["views"])
        carry_before = carries[pc_id]
        paid = min(views, payable_views(carry=carry_before, cpv=cpv, left=left))
        short = short or paid < views
        amount, carry_after = split_day(carry_before=carry_before, views=paid, cpv=cpv)
        left -= amount
        if paid:
            carries[pc_id] = carry_after
        planned.append((row, paid, amount, carry_before, carry_after if paid else carry_before))
    # The money of every day paid, as one ledger group: escrow → each promoter's wallet (a
    # transfer per promoter and day, keyed by them), each less its platform fee. The
    # ledger refuses the whole group if the escrow's unreserved balance does not cover it.
    orders = [
        EarningOrder(
            payee_id=row["promoter_id"],
            gross=amount,
            key=settlement_key(row["promoter_campaign_id"], row["day"]),
            reason=f"campaign views of {row['day'].isoformat()}: {campaign.title}",
        )
        for row, _, amount, _, _ in planned
        if amount > 0
    ]
    earnings = iter(
        await pay_earnings_many(
            session,
            orders,
            payer_account_id=campaign.escrow_account_id,
            currency=campaign.currency,
            kind=EARNING_KIND,
            now=now,
            hold_days=hold_days,
            fee_shards=fee_shards,
            reference_type="campaign",
            reference_id=str(campaign_id),
        )
    )
    for row, paid, amount, carry_before, carry_after in planned:
        earning = next(earnings) if amount > 0 else None
        settled.days.append(
            DaySettled(
                promoter_campaign_id=row["promoter_campaign_id"],
                promoter_id=row["promoter_id"],
                day=row["day"],
                due_views=int(row["views"]),
                paid_views=paid,
                amount=amount,
                fee=earning.quote.fee if earning else 0,
                carry_before=carry_before,
                carry_after=carry_after,
                transfer_id=earning.transfers[0].transfer_id if earning else None,
            )
        )
    await _record(session, settled, campaign_id=campaign_id, now=now)
    if roll_up:
        await roll_up_settled(session, settled, now=now)
    await record_change(
        session,
        action="campaigns.campaign.settle",
        entity_type="campaign",
        entity_id=campaign_id,
        actor_id=by,  # an admin's run, or None: the hourly job
        after={
            "through": through.isoformat(),
            "promoter_days": len(settled.days),
            "paid_views": sum(d.paid_views for d in settled.days),
            "over_cap": settled.over_cap,
            "amount": settled.amount,
            "fees": sum(d.fee for d in settled.days),
        },
        description="validated views settled into the promoters' earnings",
    )
    if (short or left <= 0) and campaign.status in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
        # The core's pause (audited): an active campaign pauses, one paused by its advertiser
        # now says why it cannot resume.
        settled.paused = campaign.status == CampaignStatus.ACTIVE
        await pause_for_budget(session, campaign, PauseReason.BUDGET_SPENT, now)
    return settled


async def _record(
    session: AsyncSession, settled: CampaignSettled, *, campaign_id: uuid.UUID, now: datetime
) -> None:
    days = settled.days
    marked = (
        await session.execute(
            _MARK_VIEWS,
            {
                "pcs": [d.promoter_campaign_id for d in days],
                "days": [d.day for d in days],
                "ks": [d.paid_views for d in days],
                "now": now,
            },
        )
    ).one()
    expected = sum(d.due_views for d in days)
    if marked.views != expected:
        # The campaign's locks keep its views still; a difference is a bug: pay nothing.
        raise RuntimeError(f"settlement marked {marked.views} views, expected {expected}")
    settled.validated = int(marked.validated)
    paid = [d for d in days if d.paid_views > 0]
    if paid:
        await session.execute(
            _RECORD_SETTLEMENTS,
            {
                "pcs": [d.promoter_campaign_id for d in paid],
                "days": [d.day for d in paid],
                "views": [d.paid_views for d in paid],
                "amounts": [d.amount for d in paid],
                "carry_before": [d.carry_before for d in paid],
                "carry_after": [d.carry_after for d in paid],
                "transfers": [d.transfer_id for d in paid],
            },
        )
    total = settled.amount
    if total:
        per_promoter: dict[uuid.UUID, int] = defaultdict(int)
        for d in paid:
            per_promoter[d.promoter_campaign_id] += d.amount
        await session.execute(
            _SPEND_PROMOTERS,
            {"pcs": list(per_promoter), "amounts": list(per_promoter.values())},
        )
        await session.execute(
            _SPEND_ALLOCATION, {"campaign_id": campaign_id, "amount": total, "now": now}
        )


@dataclass
class SettlementRun:
    through: date  # the last day settled (every earlier unsettled day with it)
    validated: int  # views validated by this run
    campaigns: list[CampaignSettled]


async def roll_up_settled(
    session: AsyncSession, settled: CampaignSettled, *, now: datetime
) -> None:
    """`view_stats` of the campaign's days just settled."""
    await rollup_view_stats(
        session,
        since=min(d.day for d in settled.days),
        until=max(d.day for d in settled.days),
        campaign_id=settled.campaign_id,
        now=now,
    )


async def due_promoter_campaigns(
    session: AsyncSession, campaign_id: uuid.UUID, *, through: date
) -> list[uuid.UUID]:
    """The campaign's promoter campaigns with validated views of unsettled days up to
    `through`, by id (a read: the settlement checks again under its locks)."""
    rows = await session.execute(
        _DUE,
        {
            "campaign_id": campaign_id,
            "through_end": day_start(through + timedelta(days=1)),
            "only": None,
        },
    )
    return sorted({row[0] for row in rows.all()})


async def settle_due(
    database: Database,
    *,
    now: datetime,
    window: timedelta,
    hold_days: int,
    fee_shards: int,
    through: date | None = None,
    by: uuid.UUID | None = None,
) -> SettlementRun:
    """Validate what is due, then settle every candidate campaign through the last settleable
    day (or `through`, if earlier): one transaction per batch of its promoter campaigns
    (`PROMOTERS_PER_TRANSACTION`), so that one refusal does not undo another batch's
    settlement and no transaction holds the campaign's lock for long. An ended campaign whose
    last views are settled then gets back what it kept for them and they did not earn."""
    last = settleable_through(now, window)
    day = last if through is None else min(through, last)
    async with database.read_scope() as session:
        candidates = (
            await session.execute(_CANDIDATES, {"ended_since": now - window - ENDED_SETTLING})
        ).all()
    results: list[CampaignSettled] = []
    for campaign_id, ended in candidates:
        async with database.read_scope() as session:
            due = await due_promoter_campaigns(session, campaign_id, through=day)
        merged = CampaignSettled(campaign_id)
        for start in range(0, len(due), PROMOTERS_PER_TRANSACTION):
            async with database.session_scope() as session:
                result = await settle_campaign(
                    session,
                    campaign_id,
                    through=day,
                    now=now,
                    hold_days=hold_days,
                    fee_shards=fee_shards,
                    by=by,
                    only=due[start : start + PROMOTERS_PER_TRANSACTION],
                    roll_up=False,
                )
            merged.days.extend(result.days)
            merged.paused = merged.paused or result.paused
            merged.validated += result.validated
        if merged.days:
            async with database.session_scope() as session:
                await roll_up_settled(session, merged, now=now)
            results.append(merged)
        if ended:
            async with database.session_scope() as session:
                merged.refunded = await refund_rest(session, campaign_id, now=now)
            if merged.refunded and not merged.days:
                results.append(merged)
    # Then the views past their window in days not settleable yet (the day the window ends
    # in): validated, payable with their day.
    async with database.session_scope() as session:
        validated = await validate_due_views(session, now, window=window)
    validated += sum(result.validated for result in results)
    return SettlementRun(through=day, validated=validated, campaigns=results)


async def settle_now(database: Database, settings: Settings, now: datetime) -> SettlementRun:
    """The periodic job's run: validation and settlement of every day past its window, then
    `view_stats` of the days still moving (those in the window and the day before it)."""
    window = validation_window(settings)
    run = await settle_due(
        database,
        now=now,
        window=window,
        hold_days=settings.earnings_hold_days,
        fee_shards=settings.fee_shards,
    )
    async with database.session_scope() as session:
        await rollup_view_stats(
            session, since=run.through, until=now.astimezone(UTC).date(), now=now
        )
    return run


# --- view_stats ------------------------------------------------------------------------------

_ROLLUP = """
WITH counts AS (
    SELECT v.promoter_campaign_id, (v.occurred_at AT TIME ZONE 'UTC')::date AS day,
           min(pc.campaign_id::text)::uuid AS campaign_id,
           count(*) FILTER (WHERE v.outcome IN ('pending', 'validated', 'rejected', 'paid'))
             AS counted,
           count(*) FILTER (WHERE v.outcome = 'duplicate') AS dropped_duplicate,
           count(*) FILTER (WHERE v.outcome = 'bot') AS dropped_bot,
           count(*) FILTER (WHERE v.outcome = 'rate_limited') AS dropped_rate_limited,
           count(*) FILTER (WHERE v.outcome = 'campaign_inactive') AS dropped_inactive,
           count(*) FILTER (WHERE v.outcome = 'over_cap') AS dropped_over_cap,
           count(*) FILTER (WHERE v.validated_at IS NOT NULL) AS validated,
           count(*) FILTER (WHERE v.outcome = 'rejected') AS rejected,
           count(*) FILTER (WHERE v.outcome = 'paid') AS paid_views
    -- Through the promoter campaigns: each one's views by its index (promoter campaign, time).
    FROM campaigns.promoter_campaigns pc
    JOIN campaigns.views v ON v.promoter_campaign_id = pc.id
     AND v.occurred_at >= :since AND v.occurred_at < :until
    WHERE {campaigns}
    GROUP BY 1, 2
)
INSERT INTO campaigns.view_stats (
    promoter_campaign_id, day, campaign_id, counted, dropped_duplicate, dropped_bot,
    dropped_rate_limited, dropped_inactive, dropped_over_cap, validated, rejected,
    paid_views, paid_amount, updated_at)
SELECT c.promoter_campaign_id, c.day, c.campaign_id, c.counted, c.dropped_duplicate,
       c.dropped_bot, c.dropped_rate_limited, c.dropped_inactive, c.dropped_over_cap,
       c.validated, c.rejected, c.paid_views, coalesce(s.amount, 0), :now
FROM counts c
LEFT JOIN campaigns.view_settlements s
  ON s.promoter_campaign_id = c.promoter_campaign_id AND s.day = c.day
ON CONFLICT (promoter_campaign_id, day) DO UPDATE SET
    counted = EXCLUDED.counted, dropped_duplicate = EXCLUDED.dropped_duplicate,
    dropped_bot = EXCLUDED.dropped_bot, dropped_rate_limited = EXCLUDED.dropped_rate_limited,
    dropped_inactive = EXCLUDED.dropped_inactive, dropped_over_cap = EXCLUDED.dropped_over_cap,
    validated = EXCLUDED.validated, rejected = EXCLUDED.rejected,
    paid_views = EXCLUDED.paid_views, paid_amount = EXCLUDED.paid_amount,
    updated_at = EXCLUDED.updated_at
WHERE (view_stats.counted, view_stats.dropped_duplicate, view_stats.dropped_bot,
       view_stats.dropped_rate_limited, view_stats.dropped_inactive, view_stats.dropped_over_cap,
       view_stats.validated, view_stats.rejected, view_stats.paid_views, view_stats.paid_amount)
  IS DISTINCT FROM
      (EXCLUDED.counted, EXCLUDED.dropped_duplicate, EXCLUDED.dropped_bot,
       EXCLUDED.dropped_rate_limited, EXCLUDED.dropped_inactive, EXCLUDED.dropped_over_cap,
       EXCLUDED.validated, EXCLUDED.rejected, EXCLUDED.paid_views, EXCLUDED.paid_amount)
"""
# All campaigns but those ended before the days rolled up (their figures stay as they were).
_ROLLUP_ALL = text(
    _ROLLUP.format(
        campaigns="pc.campaign_id IN (SELECT id FROM campaigns.campaigns"
        " WHERE ended_at IS NULL OR ended_at >= :since)"
    )
)
_ROLLUP_CAMPAIGN = text(_ROLLUP.format(campaigns="pc.campaign_id = :campaign_id"))


async def rollup_view_stats(
    session: AsyncSession,
    *,
    since: date,
    until: date,
    now: datetime,
    campaign_id: uuid.UUID | None = None,
) -> int:
    """Recompute `view_stats` of the UTC days `since`..`until` (inclusive) from the views and
    settlements, of one campaign or all (but those ended before `since`); rows whose counts
    did not change are not written.
    Returns how many rows were written."""
    params: dict[str, Any] = {
        "since": day_start(since),
        "until": day_start(until + timedelta(days=1)),
        "now": now,
    }
    statement = _ROLLUP_ALL
    if campaign_id is not None:
        statement = _ROLLUP_CAMPAIGN
        params["campaign_id"] = campaign_id
    result = await session.execute(statement, params)
    return int(result.rowcount)  # type: ignore[attr-defined]
