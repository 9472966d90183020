"""Every create a client may retry honours `Idempotency-Key`, through the real routes.

`CREATES` lists the API's create routes (POST answering 201) with how to call each. Money moves
require the key; every other create takes it when sent and runs as before without it. One test,
parametrized over the list, checks each route; another fails when the app has a create route
that is not listed, so a new one cannot forget the key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from campaign_helpers import advertiser as campaign_advertiser
from campaign_helpers import funded_campaign, promoter, visibility_body
from creatorhub.db import Database
from creatorhub.kit.crypto import generate_key
from helpers import Account, account, assert_problem, grant_roles, scalar
from market_helpers import brand, claim, job_body, open_job
from market_helpers import creator as audience_creator
from money_fixtures import ledger_verified
from payment_helpers import fund_wallet
from review_helpers import shoot

__all__ = ["ledger_verified"]  # the ledger's invariants are checked after each test


@dataclass
class Call:
    """One create, ready to send: who, where, what, and how to count what it makes."""

    user: Account
    path: str
    body: dict[str, Any] | None
    # Another request (other path or body) to send with the same key: refused.
    other_path: str
    other_body: dict[str, Any] | None
    # Counts the objects this create makes; `:owner` is bound to `owner`.
    count_sql: str
    owner: str


Prepare = Callable[[httpx.AsyncClient, Database], Awaitable[Call]]


@dataclass(frozen=True)
class Create:
    route: str  # the path as the app declares it
    prepare: Prepare
    required: bool = False  # a money move: the key is required (400 without it)
    # A second create without a key, on an optional route: 201 (a second object) or the
    # refusal the route gives (its one-per-owner rule): (status, code).
    again_without_key: tuple[int, str | None] = (201, None)


def count_of(table: str, column: str) -> str:
    # Names written in this file only, never input: nothing to inject.
    return f"SELECT count(*) FROM {table} WHERE {column} = CAST(:owner AS uuid)"  # noqa: S608


# --- how to call each create -----------------------------------------------------------------


async def a_job(client: httpx.AsyncClient, database: Database) -> Call:
    owner = await brand(client)
    return Call(
        owner,
        "/v1/marketplace/jobs",
        job_body(),
        "/v1/marketplace/jobs",
        job_body(title="Another reel"),
        count_of("marketplace.jobs", "creator_uid"),
        owner.id,
    )


async def a_submission(client: httpx.AsyncClient, database: Database) -> Call:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    maker = await audience_creator(client)
    claimed = await claim(client, job["uid"], maker)
    assert claimed.status_code == 201, claimed.text
    path = f"/v1/marketplace/claims/{claimed.json()['uid']}/submissions"
    body = {"platform": "instagram", "url": "https://instagram.com/p/abc123", "note": "live"}
    return Call(
        maker,
        path,
        body,
        path,
        {**body, "note": "another"},
        count_of("marketplace.content_submissions", "user_uid"),
        maker.id,
    )


async def a_payout_account(client: httpx.AsyncClient, database: Database) -> Call:
    payee = await account(client, roles=["creator"])
    return Call(
        payee,
        "/v1/payout-accounts",
        {"country": "US"},
        "/v1/payout-accounts",
        {"country": "DE"},
        count_of("payments.payout_accounts", "user_id"),
        payee.id,
    )


PLAN = {"name": "Gold", "amount": 5_00, "currency": "USD", "interval": "month"}


async def a_plan(client: httpx.AsyncClient, database: Database) -> Call:
    owner = await account(client, roles=["creator"])
    return Call(
        owner,
        "/v1/plans",
        PLAN,
        "/v1/plans",
        {**PLAN, "amount": 6_00},
        count_of("payments.plans", "owner_id"),
        owner.id,
    )


async def a_shoot(client: httpx.AsyncClient, database: Database) -> Call:
    me = await account(client, roles=["creator"])
    body = {"date": "2025-05-01", "brand_name": "Acme Studio", "campaign_name": "Summer drop"}
    return Call(
        me,
        "/v1/workspace/shoots",
        body,
        "/v1/workspace/shoots",
        {**body, "brand_name": "Other Studio"},
        count_of("workspace.shoots", "user_id"),
        me.id,
    )


async def an_upload(client: httpx.AsyncClient, database: Database) -> Call:
    me = await account(client, roles=["creator"])
    body = {"date": "2025-05-02", "platform": "instagram", "content_type": "Reel"}
    return Call(
        me,
        "/v1/workspace/uploads",
        body,
        "/v1/workspace/uploads",
        {**body, "platform": "tiktok"},
        count_of("workspace.uploads", "user_id"),
        me.id,
    )


async def a_block(client: httpx.AsyncClient, database: Database) -> Call:
    me = await account(client, roles=["creator"])
    body = {"start_date": "2026-03-01", "end_date": "2026-03-02", "reason": "holiday"}
    return Call(
        me,
        "/v1/workspace/calendar/blocks",
        body,
        "/v1/workspace/calendar/blocks",
        {**body, "end_date": "2026-03-03"},
        count_of("workspace.calendar", "user_id"),
        me.id,
    )


async def a_feed(client: httpx.AsyncClient, database: Database) -> Call:
    me = await account(client, roles=["creator"])
    # The route reads no body: a body is still part of the request the key was used for.
    return Call(
        me,
        "/v1/workspace/calendar/feed",
        None,
        "/v1/workspace/calendar/feed",
        {"name": "other"},
        count_of("workspace.calendar_feeds", "user_id"),
        me.id,
    )


async def a_review_link(client: httpx.AsyncClient, database: Database) -> Call:
    me = await account(client, roles=["creator"])
    first, second = await shoot(client, me), await shoot(client, me)
    return Call(
        me,
        f"/v1/workspace/shoots/{first}/review-link",
        None,
        f"/v1/workspace/shoots/{second}/review-link",
        None,
        count_of("workspace.review_links", "user_id"),
        me.id,
    )


async def a_funding(client: httpx.AsyncClient, database: Database) -> Call:
    payer = await account(client)
    body = {"amount": 10_00, "currency": "USD"}
    return Call(
        payer,
        "/v1/funding",
        body,
        "/v1/funding",
        {**body, "amount": 11_00},
        count_of("payments.funding_intents", "user_id"),
        payer.id,
    )


async def a_payment_method(client: httpx.AsyncClient, database: Database) -> Call:
    payer = await account(client, roles=["brand"])
    return Call(
        payer,
        "/v1/me/payment-methods",
        {"kind": "card"},
        "/v1/me/payment-methods",
        {"kind": "bank_account"},
        count_of("payments.payment_methods", "user_id"),
        payer.id,
    )


async def a_draw(client: httpx.AsyncClient, database: Database) -> Call:
    from draw_helpers import CONFIG

    host = await account(client)
    body = {"title": "A giveaway", "platform": "instagram", "config": CONFIG}
    return Call(
        host,
        "/v1/giveaways/draws",
        body,
        "/v1/giveaways/draws",
        {**body, "title": "Another giveaway"},
        count_of("giveaways.draws", "user_id"),
        host.id,
    )


async def a_blacklist_entry(client: httpx.AsyncClient, database: Database) -> Call:
    host = await account(client)
    return Call(
        host,
        "/v1/giveaways/blacklist",
        {"platform": "all", "username": "spammer"},
        "/v1/giveaways/blacklist",
        {"platform": "all", "username": "another"},
        count_of("giveaways.blacklist", "user_id"),
        host.id,
    )


async def a_credit_purchase(client: httpx.AsyncClient, database: Database) -> Call:
    buyer = await account(client)
    await fund_wallet(client, buyer.headers, 50_00)
    return Call(
        buyer,
        "/v1/giveaways/credits/purchases",
        {"pack": "single"},
        "/v1/giveaways/credits/purchases",
        {"pack": "five"},
        count_of("giveaways.credits", "user_id"),
        buyer.id,
    )


async def payee_with_funds(client: httpx.AsyncClient, funds: int) -> Account:
    payee = await account(client, roles=["creator"])
    made = await client.post("/v1/payout-accounts", json={"country": "US"}, headers=payee.headers)
    assert made.status_code == 201, made.text
    await fund_wallet(client, payee.headers, funds)
    return payee


async def a_payout(client: httpx.AsyncClient, database: Database) -> Call:
    payee = await payee_with_funds(client, 60_00)
    return Call(
        payee,
        "/v1/payouts",
        {"amount": 25_00},
        "/v1/payouts",
        {"amount": 24_00},
        count_of("payments.payouts", "user_id"),
        payee.id,
    )


async def an_admin_payout(client: httpx.AsyncClient, database: Database) -> Call:
    payee = await payee_with_funds(client, 15_00)
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    body = {"user_id": payee.id, "amount": 5_00, "reason": "closing account"}
    return Call(
        admin,
        "/v1/admin/payouts",
        body,
        "/v1/admin/payouts",
        {**body, "amount": 6_00},
        count_of("payments.payouts", "user_id"),
        payee.id,
    )


async def a_subscription(client: httpx.AsyncClient, database: Database) -> Call:
    owner = await account(client, roles=["creator"])
    plans = []
    for amount in (5_00, 7_00):
        made = await client.post(
            "/v1/plans", json={**PLAN, "amount": amount}, headers=owner.headers
        )
        assert made.status_code == 201, made.text
        plans.append(made.json()["id"])
    fan = await account(client)
    await fund_wallet(client, fan.headers, 50_00)
    return Call(
        fan,
        f"/v1/plans/{plans[0]}/subscriptions",
        None,
        f"/v1/plans/{plans[1]}/subscriptions",
        None,
        count_of("payments.subscriptions", "subscriber_id"),
        fan.id,
    )


async def a_claim(client: httpx.AsyncClient, database: Database) -> Call:
    owner = await brand(client, funds=600_00)
    first, second = await open_job(client, owner), await open_job(client, owner)
    maker = await audience_creator(client)
    return Call(
        maker,
        f"/v1/marketplace/jobs/{first['uid']}/claims",
        None,
        f"/v1/marketplace/jobs/{second['uid']}/claims",
        None,
        count_of("marketplace.influencer_jobs", "user_uid"),
        maker.id,
    )


async def a_campaign(client: httpx.AsyncClient, database: Database) -> Call:
    owner = await campaign_advertiser(client)
    return Call(
        owner,
        "/v1/campaigns",
        visibility_body(),
        "/v1/campaigns",
        visibility_body(title="Another campaign"),
        count_of("campaigns.campaigns", "advertiser_id"),
        owner.id,
    )


async def a_participation(client: httpx.AsyncClient, database: Database) -> Call:
    owner = await campaign_advertiser(client, funds=6_000)
    first, second = await funded_campaign(client, owner), await funded_campaign(client, owner)
    who = await promoter(client)
    return Call(
        who,
        f"/v1/campaigns/{first['id']}/join",
        None,
        f"/v1/campaigns/{second['id']}/join",
        None,
        count_of("campaigns.promoter_campaigns", "promoter_id"),
        who.id,
    )


async def an_application(client: httpx.AsyncClient, database: Database) -> Call:
    from work_helpers import funded_work_campaign

    owner = await campaign_advertiser(client, funds=200_000)
    first = await funded_work_campaign(client, owner, "seller")
    second = await funded_work_campaign(client, owner, "seller")
    who = await promoter(client)
    return Call(
        who,
        f"/v1/campaigns/{first['id']}/applications",
        {"proposed_rate": 30_000},
        f"/v1/campaigns/{second['id']}/applications",
        {"proposed_rate": 30_000},
        count_of("campaigns.campaign_applications", "promoter_id"),
        who.id,
    )


async def _accepted_application(client: httpx.AsyncClient) -> tuple[Account, Account, str]:
    from work_helpers import accept, apply, funded_work_campaign

    owner = await campaign_advertiser(client, funds=100_000)
    campaign = await funded_work_campaign(client, owner, "seller")
    who = await promoter(client)
    application = await apply(client, campaign["id"], who, 50_000)
    await accept(client, application["id"], owner)
    return owner, who, str(application["id"])


async def a_deliverable(client: httpx.AsyncClient, database: Database) -> Call:
    owner, _, application_id = await _accepted_application(client)
    path = f"/v1/campaign-applications/{application_id}/deliverables"
    return Call(
        owner,
        path,
        {"title": "First cut", "amount": 10_000},
        path,
        {"title": "Second cut", "amount": 10_000},
        count_of("campaigns.campaign_deliverables", "application_id"),
        application_id,
    )


async def a_work(client: httpx.AsyncClient, database: Database) -> Call:
    from work_helpers import agreed

    owner, who, application_id = await _accepted_application(client)
    first = await agreed(client, application_id, owner, who, 10_000)
    second = await agreed(client, application_id, owner, who, 20_000)
    links = {"links": ["https://drive.example.com/cut"]}
    return Call(
        who,
        f"/v1/campaign-deliverables/{first}/works",
        links,
        f"/v1/campaign-deliverables/{second}/works",
        links,
        count_of("campaigns.campaign_works", "promoter_id"),
        who.id,
    )


CREATES = [
    Create("/v1/campaigns", a_campaign),
    Create(
        "/v1/campaigns/{campaign_id}/join",
        a_participation,
        again_without_key=(409, "already_joined"),
    ),
    Create(
        "/v1/campaigns/{campaign_id}/applications",
        an_application,
        again_without_key=(409, "already_applied"),
    ),
    Create("/v1/campaign-applications/{application_id}/deliverables", a_deliverable),
    Create(
        "/v1/campaign-deliverables/{deliverable_id}/works",
        a_work,
        again_without_key=(409, "work_in_review"),
    ),
    Create("/v1/marketplace/jobs", a_job),
    Create(
        "/v1/marketplace/claims/{claim_uid}/submissions",
        a_submission,
        again_without_key=(409, "submission_pending"),
    ),
    Create(
        "/v1/payout-accounts", a_payout_account, again_without_key=(409, "payout_account_exists")
    ),
    Create("/v1/plans", a_plan),
    # Its answer carries the setup intent's client secret: stored sealed.
    Create("/v1/me/payment-methods", a_payment_method),
    Create("/v1/giveaways/draws", a_draw),
    Create(
        "/v1/giveaways/blacklist", a_blacklist_entry, again_without_key=(409, "blacklist_duplicate")
    ),
    Create("/v1/giveaways/credits/purchases", a_credit_purchase, required=True),
    Create("/v1/workspace/shoots", a_shoot),
    Create("/v1/workspace/uploads", an_upload),
    Create("/v1/workspace/calendar/blocks", a_block),
    Create("/v1/workspace/calendar/feed", a_feed),  # a second one revokes the first
    Create("/v1/workspace/shoots/{shoot_id}/review-link", a_review_link),  # likewise
    Create("/v1/funding", a_funding, required=True),
    Create("/v1/payouts", a_payout, required=True),
    Create("/v1/admin/payouts", an_admin_payout, required=True),
    Create("/v1/plans/{plan_id}/subscriptions", a_subscription, required=True),
    Create("/v1/marketplace/jobs/{job_uid}/claims", a_claim, required=True),
]

# Create routes that deliberately take no key, and why.
NOT_IDEMPOTENT = {
    # No account yet to scope a key to, and a retry cannot make a second account: the address
    # is unique, and a taken one is answered like a new one.
    "/v1/auth/register",
}
# POST routes that answer 200 and make something were looked at too and take no key: a retried
# `/v1/social/connections/{platform}/authorize` makes another short-lived OAuth state (the
# unused one expires), a retried webhook is deduplicated by the provider's event id, and the
# state changes (`/complete`, `/close`, `/cancel`, ...) are idempotent or money moves with keys.


def ids(create: Create) -> str:
    return create.route


async def send(
    client: httpx.AsyncClient,
    user: Account,
    path: str,
    body: dict[str, Any] | None,
    key: str | None,
    *,
    spelled_otherwise: bool = False,
) -> httpx.Response:
    headers = dict(user.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    if body is None:
        return await client.post(path, headers=headers)
    content = json.dumps(body, separators=(",", ":"))
    if spelled_otherwise:  # the same JSON with its keys reversed and spaced out
        content = json.dumps(dict(reversed(body.items())), indent=2)
    headers["Content-Type"] = "application/json"
    return await client.post(path, content=content, headers=headers)


async def made(database: Database, call: Call) -> int:
    return int(await scalar(database, call.count_sql, owner=call.owner))


async def keys_of(database: Database, user: Account, key: str) -> int:
    sql = "SELECT count(*) FROM api.idempotency_keys WHERE scope = :scope AND key = :key"
    return int(await scalar(database, sql, scope=user.id, key=key))


@pytest.mark.parametrize("create", CREATES, ids=ids)
async def test_a_retried_create_makes_one_object_and_replays_its_answer(
    client: httpx.AsyncClient, database: Database, create: Create
) -> None:
    call = await create.prepare(client, database)
    before = await made(database, call)
    key = str(uuid.uuid4())

    first = await send(client, call.user, call.path, call.body, key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await send(client, call.user, call.path, call.body, key, spelled_otherwise=True)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert await made(database, call) == before + 1

    other = await send(client, call.user, call.other_path, call.other_body, key)
    assert_problem(other, 422, "idempotency_key_reused", field="header.Idempotency-Key")
    assert await made(database, call) == before + 1
    assert await keys_of(database, call.user, key) == 1


@pytest.mark.parametrize("create", CREATES, ids=ids)
async def test_a_create_without_a_key(
    client: httpx.AsyncClient, database: Database, create: Create
) -> None:
    call = await create.prepare(client, database)
    before = await made(database, call)
    keys_before = await scalar(database, "SELECT count(*) FROM api.idempotency_keys")
    if create.required:
        refused = await send(client, call.user, call.path, call.body, None)
        assert_problem(refused, 400, "idempotency_key_required", field="header.Idempotency-Key")
        assert await made(database, call) == before
        return

    first = await send(client, call.user, call.path, call.body, None)
    assert first.status_code == 201, first.text
    second = await send(client, call.user, call.path, call.body, None)
    status, code = create.again_without_key
    if code is None:
        assert second.status_code == status, second.text
        assert "idempotent-replayed" not in second.headers
        assert second.content != first.content
        assert await made(database, call) == before + 2
    else:
        assert_problem(second, status, code)
        assert await made(database, call) == before + 1
    assert await scalar(database, "SELECT count(*) FROM api.idempotency_keys") == keys_before


def create_routes(app: FastAPI) -> dict[str, dict[str, Any]]:
    """The documented POST operations that answer 201, by path."""
    document = app.openapi()
    return {
        path: operations["post"]
        for path, operations in document["paths"].items()
        if "post" in operations and "201" in operations["post"]["responses"]
    }


def test_every_create_route_is_listed_and_documents_the_key(app: FastAPI) -> None:
    routes = create_routes(app)
    listed = {create.route for create in CREATES}
    assert set(routes) - NOT_IDEMPOTENT == listed, (
        "a create route is missing from CREATES (give it OptionalIdempotency, or Idempotency "
        "if it moves money, and list it), or a listed one is gone"
    )
    for create in CREATES:
        operation = routes[create.route]
        (header,) = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header"
        word = "Required." if create.required else "Optional:"
        assert header["description"].startswith(word), create.route
        assert "byte for byte" in header["description"]
        statuses = {"400", "409", "422"} if create.required else {"409", "422"}
        assert statuses <= set(operation["responses"]), create.route


# --- answers that carry a secret are stored sealed -------------------------------------------


async def test_a_secret_answer_is_stored_sealed_and_replayed_whole(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client, roles=["creator"])
    shoot_id = await shoot(client, me)
    for path in (f"/v1/workspace/shoots/{shoot_id}/review-link", "/v1/workspace/calendar/feed"):
        key = f"secret-{path}"
        first = await send(client, me, path, None, key)
        assert first.status_code == 201, first.text
        url: str = first.json()["url"]
        token = url.rsplit("/", 1)[1].removesuffix(".ics")
        stored = await scalar(
            database,
            "SELECT response_body::text FROM api.idempotency_keys WHERE key = :key",
            key=key,
        )
        assert token not in stored
        assert set(json.loads(stored)) == {"sealed", "key_id"}
        again = await send(client, me, path, None, key)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
    page = await client.get(urlpath(first.json()["url"]))
    assert page.status_code == 200  # the replayed feed URL is the live one


def urlpath(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def link_state(database: Database) -> Any:
    return await scalar(
        database,
        "SELECT json_build_array((SELECT count(*) FROM workspace.review_links),"
        " (SELECT count(*) FROM api.idempotency_keys), (SELECT count(*) FROM audit.audit_logs))",
    )


async def test_no_key_to_seal_with_refuses_before_doing_anything(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client, roles=["creator"])
    shoot_id = await shoot(client, me)
    path = f"/v1/workspace/shoots/{shoot_id}/review-link"
    # Production never falls back to the development key; here none is configured.
    app.state.settings = app.state.settings.model_copy(
        update={"environment": "production", "token_encryption_keys": None}
    )
    before = await link_state(database)
    refused = await send(client, me, path, None, "no-keyring")
    body = assert_problem(refused, 503, "idempotency_encryption_unavailable")
    assert "CREATORHUB_TOKEN_ENCRYPTION_KEYS" in body["detail"]
    assert await link_state(database) == before
    # Without a key nothing is stored, so nothing needs sealing: the link is made.
    plain = await send(client, me, path, None, None)
    assert plain.status_code == 201, plain.text


async def test_an_answer_whose_key_was_removed_is_refused_not_redone(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client, roles=["creator"])
    shoot_id = await shoot(client, me)
    path = f"/v1/workspace/shoots/{shoot_id}/review-link"
    old, new = f"old:{generate_key()}", f"new:{generate_key()}"
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"token_encryption_keys": SecretStr(old)})
    first = await send(client, me, path, None, "rotated")
    assert first.status_code == 201, first.text

    app.state.settings = settings.model_copy(update={"token_encryption_keys": SecretStr(new)})
    before = await link_state(database)
    refused = await send(client, me, path, None, "rotated")
    body = assert_problem(refused, 503, "idempotency_encryption_unavailable")
    assert "'old'" in body["detail"]
    assert await link_state(database) == before

    # The key back in the ring (as an operator would fix it): the first answer again.
    both = SecretStr(f"{new},{old}")
    app.state.settings = settings.model_copy(update={"token_encryption_keys": both})
    again = await send(client, me, path, None, "rotated")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
