"""Seed 002's payment tables, read as the views of what payments records (migration 0020):
each row says the same as the record it is a view of, after real flows through the API (a
sandbox top-up and its webhook, a campaign funded from the wallet, another through a provider
charge and ended, a payout paid)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import text

import campaign_helpers
from creatorhub.db import Database
from helpers import account
from payment_helpers import fund_wallet, funding_event, idem, post_event, wallet


async def rows(database: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with database.read_scope() as session:
        return [dict(r) for r in (await session.execute(text(sql), params)).mappings().all()]


async def test_the_seeds_payment_tables_show_what_payments_records(
    client: httpx.AsyncClient, database: Database, run_jobs: Callable[[], Awaitable[None]]
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=campaign_helpers.DEFAULT_BUDGET)
    from_wallet = await campaign_helpers.funded_campaign(client, owner)
    by_card = await campaign_helpers.create_campaign(client, owner)
    intent = (await campaign_helpers.fund(client, by_card["id"], owner, source="provider")).json()
    reference = intent["funding_intent"]["provider_reference"]
    event = funding_event(reference, amount=campaign_helpers.DEFAULT_BUDGET)
    assert (await post_event(client, event)).status_code == 200
    assert (await campaign_helpers.end(client, by_card["id"], owner)).status_code == 200

    # stripe_payment_intents: the wallet top-up and the campaign's charge, as recorded.
    intents = await rows(
        database,
        "SELECT target_type, campaign_id::text, amount, status, stripe_payment_intent_id"
        " FROM campaigns.stripe_payment_intents WHERE user_id = :u ORDER BY created_at",
        u=owner.id,
    )
    assert [(r["target_type"], r["campaign_id"], r["amount"], r["status"]) for r in intents] == [
        ("wallet", None, campaign_helpers.DEFAULT_BUDGET, "succeeded"),
        ("campaign", by_card["id"], campaign_helpers.DEFAULT_BUDGET, "succeeded"),
    ]
    assert intents[1]["stripe_payment_intent_id"] == reference

    # advertiser_charges: each funded budget, the charge behind it, what came back.
    charges = await rows(
        database,
        "SELECT campaign_id::text, amount, refunded_amount, funding_source,"
        " stripe_payment_intent_id, status FROM campaigns.advertiser_charges"
        " WHERE advertiser_id = :u ORDER BY created_at",
        u=owner.id,
    )
    assert charges == [
        {
            "campaign_id": from_wallet["id"],
            "amount": campaign_helpers.DEFAULT_BUDGET,
            "refunded_amount": 0,
            "funding_source": "wallet",
            "stripe_payment_intent_id": None,
            "status": "succeeded",
        },
        {
            "campaign_id": by_card["id"],
            "amount": campaign_helpers.DEFAULT_BUDGET,
            "refunded_amount": campaign_helpers.DEFAULT_BUDGET,
            "funding_source": "provider",
            "stripe_payment_intent_id": reference,
            "status": "succeeded",
        },
    ]

    # stripe_webhook_events: the provider's events as received, each once.
    events = await rows(
        database,
        "SELECT stripe_event_id, outcome FROM campaigns.stripe_webhook_events"
        " WHERE object_reference = :r",
        r=reference,
    )
    assert len(events) == 1 and events[0]["stripe_event_id"] == event["id"]

    # A promoter paid out: stripe_connect_accounts, payout_records, stripe_transfers, wallets.
    creator = await account(client, roles=["creator"])
    opened = await client.post(
        "/v1/payout-accounts", json={"country": "US"}, headers=creator.headers
    )
    assert opened.status_code == 201, opened.text
    await fund_wallet(client, creator.headers, 50_00)
    created = await client.post(
        "/v1/payouts", json={"amount": 30_00}, headers={**creator.headers, **idem()}
    )
    assert created.status_code == 201, created.text
    await run_jobs()
    (connect,) = await rows(
        database,
        "SELECT stripe_account_id, payouts_enabled FROM campaigns.stripe_connect_accounts"
        " WHERE user_id = :u",
        u=creator.id,
    )
    assert connect == {
        "stripe_account_id": opened.json()["provider_reference"],
        "payouts_enabled": True,
    }
    payout_id = created.json()["id"]
    (record,) = await rows(
        database,
        "SELECT id::text, amount, threshold_amount, status, stripe_transfer_id"
        " FROM campaigns.payout_records WHERE user_id = :u",
        u=creator.id,
    )
    assert record == {
        "id": payout_id,
        "amount": 30_00,
        "threshold_amount": 20_00,
        "status": "paid",
        "stripe_transfer_id": f"sbx_tr_{payout_id.replace('-', '')}",
    }
    (transfer,) = await rows(
        database,
        "SELECT payout_record_id::text, destination_account_id, amount, stripe_transfer_id"
        " FROM campaigns.stripe_transfers WHERE user_id = :u",
        u=creator.id,
    )
    assert transfer == {
        "payout_record_id": payout_id,
        "destination_account_id": connect["stripe_account_id"],
        "amount": 30_00,
        "stripe_transfer_id": record["stripe_transfer_id"],
    }
    for who in (owner, creator):
        (shown,) = await rows(
            database,
            "SELECT current_balance, pending_balance FROM campaigns.wallets"
            " WHERE user_id = :u AND currency = 'USD'",
            u=who.id,
        )
        assert shown["current_balance"] == (await wallet(client, who.headers))["available"]
        assert shown["pending_balance"] == 0
