"""Property: odd rates over many days carry fractions exactly (issue 14's proof).

For random `cpv` and daily view counts, settled day by day with the fraction of a cent carried,
each promoter is paid exactly floor(paid views x cpv / 100) in total, all views are paid when
the budget covers them, and within a smaller budget the paid views are the most it covers:
never a cent more than funded, none created or lost. Checked on the arithmetic alone (many
examples) and on the database through `settle_due` (fewer: each is a funded campaign, its
views and its settlement; the ledger is verified after the test by tests/campaigns/conftest)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from creatorhub.campaigns import settlement
from creatorhub.config import Settings
from creatorhub.db import Database
from settlement_helpers import add_views, build_campaign, fetch, one

WINDOW = timedelta(hours=72)
FIRST_DAY = date(2026, 10, 1)

rates = st.integers(min_value=1, max_value=2_500)
daily_counts = st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=40)


def most_views_within(budget: int, cpv: int) -> int:
    """The most views whose pay floor(v * cpv / 100) is within `budget`."""
    return ((budget + 1) * 100 - 1) // cpv


def settle_in_memory(cpv: int, days: list[int], budget: int) -> tuple[list[int], list[int]]:
    """What settlement computes day by day: (paid views, amount) of each day."""
    carry, left = 0, budget
    paid_views, amounts = [], []
    for views in days:
        paid = min(views, settlement.payable_views(carry=carry, cpv=cpv, left=left))
        amount, carry_after = settlement.split_day(carry_before=carry, views=paid, cpv=cpv)
        if paid:
            carry = carry_after
        left -= amount
        assert left >= 0
        paid_views.append(paid)
        amounts.append(amount)
    return paid_views, amounts


@examples(max_examples=2_000, deadline=None)
@given(cpv=rates, days=daily_counts, budget_share=st.floats(min_value=0.0, max_value=1.5))
def test_the_carried_fraction_loses_and_creates_nothing(
    cpv: int, days: list[int], budget_share: float
) -> None:
    total = sum(days)
    full = (total * cpv + 99) // 100  # what paying every view needs, rounded up
    budget = int(full * budget_share)
    paid_views, amounts = settle_in_memory(cpv, days, budget)
    paid = sum(paid_views)
    assert sum(amounts) == paid * cpv // 100
    assert sum(amounts) <= budget
    assert paid == min(total, most_views_within(budget, cpv))
    if budget >= full:
        assert paid == total


@examples(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cpv=rates,
    days=st.lists(
        st.tuples(st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=60)),
        min_size=1,
        max_size=6,
    ),
    covered=st.booleans(),
)
async def test_settlement_in_the_database_pays_floor_of_views_times_cpv(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    cpv: int,
    days: list[tuple[int, int]],
    covered: bool,
) -> None:
    totals = [sum(day[i] for day in days) for i in (0, 1)]
    if covered:  # a budget for every view (max_views at least their number)
        built = await build_campaign(
            client, database, cpv=cpv, max_views=max(100, sum(totals)), promoters=2
        )
    else:  # 100 views' budget, whatever comes
        built = await build_campaign(client, database, cpv=cpv, max_views=100, promoters=2)
    for offset, counts in enumerate(days):
        day = FIRST_DAY + timedelta(days=offset)
        for pc, count in zip(built.promoters, counts, strict=True):
            await add_views(database, built, pc, day, count)
    last = FIRST_DAY + timedelta(days=len(days) - 1)
    now = settlement.day_start(last + timedelta(days=1)) + WINDOW
    await settlement.settle_due(
        database, now=now, window=WINDOW, hold_days=0, fee_shards=settings.fee_shards
    )

    rows = await fetch(
        database,
        "SELECT pc.id, pc.spent_budget,"
        " (SELECT count(*) FROM campaigns.views v WHERE v.promoter_campaign_id = pc.id"
        "   AND v.outcome = 'paid') AS paid,"
        " (SELECT count(*) FROM campaigns.views v WHERE v.promoter_campaign_id = pc.id"
        "   AND v.outcome = 'over_cap') AS over_cap,"
        " (SELECT coalesce(sum(amount), 0) FROM campaigns.view_settlements s"
        "   WHERE s.promoter_campaign_id = pc.id) AS settled"
        " FROM campaigns.promoter_campaigns pc WHERE pc.campaign_id = :c",
        c=built.campaign_id,
    )
    spent = 0
    for row in rows:
        paid = int(row["paid"])  # type: ignore[call-overload]
        assert row["spent_budget"] == row["settled"] == paid * cpv // 100
        spent += int(row["settled"])  # type: ignore[call-overload]
    assert sum(int(row["paid"]) + int(row["over_cap"]) for row in rows) == sum(totals)  # type: ignore[call-overload]
    assert spent <= built.budget
    if covered:
        assert sum(int(row["paid"]) for row in rows) == sum(totals)  # type: ignore[call-overload]
    escrow = await one(
        database,
        "SELECT balance FROM ledger.accounts WHERE id = :id",
        id=built.escrow_account_id,
    )
    assert escrow == built.budget - spent
    allocation = await one(
        database,
        "SELECT spent_amount FROM campaigns.campaign_budget_allocations WHERE campaign_id = :c",
        c=built.campaign_id,
    )
    assert allocation == spent
