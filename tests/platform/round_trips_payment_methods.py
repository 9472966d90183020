"""The round-trip scenarios of saved payment methods (issue 15): one successful request per
operation, counted by tests/platform/test_round_trips.py in worlds of their own:
"payment_methods" (the API: a brand saves a sandbox card, which the provider's signed event
activates, lists it, moves the default, removes one) and "web_payment_methods" (the page)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from creatorhub.payments.providers.base import EventKind
from creatorhub.payments.providers.sandbox import make_event
from helpers import account, scalar
from payment_helpers import post_event

BASE = "/v1/me/payment-methods"


async def _activate(w: Any, method_id: str, last4: str = "4242") -> None:
    """The sandbox's setup.succeeded for the method, as its job would deliver it (the worlds
    run no worker)."""
    reference = await scalar(
        w.database,
        "SELECT setup_reference FROM payments.payment_methods WHERE id = CAST(:id AS uuid)",
        id=method_id,
    )
    method = {
        "id": f"sbx_pm_{last4}_{reference.rsplit('_', 1)[-1]}",
        "type": "card",
        "brand": "visa",
        "last4": last4,
        "exp_month": 12,
        "exp_year": 2030,
    }
    event = make_event(
        EventKind.SETUP_SUCCEEDED,
        {"id": reference, "payment_method": method},
        now=datetime.now(UTC),
    )
    response = await post_event(w.client, event)
    assert response.json()["outcome"] == "applied_active", response.text


async def world(w: Any) -> None:
    rec, client = w.rec, w.client
    payer = await account(client, roles=["brand"])
    earlier = await client.post(BASE, headers=payer.headers)  # the default, once active
    assert earlier.status_code == 201, earlier.text
    await _activate(w, earlier.json()["id"])

    created = (await rec.call("POST", BASE, json={"kind": "card"}, headers=payer.headers)).json()
    at = {"method_id": created["id"]}
    await rec.call(
        "POST",
        f"{BASE}/{{method_id}}/confirm",
        at=at,
        json={"last4": "4444"},
        headers=payer.headers,
    )
    await _activate(w, created["id"], "4444")
    await rec.call("GET", BASE, headers=payer.headers)
    await rec.call("GET", f"{BASE}/{{method_id}}", at=at, headers=payer.headers)
    await rec.call("POST", f"{BASE}/{{method_id}}/default", at=at, headers=payer.headers)
    await rec.call("DELETE", f"{BASE}/{{method_id}}", at=at, headers=payer.headers)


async def pages_world(w: Any) -> None:
    from web_helpers import csrf_of, recording_in, signed_in_browser

    rec, client = w.rec, w.client
    payer = await account(client, roles=["brand"])
    for _ in range(2):
        made = await client.post(BASE, headers=payer.headers)
        assert made.status_code == 201, made.text
        await _activate(w, made.json()["id"])
    # Newest first: the newer one is not the default yet.
    newer, older = (m["id"] for m in (await client.get(BASE, headers=payer.headers)).json())
    async with signed_in_browser(w.app, payer.email) as browser:
        with recording_in(rec, browser):
            token = csrf_of((await rec.call("GET", "/payment-methods")).text)
            form = {"csrf_token": token}
            await rec.call("POST", "/payment-methods", data={**form, "last4": "4242"}, status=303)
            await rec.call(
                "POST",
                "/payment-methods/{method_id}/default",
                at={"method_id": newer},
                data=form,
                status=303,
            )
            await rec.call(
                "POST",
                "/payment-methods/{method_id}/remove",
                at={"method_id": older},
                data=form,
                status=303,
            )
