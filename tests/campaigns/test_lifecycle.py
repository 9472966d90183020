"""Part A: a campaign's life through the HTTP API: created (every bad input refused with its
code, nothing written), funded from the wallet or a provider charge (webhook), paused and
resumed, ended with the unspent budget refunded exactly, or at its end date by the job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from campaign_helpers import (
    DEFAULT_BUDGET,
    advertiser,
    campaign_of,
    create_campaign,
    end,
    fund,
    funded_campaign,
    join,
    pause,
    promoter,
    resume,
    visibility_body,
)
from creatorhub.campaigns import service
from creatorhub.campaigns.tasks import end_due_campaigns_task
from creatorhub.db import Database
from creatorhub.jobs import defer
from creatorhub.kit.clock import utcnow
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import AccountKind
from creatorhub.payments.earnings import pay_earnings
from creatorhub.payments.tasks import provider_in
from helpers import account, assert_problem
from payment_helpers import count, funding_event, idem, post_event, wallet


async def scalar(database: Database, sql: str, **params: Any) -> Any:
    async with database.session_scope() as session:
        return (await session.execute(text(sql), params)).scalar_one()


async def spend(database: Database, campaign_id: str, payee: str, amount: int) -> None:
    """What part C's settlement does, in short: pay a promoter from the escrow and record it
    in the allocation (the same transaction)."""
    async with database.session_scope() as session:
        campaign = await service.lock_campaign(session, uuid.UUID(campaign_id))
        allocation = await service.lock_allocation(session, campaign.id)
        assert allocation is not None
        await pay_earnings(
            session,
            payee_id=uuid.UUID(payee),
            gross=amount,
            currency=campaign.currency,
            kind="campaign_earning",
            key=f"test-spend:{campaign_id}:{uuid.uuid4()}",
            reason="campaign views (test)",
            now=utcnow(),
            hold_days=0,
            fee_shards=1,
            payer_account_id=campaign.escrow_account_id,
            reference_type="campaign",
            reference_id=campaign_id,
        )
        allocation.spent_amount += amount
        await session.flush()


async def hold(database: Database, campaign_id: str, payee: str, amount: int) -> uuid.UUID:
    """A reservation on the escrow not yet posted (part C's settlement in flight)."""
    async with database.session_scope() as session:
        campaign = await service.lock_campaign(session, uuid.UUID(campaign_id))
        destination = await ledger.user_account(
            session, uuid.UUID(payee), campaign.currency, AccountKind.WALLET_PENDING
        )
        held = await ledger.create_hold(
            session,
            debit_account_id=campaign.escrow_account_id,
            credit_account_id=destination,
            amount=amount,
            kind="campaign_earning",
            idempotency_key=f"test-hold:{uuid.uuid4()}",
            currency=campaign.currency,
            reference_type="campaign",
            reference_id=campaign_id,
        )
        return held.hold_id


# --- create -----------------------------------------------------------------------------------


async def test_create_a_visibility_draft_with_its_budget_rounded_up(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client)
    # 7 per 100 views x 1,001 views = 70.07: the budget is 71, the cent's fraction rounded up.
    draft = await create_campaign(client, owner, cpv=7, max_views=1_001)
    assert (draft["status"], draft["budget"], draft["view"]) == ("draft", 71, "advertiser")
    assert draft["allocation"] is None and draft["escrow_balance"] == 0
    assert draft["promoters"] == [] and draft["funded_at"] is None
    default = await create_campaign(client, owner)
    assert default["budget"] == DEFAULT_BUDGET
    explicit = await create_campaign(client, owner, budget=5_000)
    assert explicit["budget"] == 5_000
    audited = "SELECT count(*) FROM audit.audit_logs WHERE action = 'campaigns.campaign.create'"
    assert await count(database, audited) >= 3


async def test_a_start_sent_as_now_is_accepted(client: httpx.AsyncClient) -> None:
    owner = await advertiser(client)
    moment_ago = datetime.now(UTC) - timedelta(seconds=30)
    draft = await create_campaign(client, owner, starts_at=moment_ago.isoformat())
    assert datetime.fromisoformat(draft["starts_at"]) == moment_ago


async def test_the_other_types_keep_their_parameters(client: httpx.AsyncClient) -> None:
    owner = await advertiser(client)
    consultant = await create_campaign(
        client,
        owner,
        type="consultant",
        cpv=None,
        max_views=None,
        destination_url=None,
        min_budget=100_00,
        max_budget=500_00,
    )
    assert (consultant["budget"], consultant["min_budget"], consultant["max_budget"]) == (
        500_00,
        100_00,
        500_00,
    )
    salesman = await create_campaign(
        client,
        owner,
        type="salesman",
        cpv=None,
        max_views=None,
        destination_url=None,
        budget=1_000_00,
        commission_per_sale=1_250,
        tracking_method="coupon",
    )
    assert (salesman["commission_per_sale"], salesman["tracking_method"]) == (1_250, "coupon")


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"cpv": 0}, "cpv_not_positive", "body.cpv"),
        ({"cpv": -5}, "cpv_not_positive", "body.cpv"),
        ({"max_views": 99}, "max_views_too_low", "body.max_views"),
        ({"budget": DEFAULT_BUDGET - 1}, "budget_not_covering", "body.budget"),
        ({"starts_at": "2020-01-01T00:00:00+00:00"}, "starts_at_past", "body.starts_at"),
        (
            {"starts_at": (datetime.now(UTC) - timedelta(minutes=6)).isoformat()},
            "starts_at_past",
            "body.starts_at",
        ),
        ({"ends_at": "2020-01-01T00:00:00+00:00"}, "ends_before_start", "body.ends_at"),
        ({"destination_url": "ftp://shop.example.com"}, "destination_url_invalid", None),
        ({"destination_url": "javascript:alert(1)"}, "destination_url_invalid", None),
        ({"cpv": None}, "campaign_parameter_missing", "body.cpv"),
        ({"min_budget": 100}, "campaign_parameter_unexpected", "body.min_budget"),
        ({"max_views_per_promoter": 0}, "promoter_cap_invalid", None),
        ({"max_views_per_promoter": 1_001}, "promoter_cap_invalid", None),
        (
            {
                "type": "consultant",
                "cpv": None,
                "max_views": None,
                "destination_url": None,
                "min_budget": 500,
                "max_budget": 100,
            },
            "budget_range_invalid",
            None,
        ),
        (
            {
                "type": "seller",
                "cpv": None,
                "max_views": None,
                "destination_url": None,
                "min_budget": 100,
                "max_budget": 500,
                "budget": 400,
            },
            "budget_not_covering",
            None,
        ),
        (
            {
                "type": "salesman",
                "cpv": None,
                "max_views": None,
                "destination_url": None,
                "budget": 100,
                "commission_per_sale": 0,
                "tracking_method": "coupon",
            },
            "commission_invalid",
            None,
        ),
        (
            {
                "type": "salesman",
                "cpv": None,
                "max_views": None,
                "destination_url": None,
                "budget": 0,
                "commission_per_sale": 10,
                "tracking_method": "coupon",
            },
            "budget_invalid",
            None,
        ),
    ],
)
async def test_bad_input_is_refused_with_its_code_and_nothing_is_written(
    client: httpx.AsyncClient,
    database: Database,
    change: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    owner = await advertiser(client)
    response = await client.post(
        "/v1/campaigns", json=visibility_body(**change), headers=owner.headers
    )
    assert_problem(response, 422, code, field)
    written = "SELECT count(*) FROM campaigns.campaigns WHERE advertiser_id = :me"
    assert await count(database, written, me=owner.id) == 0


async def test_only_an_advertiser_creates(client: httpx.AsyncClient) -> None:
    fan = await promoter(client)
    response = await client.post("/v1/campaigns", json=visibility_body(), headers=fan.headers)
    assert_problem(response, 403, "role_required")
    response = await client.post(
        "/v1/campaigns", json=visibility_body(cpv=1.5), headers=(await advertiser(client)).headers
    )
    assert_problem(response, 422, "validation_error")


# --- fund from the wallet -----------------------------------------------------------------------


async def test_funding_from_the_wallet_moves_the_budget_into_the_escrow(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=5_000)
    campaign = await funded_campaign(client, owner)
    assert campaign["status"] == "active" and campaign["funded_at"] is not None
    assert campaign["escrow_balance"] == DEFAULT_BUDGET and campaign["escrow_reserved"] == 0
    assert campaign["allocation"] == {
        "allocated_amount": DEFAULT_BUDGET,
        "spent_amount": 0,
        "refunded_amount": 0,
        "currency": "USD",
        "funding_source": "wallet",
        "funding_intent_id": None,
        "rate_per_100_views": 300,
        "commission_rate": None,
    }
    # The answer is the campaign as it is read afterwards.
    assert campaign == await campaign_of(client, campaign["id"], owner)
    audited = (
        "SELECT before->>'status' || ' -> ' || (after->>'status') FROM audit.audit_logs"
        " WHERE action = 'campaigns.campaign.fund' AND entity_id = :c AND actor_id = :me"
    )
    assert await scalar(database, audited, c=campaign["id"], me=owner.id) == "draft -> active"
    assert (await wallet(client, owner.headers))["available"] == 5_000 - DEFAULT_BUDGET
    funding = "SELECT count(*) FROM ledger.transfers WHERE idempotency_key = :key"
    key = f"campaigns:campaign:{campaign['id']}:funding"
    assert await count(database, funding, key=key) == 1

    again = await fund(client, campaign["id"], owner)
    assert_problem(again, 409, "campaign_not_draft")
    assert (await wallet(client, owner.headers))["available"] == 5_000 - DEFAULT_BUDGET


async def test_funding_refusals_change_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    poor = await advertiser(client, funds=DEFAULT_BUDGET - 1)
    campaign = await create_campaign(client, poor)
    assert_problem(await fund(client, campaign["id"], poor), 409, "insufficient_funds")
    assert (await campaign_of(client, campaign["id"], poor))["status"] == "draft"
    assert (await wallet(client, poor.headers))["available"] == DEFAULT_BUDGET - 1
    allocations = (
        "SELECT count(*) FROM campaigns.campaign_budget_allocations WHERE campaign_id = :c"
    )
    assert await count(database, allocations, c=campaign["id"]) == 0

    other = await advertiser(client, funds=10_000)
    assert_problem(await fund(client, campaign["id"], other), 404, "campaign_not_found")
    unverified = await account(client, roles=["brand"], verified=False)
    assert_problem(await fund(client, campaign["id"], unverified), 403, "email_not_verified")
    no_key = await client.post(
        f"/v1/campaigns/{campaign['id']}/fund", json={"source": "wallet"}, headers=poor.headers
    )
    assert_problem(no_key, 400, "idempotency_key_required")
    late = await create_campaign(client, other)
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE campaigns.campaigns SET starts_at = now() - interval '2 days',"
                " ends_at = now() - interval '1 minute' WHERE id = :c"
            ),
            {"c": late["id"]},
        )
    assert_problem(await fund(client, late["id"], other), 409, "campaign_ended")
    missing = await fund(client, str(uuid.uuid4()), other)
    assert_problem(missing, 404, "campaign_not_found")
    assert (await wallet(client, other.headers))["available"] == 10_000


async def test_a_retried_fund_request_is_answered_once(client: httpx.AsyncClient) -> None:
    owner = await advertiser(client, funds=10_000)
    campaign = await create_campaign(client, owner)
    headers = {**owner.headers, **idem()}
    first = await client.post(
        f"/v1/campaigns/{campaign['id']}/fund", json={"source": "wallet"}, headers=headers
    )
    second = await client.post(
        f"/v1/campaigns/{campaign['id']}/fund", json={"source": "wallet"}, headers=headers
    )
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert (await wallet(client, owner.headers))["available"] == 10_000 - DEFAULT_BUDGET


# --- fund through a provider ------------------------------------------------------------------


async def test_provider_funding_goes_active_on_the_webhook_and_refunds_to_the_charge(
    client: httpx.AsyncClient, database: Database, run_jobs: Callable[[], Awaitable[None]]
) -> None:
    owner = await advertiser(client)
    campaign = await create_campaign(client, owner)
    funded = await fund(client, campaign["id"], owner, source="provider")
    assert funded.status_code == 200, funded.text
    intent = funded.json()["funding_intent"]
    assert (intent["amount"], intent["target_type"], intent["target_id"]) == (
        DEFAULT_BUDGET,
        "campaign",
        campaign["id"],
    )
    assert funded.json()["campaign"]["status"] == "draft"  # until the provider confirms

    event = funding_event(intent["provider_reference"], amount=DEFAULT_BUDGET)
    assert (await post_event(client, event)).status_code == 200
    view = await campaign_of(client, campaign["id"], owner)
    assert view["status"] == "active" and view["escrow_balance"] == DEFAULT_BUDGET
    assert view["allocation"]["funding_source"] == "provider"
    assert view["allocation"]["funding_intent_id"] == intent["id"]
    assert (await post_event(client, event)).status_code == 200  # a replay changes nothing
    assert (await wallet(client, owner.headers))["available"] == 0

    someone = await promoter(client)
    await spend(database, campaign["id"], someone.id, 1_000)
    ended = await end(client, campaign["id"], owner)
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "completed"
    # The refund is the allocation's at once; the money leaves with the refund job.
    assert ended.json()["allocation"]["refunded_amount"] == DEFAULT_BUDGET - 1_000
    assert ended.json()["escrow_balance"] == DEFAULT_BUDGET - 1_000
    await run_jobs()
    view = await campaign_of(client, campaign["id"], owner)
    assert view["allocation"]["refunded_amount"] == DEFAULT_BUDGET - 1_000
    assert view["allocation"]["spent_amount"] == 1_000 and view["escrow_balance"] == 0
    refunds = "SELECT count(*) FROM ledger.transfers WHERE idempotency_key = :key"
    key = f"campaigns:campaign:{campaign['id']}:refund"
    assert await count(database, refunds, key=key) == 1
    assert (await wallet(client, owner.headers))["available"] == 0  # back to the card


async def test_two_runs_of_the_refund_job_refund_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client)
    campaign = await create_campaign(client, owner)
    intent = (await fund(client, campaign["id"], owner, source="provider")).json()
    reference = intent["funding_intent"]["provider_reference"]
    assert (
        await post_event(client, funding_event(reference, amount=DEFAULT_BUDGET))
    ).status_code == 200
    assert (await end(client, campaign["id"], owner)).status_code == 200

    async def run() -> int | None:
        async with database.session_scope() as session:
            return await service.issue_provider_refund(
                session,
                provider_in(session),
                uuid.UUID(campaign["id"]),
                stage=service.RefundStage.END,
                amount=DEFAULT_BUDGET,
                now=utcnow(),
            )

    assert await asyncio.gather(run(), run()) == [DEFAULT_BUDGET, DEFAULT_BUDGET]
    assert await run() == DEFAULT_BUDGET
    refunds = "SELECT count(*) FROM ledger.transfers WHERE idempotency_key = :key"
    key = f"campaigns:campaign:{campaign['id']}:refund"
    assert await count(database, refunds, key=key) == 1
    view = await campaign_of(client, campaign["id"], owner)
    assert view["escrow_balance"] == 0
    assert view["allocation"]["refunded_amount"] == DEFAULT_BUDGET


async def test_a_late_provider_confirmation_goes_to_the_wallet(
    client: httpx.AsyncClient,
) -> None:
    owner = await advertiser(client, funds=DEFAULT_BUDGET)
    campaign = await create_campaign(client, owner)
    funded = await fund(client, campaign["id"], owner, source="provider")
    intent = funded.json()["funding_intent"]
    # Funded from the wallet meanwhile: the charge's money is not refused, it is the wallet's.
    assert (await fund(client, campaign["id"], owner)).status_code == 200
    event = funding_event(intent["provider_reference"], amount=DEFAULT_BUDGET)
    assert (await post_event(client, event)).status_code == 200
    view = await campaign_of(client, campaign["id"], owner)
    assert view["escrow_balance"] == DEFAULT_BUDGET
    assert view["allocation"]["funding_source"] == "wallet"
    assert (await wallet(client, owner.headers))["available"] == DEFAULT_BUDGET


async def test_provider_funding_of_a_funded_campaign_is_refused(client: httpx.AsyncClient) -> None:
    owner = await advertiser(client, funds=DEFAULT_BUDGET)
    campaign = await funded_campaign(client, owner)
    refused = await fund(client, campaign["id"], owner, source="provider")
    assert_problem(refused, 409, "campaign_not_draft")
    intent = await client.post(
        "/v1/funding",
        json={
            "amount": DEFAULT_BUDGET + 1,
            "currency": "USD",
            "target_type": "campaign",
            "target_id": (await create_campaign(client, owner))["id"],
        },
        headers={**owner.headers, **idem()},
    )
    assert_problem(intent, 422, "funding_amount_mismatch")


# --- pause, resume ------------------------------------------------------------------------------


async def test_pause_and_resume(client: httpx.AsyncClient, database: Database) -> None:
    owner = await advertiser(client, funds=DEFAULT_BUDGET)
    campaign = await funded_campaign(client, owner)
    paused = await pause(client, campaign["id"], owner)
    assert paused.status_code == 200, paused.text
    assert (paused.json()["status"], paused.json()["pause_reason"]) == ("paused", "advertiser")
    assert_problem(await pause(client, campaign["id"], owner), 409, "campaign_not_active")
    resumed = await resume(client, campaign["id"], owner)
    assert (resumed.json()["status"], resumed.json()["pause_reason"]) == ("active", None)
    assert_problem(await resume(client, campaign["id"], owner), 409, "campaign_not_paused")
    other = await advertiser(client)
    assert_problem(await pause(client, campaign["id"], other), 404, "campaign_not_found")
    audited = (
        "SELECT count(*) FROM audit.audit_logs WHERE entity_id = :c"
        " AND action IN ('campaigns.campaign.pause', 'campaigns.campaign.resume')"
    )
    assert await count(database, audited, c=campaign["id"]) == 2


async def test_a_spent_budget_pauses_and_cannot_resume(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=DEFAULT_BUDGET)
    campaign = await funded_campaign(client, owner)
    someone = await promoter(client)
    await spend(database, campaign["id"], someone.id, DEFAULT_BUDGET)
    async with database.session_scope() as session:
        locked = await service.lock_campaign(session, uuid.UUID(campaign["id"]))
        await service.pause_for_budget(session, locked, "budget_spent", utcnow())
    view = await campaign_of(client, campaign["id"], owner)
    assert (view["status"], view["pause_reason"]) == ("paused", "budget_spent")
    assert_problem(await resume(client, campaign["id"], owner), 409, "budget_spent")
    ended = (await end(client, campaign["id"], owner)).json()
    assert ended["status"] == "completed" and ended["allocation"]["refunded_amount"] == 0
    assert (await wallet(client, owner.headers))["available"] == 0


async def test_resume_after_the_end_date_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=DEFAULT_BUDGET)
    campaign = await funded_campaign(client, owner)
    assert (await pause(client, campaign["id"], owner)).status_code == 200
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE campaigns.campaigns SET starts_at = now() - interval '2 days',"
                " ends_at = now() - interval '1 minute' WHERE id = :c"
            ),
            {"c": campaign["id"]},
        )
    assert_problem(await resume(client, campaign["id"], owner), 409, "campaign_ended")


# --- end ----------------------------------------------------------------------------------------


async def test_ending_voids_the_holds_and_refunds_exactly_what_was_not_spent(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=10_000)
    campaign = await funded_campaign(client, owner)
    paid, reserved = await promoter(client), await promoter(client)
    await spend(database, campaign["id"], paid.id, 1_234)
    hold_id = await hold(database, campaign["id"], reserved.id, 500)
    before = await campaign_of(client, campaign["id"], owner)
    assert (before["escrow_balance"], before["escrow_reserved"]) == (DEFAULT_BUDGET - 1_234, 500)

    ended = await end(client, campaign["id"], owner)
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert (body["status"], body["ended_at"] is not None) == ("completed", True)
    assert body["allocation"]["spent_amount"] == 1_234
    assert body["allocation"]["refunded_amount"] == DEFAULT_BUDGET - 1_234
    assert (body["escrow_balance"], body["escrow_reserved"]) == (0, 0)
    assert (await wallet(client, owner.headers))["available"] == 10_000 - 1_234
    status = "SELECT status FROM ledger.holds WHERE id = :h"
    assert await scalar(database, status, h=hold_id) == "voided"
    # Net to the paid promoter: 1,234 less the 10 % fee.
    assert (await wallet(client, paid.headers))["available"] == 1_234 - 123

    # The advertiser's record of it: the funding and the refund, both naming the campaign.
    history = await client.get("/v1/wallet/transactions", headers=owner.headers)
    moves = [
        (item["kinds"], item["net"])
        for item in history.json()["items"]
        if item["reference_type"] == "campaign" and item["reference_id"] == campaign["id"]
    ]
    assert moves == [(["refund"], DEFAULT_BUDGET - 1_234), (["escrow_funding"], -DEFAULT_BUDGET)]

    assert_problem(await end(client, campaign["id"], owner), 409, "campaign_ended")
    assert_problem(await pause(client, campaign["id"], owner), 409, "campaign_not_active")
    assert (await wallet(client, owner.headers))["available"] == 10_000 - 1_234


async def test_a_draft_ends_cancelled_with_nothing_to_refund(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=DEFAULT_BUDGET)
    campaign = await create_campaign(client, owner)
    ended = (await end(client, campaign["id"], owner)).json()
    assert (ended["status"], ended["allocation"]) == ("cancelled", None)
    assert_problem(await fund(client, campaign["id"], owner), 409, "campaign_not_draft")
    assert (await wallet(client, owner.headers))["available"] == DEFAULT_BUDGET
    other = await advertiser(client)
    assert_problem(await end(client, campaign["id"], other), 404, "campaign_not_found")


async def test_campaigns_end_at_their_end_date_through_the_worker(
    client: httpx.AsyncClient, database: Database, run_jobs: Callable[[], Awaitable[None]]
) -> None:
    owner = await advertiser(client, funds=10_000)
    due = await funded_campaign(client, owner)
    draft = await create_campaign(client, owner)
    later = await funded_campaign(client, owner)
    someone = await promoter(client)
    await spend(database, due["id"], someone.id, 1_000)
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE campaigns.campaigns SET starts_at = now() - interval '2 days',"
                " ends_at = now() - interval '1 minute' WHERE id IN (:a, :b)"
            ),
            {"a": due["id"], "b": draft["id"]},
        )
        await defer(session, end_due_campaigns_task, timestamp=int(datetime.now(UTC).timestamp()))
    await run_jobs()

    view = await campaign_of(client, due["id"], owner)
    assert view["status"] == "completed"
    assert view["allocation"]["refunded_amount"] == DEFAULT_BUDGET - 1_000
    assert (await campaign_of(client, draft["id"], owner))["status"] == "cancelled"
    assert (await campaign_of(client, later["id"], owner))["status"] == "active"
    assert (await wallet(client, owner.headers))["available"] == 10_000 - 2 * DEFAULT_BUDGET + (
        DEFAULT_BUDGET - 1_000
    )
    audited = (
        "SELECT count(*) FROM audit.audit_logs WHERE entity_id = :c"
        " AND action = 'campaigns.campaign.end' AND actor_id IS NULL"
    )
    assert await count(database, audited, c=due["id"]) == 1


# --- reading ------------------------------------------------------------------------------------


async def test_who_sees_what(client: httpx.AsyncClient) -> None:
    owner = await advertiser(client, funds=10_000)
    draft = await create_campaign(client, owner)
    active = await funded_campaign(client, owner)
    joined, stranger = await promoter(client), await promoter(client)
    participation = await join(client, active["id"], joined)

    mine = await campaign_of(client, active["id"], owner)
    assert mine["view"] == "advertiser"
    assert [p["participation_id"] for p in mine["promoters"]] == [participation["id"]]
    assert mine["promoters"][0]["views_generated"] == 0
    public = await campaign_of(client, active["id"], stranger)
    assert public["view"] == "public"
    assert public["allocation"] is None and public["promoters"] is None
    assert public["escrow_balance"] is None
    # A draft is its advertiser's business; a paused campaign its advertiser's and joiners'.
    for who in (stranger, await advertiser(client)):
        response = await client.get(f"/v1/campaigns/{draft['id']}", headers=who.headers)
        assert_problem(response, 404, "campaign_not_found")
    assert (await pause(client, active["id"], owner)).status_code == 200
    assert (await campaign_of(client, active["id"], joined))["view"] == "public"
    response = await client.get(f"/v1/campaigns/{active['id']}", headers=stranger.headers)
    assert_problem(response, 404, "campaign_not_found")


async def test_the_advertisers_list_pages_newest_first(client: httpx.AsyncClient) -> None:
    owner = await advertiser(client)
    made = [await create_campaign(client, owner, title=f"Campaign {n}") for n in range(3)]
    await create_campaign(client, await advertiser(client))
    first = await client.get("/v1/campaigns?limit=2", headers=owner.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [item["id"] for item in body["items"]] == [made[2]["id"], made[1]["id"]]
    second = await client.get(
        f"/v1/campaigns?limit=2&cursor={body['next_cursor']}", headers=owner.headers
    )
    assert [item["id"] for item in second.json()["items"]] == [made[0]["id"]]
    assert second.json()["next_cursor"] is None
    bad = await client.get("/v1/campaigns?cursor=nonsense", headers=owner.headers)
    assert_problem(bad, 400, "invalid_cursor")
    fan = await promoter(client)
    assert_problem(await client.get("/v1/campaigns", headers=fan.headers), 403, "role_required")


# --- races --------------------------------------------------------------------------------------


async def test_racing_fund_pause_resume_and_end_leave_the_money_consistent(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Many requests at once on a few campaigns: each campaign's escrow holds exactly its
    allocation less what was spent and refunded, the wallet lost exactly what was kept, and
    every refusal was a 4xx with a code (never a 500)."""
    owner = await advertiser(client, funds=100_000)
    campaigns = [await create_campaign(client, owner) for _ in range(4)]
    requests: list[Awaitable[httpx.Response]] = []
    for campaign in campaigns:
        for _ in range(3):
            requests.append(fund(client, campaign["id"], owner))
        requests.append(pause(client, campaign["id"], owner))
        requests.append(resume(client, campaign["id"], owner))
        requests.append(end(client, campaign["id"], owner))
        requests.append(end(client, campaign["id"], owner))
    answers = await asyncio.gather(*requests)
    for answer in answers:
        assert answer.status_code in (200, 404, 409), answer.text
        if answer.status_code != 200:
            assert answer.json()["code"] in {
                "campaign_not_draft",
                "campaign_not_active",
                "campaign_not_paused",
                "campaign_ended",
            }, answer.text
    kept = 0
    for campaign in campaigns:
        view = await campaign_of(client, campaign["id"], owner)
        assert view["status"] in ("cancelled", "completed"), view
        allocation = view["allocation"]
        if allocation is None:
            assert view["status"] == "cancelled" and view["escrow_balance"] == 0
            continue
        assert allocation["allocated_amount"] == DEFAULT_BUDGET
        assert view["escrow_balance"] == (
            allocation["allocated_amount"]
            - allocation["spent_amount"]
            - allocation["refunded_amount"]
        )
        assert view["escrow_balance"] == 0
        kept += allocation["allocated_amount"] - allocation["refunded_amount"]
    assert (await wallet(client, owner.headers))["available"] == 100_000 - kept
    funded = (
        "SELECT count(*) FROM ledger.transfers WHERE kind = 'escrow_funding'"
        " AND reference_type = 'campaign' AND reference_id = ANY(:ids)"
    )
    ids = [c["id"] for c in campaigns]
    allocations = (
        "SELECT count(*) FROM campaigns.campaign_budget_allocations"
        " WHERE campaign_id::text = ANY(:ids)"
    )
    assert await count(database, funded, ids=ids) == await count(database, allocations, ids=ids)


async def test_a_provider_confirmation_racing_an_end_loses_no_money(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The webhook that activates a draft and the end that cancels it, at once, on several
    campaigns: whichever locks the campaign first wins, and the charge's money is in the
    campaign's escrow (active, then completed with the refund recorded) or in the wallet
    (cancelled first): never lost, never twice."""
    owner = await advertiser(client)
    campaigns = [await create_campaign(client, owner) for _ in range(4)]
    events = []
    for campaign in campaigns:
        funded = (await fund(client, campaign["id"], owner, source="provider")).json()
        reference = funded["funding_intent"]["provider_reference"]
        events.append(funding_event(reference, amount=DEFAULT_BUDGET))
    answers = await asyncio.gather(
        *(post_event(client, event) for event in events),
        *(end(client, campaign["id"], owner) for campaign in campaigns),
    )
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    in_wallet = 0
    for campaign in campaigns:
        view = await campaign_of(client, campaign["id"], owner)
        if view["status"] == "cancelled":
            assert view["allocation"] is None and view["escrow_balance"] == 0
            in_wallet += DEFAULT_BUDGET
        else:
            assert view["status"] == "completed", view
            assert view["allocation"]["refunded_amount"] == DEFAULT_BUDGET
            assert view["escrow_balance"] == DEFAULT_BUDGET  # until the refund job runs
    assert (await wallet(client, owner.headers))["available"] == in_wallet
