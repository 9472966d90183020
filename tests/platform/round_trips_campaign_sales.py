"""The round-trip scenarios of salesman campaigns (issue 15): one successful request per
operation, counted in a world of its own ("campaign_sales") by tests/platform/test_round_trips.py.

The shop's webhook is counted for a new sale (its commission held on the escrow), the hot path
of the shop's reporting; the referral link for a click (one statement).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import campaign_helpers
from creatorhub.payments.providers.sandbox import sign


async def world(w: Any) -> None:
    rec, client = w.rec, w.client
    owner = await campaign_helpers.advertiser(client, funds=10_000)
    body = {
        "type": "salesman",
        "title": "Round trips",
        "budget": 10_000,
        "commission_per_sale": 1_000,
        "tracking_method": "ref_link",
        "destination_url": "https://shop.example.com/round-trips",
        "cpv": None,
        "max_views": None,
    }
    campaign = await campaign_helpers.funded_campaign(client, owner, **body)
    at = {"campaign_id": campaign["id"]}
    promoter = await campaign_helpers.promoter(client)
    code = (await campaign_helpers.join(client, campaign["id"], promoter))["tracking_code"]
    await rec.call("GET", "/r/{code}", at={"code": code}, status=302)
    secret = await rec.call(
        "POST", "/v1/campaigns/{campaign_id}/sales-webhook-secret", at=at, headers=owner.headers
    )
    await rec.call(
        "PUT",
        "/v1/campaigns/{campaign_id}/coupon",
        at=at,
        json={"code": "ROUND10"},
        headers=promoter.headers,
    )
    raw = json.dumps(
        {"type": "sale", "order_id": "r-1", "amount": 5_000, "currency": "USD", "coupon": "ROUND10"}
    ).encode()
    signature = sign(secret.json()["secret"], raw, int(datetime.now(UTC).timestamp()))
    await rec.call(
        "POST",
        "/v1/campaigns/{campaign_id}/sales-events",
        at=at,
        content=raw,
        headers={"Creatorhub-Signature": signature, "Content-Type": "application/json"},
    )
    await rec.call(
        "POST",
        "/v1/campaigns/{campaign_id}/sales/import",
        at=at,
        content=b"order_id,amount,currency,coupon\nr-2,3000,USD,ROUND10\n",
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    await rec.call("GET", "/v1/campaigns/{campaign_id}/sales", at=at, headers=owner.headers)
    await rec.call("GET", "/v1/campaign-sales", headers=promoter.headers)
