"""Money moves only for accounts with a verified e-mail address.

Every path that brings money in, reserves it or takes it out answers an unverified account
403 `email_not_verified` and changes nothing (no intent, no ledger transfer or hold, no
payout, payout account, subscription or claim); the same request passes once the address is
verified through the real flow (resend, then the mailed code).
"""

from __future__ import annotations

import httpx
from sqlalchemy import text

from creatorhub.db import Database
from helpers import Account, account, assert_problem, verify_email
from market_helpers import claim, create_job, creator, open_job, submit
from payment_helpers import fund_wallet, idem

TABLES = [
    "payments.funding_intents",
    "payments.payout_accounts",
    "payments.payouts",
    "payments.subscriptions",
    "ledger.transfers",
    "ledger.holds",
    "marketplace.claims",
    "marketplace.influencer_jobs",
    "marketplace.content_submissions",
    "marketplace.jobs",
    "api.idempotency_keys",
]


async def money_rows(database: Database) -> dict[str, object]:
    """Every row of the money tables, as JSON: a refusal leaves them exactly as they were."""
    async with database.session_scope() as session:
        return {
            # The table names are the constants above, not input.
            table: (
                await session.execute(
                    text(f"SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM {table} t")  # noqa: S608
                )
            ).scalar_one()
            for table in TABLES
        }


def assert_unverified(response: httpx.Response) -> None:
    problem = assert_problem(response, 403, "email_not_verified")
    assert "POST /v1/auth/verify-email/resend" in problem["detail"]


async def withdraw_verification(database: Database, who: Account) -> None:
    """Make a verified account unverified again. No route does this; it is how the tests reach
    the paths that need an earlier money step (an intent to confirm, a claim to approve)."""
    async with database.session_scope() as session:
        await session.execute(
            text("UPDATE identity.users SET email_verified_at = NULL WHERE id = CAST(:id AS uuid)"),
            {"id": who.id},
        )


async def reverify(client: httpx.AsyncClient, database: Database, who: Account) -> None:
    """What the refusal tells the user to do: ask for a new code, then confirm with it."""
    resent = await client.post("/v1/auth/verify-email/resend", headers=who.headers)
    assert resent.status_code == 202, resent.text
    await verify_email(client, who.email)
    me = await client.get("/v1/me", headers=who.headers)
    assert me.json()["email_verified"] is True


async def test_unverified_accounts_cannot_fund_subscribe_or_take_money_out(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await account(client, roles=["creator"])
    plan = await client.post(
        "/v1/plans",
        json={"name": "Gold", "amount": 5_00, "currency": "USD", "interval": "month"},
        headers=owner.headers,
    )
    assert plan.status_code == 201, plan.text
    fan = await account(client, roles=["creator", "fan"], verified=False)
    # Reading is allowed: the wallet, the plan.
    assert (await client.get("/v1/wallet", headers=fan.headers)).status_code == 200
    assert (
        await client.get(f"/v1/plans/{plan.json()['id']}", headers=fan.headers)
    ).status_code == 200

    before = await money_rows(database)
    refusals = [
        await client.post(
            "/v1/funding", json={"amount": 50_00, "currency": "USD"}, headers=fan.headers | idem()
        ),
        await client.post("/v1/payout-accounts", json={"country": "US"}, headers=fan.headers),
        await client.post("/v1/payouts", json={"amount": 20_00}, headers=fan.headers | idem()),
        await client.post(
            f"/v1/plans/{plan.json()['id']}/subscriptions", headers=fan.headers | idem()
        ),
    ]
    for response in refusals:
        assert_unverified(response)
    assert await money_rows(database) == before

    # The verification mail's code, as a person would use it: then every one of them passes.
    await verify_email(client, fan.email)
    await fund_wallet(client, fan.headers, 50_00)
    payout_account = await client.post(
        "/v1/payout-accounts", json={"country": "US"}, headers=fan.headers
    )
    assert payout_account.status_code == 201, payout_account.text
    payout = await client.post("/v1/payouts", json={"amount": 20_00}, headers=fan.headers | idem())
    assert payout.status_code == 201, payout.text
    subscribed = await client.post(
        f"/v1/plans/{plan.json()['id']}/subscriptions", headers=fan.headers | idem()
    )
    assert subscribed.status_code == 201, subscribed.text


async def test_confirming_a_funding_and_onboarding_need_the_verified_address_too(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await account(client, roles=["creator"])
    intent = await client.post(
        "/v1/funding", json={"amount": 30_00, "currency": "USD"}, headers=user.headers | idem()
    )
    assert intent.status_code == 201, intent.text
    payout_account = await client.post(
        "/v1/payout-accounts", json={"country": "US"}, headers=user.headers
    )
    assert payout_account.status_code == 201, payout_account.text
    await withdraw_verification(database, user)

    before = await money_rows(database)
    assert_unverified(
        await client.post(
            f"/v1/funding/{intent.json()['id']}/confirm", headers=user.headers | idem()
        )
    )
    assert_unverified(
        await client.post(
            f"/v1/payout-accounts/{payout_account.json()['id']}/onboarding-link",
            headers=user.headers,
        )
    )
    assert await money_rows(database) == before
    # What it may still see: its intent, its payout account.
    seen = await client.get(f"/v1/funding/{intent.json()['id']}", headers=user.headers)
    assert seen.json()["status"] == "requires_confirmation"

    await reverify(client, database, user)
    confirmed = await client.post(
        f"/v1/funding/{intent.json()['id']}/confirm", headers=user.headers | idem()
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "processing"
    link = await client.post(
        f"/v1/payout-accounts/{payout_account.json()['id']}/onboarding-link", headers=user.headers
    )
    assert link.status_code == 200, link.text


async def test_unverified_brands_cannot_fund_jobs_nor_creators_claim(
    client: httpx.AsyncClient, database: Database
) -> None:
    brand = await account(client, roles=["brand"], verified=False)
    # Writing a draft moves no money: allowed.
    draft = await create_job(client, brand, budget=90_00)
    before = await money_rows(database)
    for source in ("wallet", "provider"):
        assert_unverified(
            await client.post(
                f"/v1/marketplace/jobs/{draft['uid']}/fund",
                json={"source": source},
                headers=brand.headers | idem(),
            )
        )
    assert_unverified(
        await client.post(
            "/v1/funding",
            json={
                "amount": 90_00,
                "currency": "USD",
                "target_type": "job",
                "target_id": draft["uid"],
            },
            headers=brand.headers | idem(),
        )
    )
    assert await money_rows(database) == before

    await verify_email(client, brand.email)
    await fund_wallet(client, brand.headers, 90_00)
    funded = await client.post(
        f"/v1/marketplace/jobs/{draft['uid']}/fund",
        json={"source": "wallet"},
        headers=brand.headers | idem(),
    )
    assert funded.status_code == 200, funded.text

    worker = await account(client, roles=["creator"], verified=False)
    profile = await client.put(
        "/v1/me/creator-profile",
        json={"slug": "unverified-worker", "follower_estimates": {"instagram": 5_000}},
        headers=worker.headers,
    )
    assert profile.status_code == 200, profile.text
    before = await money_rows(database)
    assert_unverified(await claim(client, draft["uid"], worker))
    assert await money_rows(database) == before
    await verify_email(client, worker.email)
    assert (await claim(client, draft["uid"], worker)).status_code == 201


async def test_approving_pays_out_of_escrow_only_for_a_verified_brand(
    client: httpx.AsyncClient, database: Database
) -> None:
    brand = await account(client, roles=["brand"])
    await fund_wallet(client, brand.headers, 300_00)
    job = await open_job(client, brand)
    worker = await creator(client)
    slot = (await claim(client, job["uid"], worker)).json()
    assert (await submit(client, slot["uid"], worker)).status_code == 201
    await withdraw_verification(database, brand)

    before = await money_rows(database)
    refused = await client.post(
        f"/v1/marketplace/claims/{slot['uid']}/approve", headers=brand.headers | idem()
    )
    assert_unverified(refused)
    assert await money_rows(database) == before

    await reverify(client, database, brand)
    approved = await client.post(
        f"/v1/marketplace/claims/{slot['uid']}/approve", headers=brand.headers | idem()
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["payout"] is not None
