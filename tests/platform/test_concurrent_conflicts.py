"""A request whose transaction loses a race with another (a deadlock, a serialization failure,
a lock timeout) was rolled back whole by PostgreSQL: it gets 409 `concurrent_change` with
`Retry-After`, changes nothing, and the same request sent again passes. Never a 500.

The deadlock is a real one, on the real campaign end route: it locks the campaign, then its
budget allocation; the test's own connection holds the allocation, waits until the route waits
for it, then asks for the campaign. The route's backend waited first and checks for deadlocks
first (the test's connection raises its own `deadlock_timeout`), so the route is the one
PostgreSQL rolls back."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from campaign_helpers import DEFAULT_BUDGET, advertiser, campaign_of, funded_campaign
from creatorhub.config import Settings
from creatorhub.db import Database, libpq_url
from creatorhub.kit.errors import concurrent_conflict
from helpers import assert_problem
from payment_helpers import idem, wallet


async def wait_until_blocked(conn: psycopg.AsyncConnection[object], query_like: str) -> None:
    for _ in range(200):
        row = await (
            await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND query LIKE %s",
                (query_like,),
            )
        ).fetchone()
        if row and row[0]:
            return
        await asyncio.sleep(0.02)
    rows = await (
        await conn.execute(
            "SELECT state, wait_event_type, left(query, 200) FROM pg_stat_activity"
            " WHERE datname = current_database()"
        )
    ).fetchall()
    raise AssertionError(f"the request never waited for the lock: {rows}")


async def test_a_deadlocked_request_is_a_409_that_changes_nothing_and_can_be_sent_again(
    client: httpx.AsyncClient, settings: Settings, database: Database
) -> None:
    owner = await advertiser(client, funds=DEFAULT_BUDGET)
    campaign = await funded_campaign(client, owner)
    campaign_id = uuid.UUID(campaign["id"])
    headers = {**owner.headers, **idem()}
    url = libpq_url(settings.database_url)
    async with (
        await psycopg.AsyncConnection.connect(url) as holder,
        await psycopg.AsyncConnection.connect(url, autocommit=True) as watcher,
    ):
        await holder.execute("SET deadlock_timeout = '10s'")
        await holder.execute(
            "SELECT 1 FROM campaigns.campaign_budget_allocations WHERE campaign_id = %s FOR UPDATE",
            (campaign_id,),
        )
        ending = asyncio.create_task(
            client.post(f"/v1/campaigns/{campaign_id}/end", headers=headers)
        )
        # (The statement's text is longer than what pg_stat_activity keeps: its start.)
        await wait_until_blocked(watcher, "SELECT campaigns.campaign_budget_allocations.id,%")
        # The cycle: the route holds the campaign and waits for the allocation; we ask for
        # the campaign. The route's deadlock check (1 s) runs before ours (10 s).
        await holder.execute(
            "SELECT 1 FROM campaigns.campaigns WHERE id = %s FOR UPDATE", (campaign_id,)
        )
        answer = await ending
        await holder.rollback()

    body = assert_problem(answer, 409, "concurrent_change")
    assert answer.headers["retry-after"] == "1"
    assert "send it again" in body["detail"]
    # Nothing was changed: still active, the budget in the escrow, no refund.
    view = await campaign_of(client, campaign["id"], owner)
    assert (view["status"], view["escrow_balance"]) == ("active", DEFAULT_BUDGET)
    assert (await wallet(client, owner.headers))["available"] == 0
    # The same request (its idempotency key too) sent again passes.
    again = await client.post(f"/v1/campaigns/{campaign_id}/end", headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "completed"
    assert (await wallet(client, owner.headers))["available"] == DEFAULT_BUDGET


async def test_a_serialization_failure_is_a_conflict_and_a_plain_error_is_not(
    database: Database,
) -> None:
    """A real 40001 (two serializable transactions writing what the other read), seen through
    SQLAlchemy as the app sees it; a unique violation is no conflict to retry."""
    async with database.engine.connect() as first, database.engine.connect() as second:
        for conn in (first, second):
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
            await conn.execute(text("SELECT count(*) FROM identity.users"))
        await first.execute(
            text("UPDATE identity.users SET display_name = display_name WHERE false")
        )
        await first.execute(
            text(
                "INSERT INTO identity.users (email, display_name, roles)"
                " VALUES ('one@example.com', 'One', ARRAY['fan'])"
            )
        )
        await second.execute(
            text(
                "INSERT INTO identity.users (email, display_name, roles)"
                " VALUES ('two@example.com', 'Two', ARRAY['fan'])"
            )
        )
        await first.commit()
        with pytest.raises(DBAPIError) as failed:
            await second.commit()
        assert concurrent_conflict(failed.value), repr(failed.value)
    async with database.engine.connect() as conn:
        with pytest.raises(DBAPIError) as duplicate:
            await conn.execute(
                text(
                    "INSERT INTO identity.users (email, display_name, roles)"
                    " VALUES ('one@example.com', 'Again', ARRAY['fan'])"
                )
            )
        assert not concurrent_conflict(duplicate.value)
