"""The round-trip scenarios of the admin pages (issue 13): one successful request per page
operation, counted in a world of its own ("web_admin") by tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client, recorder `w.rec`, database); a page is called
through a signed-in browser: `async with signed_in_browser(w.app, who.email) as browser:` and
`with recording_in(w.rec, browser): await w.rec.call("GET", "/path", status=200)`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from helpers import account
from payment_helpers import fund_wallet
from web_helpers import csrf_of, recording_in, signed_in_browser


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def world(w: Any) -> None:
    """An administrator's browser over every admin page: an account found, its roles set, it
    suspended, its age check recorded; the ledger checked; a payee below the minimum paid out;
    a fee set; two past days rolled up; the logs read."""
    rec, client = w.rec, w.client
    target = await account(client, roles=["creator"])
    payee = await account(client, roles=["creator"])
    made = await client.post("/v1/payout-accounts", json={"country": "US"}, headers=payee.headers)
    assert made.status_code == 201, made.text
    await fund_wallet(client, payee.headers, 15_00)
    admin = await w.admin()
    async with signed_in_browser(w.app, admin.email, address=("203.0.113.50", 40050)) as browser:
        token = {"csrf_token": csrf_of((await browser.get("/admin/ledger")).text)}
        with recording_in(rec, browser):
            at = {"user_id": target.id}
            await rec.call("GET", "/admin/users", url="/admin/users?q=user")
            await rec.call("GET", "/admin/users/{user_id}", at=at)
            await rec.call(
                "POST",
                "/admin/users/{user_id}/roles",
                at=at,
                data={**token, "roles": ["creator", "brand"]},
                status=303,
            )
            await rec.call(
                "POST",
                "/admin/users/{user_id}/status",
                at=at,
                data={**token, "status": "suspended", "reason": "spam reports"},
                status=303,
            )
            await rec.call(
                "POST",
                "/admin/users/{user_id}/age-verification",
                at=at,
                data={**token, "method": "document_check", "result": "passed"},
                status=303,
            )

            await rec.call("GET", "/admin/ledger")
            await rec.call("POST", "/admin/ledger/verify", data=token)

            await rec.call("GET", "/admin/payouts")
            await rec.call(
                "POST",
                "/admin/payouts/release",
                data={
                    **token,
                    "user_id": payee.id,
                    "currency": "USD",
                    "amount": "15",
                    "reason": "closing the account",
                },
                status=303,
            )

            await rec.call("GET", "/admin/fees")
            await rec.call(
                "POST",
                "/admin/fees/{kind}",
                at={"kind": "tip"},
                data={**token, "basis_points": "290", "fixed_amount": "30"},
                status=303,
            )

            # Two past days (never today: a request after midnight would be refused).
            span = {"from": day(-2), "to": day(-1)}
            await rec.call(
                "GET",
                "/admin/analytics",
                url=f"/admin/analytics?from={span['from']}&to={span['to']}",
            )
            await rec.call("POST", "/admin/analytics/rollup", data={**token, **span}, status=303)

            await rec.call("GET", "/admin/logs")
