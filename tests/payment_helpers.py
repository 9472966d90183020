"""Shared steps of the payments tests: funded users, signed sandbox events, balances."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text

from creatorhub.db import Database
from creatorhub.payments.providers.sandbox import SIGNATURE_HEADER, make_event, sign

SANDBOX_SECRET = "whsec_sandbox_development_only"


def idem() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def signed(
    event: dict[str, Any], *, secret: str = SANDBOX_SECRET, at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    timestamp = int((at or datetime.now(UTC)).timestamp())
    return body, {
        SIGNATURE_HEADER: sign(secret, body, timestamp),
        "Content-Type": "application/json",
    }


def funding_event(
    reference: str, kind: str = "funding.succeeded", amount: int = 0
) -> dict[str, Any]:
    return make_event(
        kind, {"id": reference, "amount": amount, "currency": "usd"}, now=datetime.now(UTC)
    )


async def post_event(
    client: httpx.AsyncClient, event: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    body, headers = signed(event, **kwargs)
    return await client.post("/v1/webhooks/sandbox", content=body, headers=headers)


async def create_intent(
    client: httpx.AsyncClient, headers: dict[str, str], amount: int, currency: str = "USD"
) -> dict[str, Any]:
    response = await client.post(
        "/v1/funding",
        json={"amount": amount, "currency": currency},
        headers={**headers, **idem()},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def fund_wallet(
    client: httpx.AsyncClient, headers: dict[str, str], amount: int
) -> dict[str, Any]:
    """Fund through the real path: intent, confirm, the provider's signed webhook."""
    intent = await create_intent(client, headers, amount)
    confirmed = await client.post(
        f"/v1/funding/{intent['id']}/confirm", headers={**headers, **idem()}
    )
    assert confirmed.status_code == 200, confirmed.text
    response = await post_event(client, funding_event(intent["provider_reference"], amount=amount))
    assert response.status_code == 200, response.text
    return intent


async def wallet(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/wallet", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def count(database: Database, sql: str, **params: Any) -> int:
    async with database.session_scope() as session:
        return int((await session.execute(text(sql), params)).scalar_one())
