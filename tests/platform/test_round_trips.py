"""Round trips to PostgreSQL per request, pinned for every operation of the app (issue 12).

Every operation (each method and path of the OpenAPI document, and the routes outside it: the
HTML pages, the calendar feed, the docs, static files) has one scenario that makes it succeed
(its 2xx), and the round trips of that one request are counted with `tests/round_trips.py`
(statements, the BEGIN before a transaction's first one, COMMIT/ROLLBACK, pool pre-pings). The
counts are pinned, one line per operation, in `round_trip_pins.py`. A test fails

* when an operation has no pin, or a pin no operation (`test_every_operation_has_a_pin`): a new
  route gets a scenario and a pin;
* when a count differs from its pin (`test_round_trips`), printing the statements sent, so the
  reader sees which one is new;
* when a group's scenarios count other operations than the group's pins
  (`test_scenarios_count_exactly_the_pinned_operations`).

**Re-pinning** is deliberate: run

    CREATORHUB_REPIN=1 .venv/bin/pytest -n 0 tests/platform/test_round_trips.py

and instead of failing on a count, the run writes the measured table to
`tests/platform/round_trip_pins.py.new` (every group it measured; the others as pinned) and
reports each changed pin as a skipped test with the old and new count. Read
`diff -u tests/platform/round_trip_pins.py tests/platform/round_trip_pins.py.new`, then move
the file over the pins and commit it with the change that moved the counts.

**Budgets** (issue 12) are upper bounds, checked apart from the pins so that they hold whatever
the pins say: authentication is one statement, sent once per authenticated request; an
authenticated read (a GET needing a token) is at most 3 round trips; `POST /v1/funding` at most
5; a marketplace claim at most 7; the webhook that credits a wallet at most 6. A budget missed
today is a strict xfail (the operation is in `READS_OVER_BUDGET` or `HOT_PATHS_OVER_BUDGET`;
the reason gives today's count, from the pins): it fails the run the moment the budget is met
and the operation is still listed, so it leaves the list with the change that met the budget.

**Scenarios** run in groups ("worlds"): one database and one app per group, set up through the
API and the test helpers, then each operation of the group called once inside `counting()`.
A world is built once per test process, on first use, and only its measurements are kept; the
tests of a group share an xdist group (`--dist loadgroup`), so one worker builds it. Counts are
deterministic: the app runs no job worker (the conftest's settings), nothing waits on time, and
before each counted request the pool holds idle connections that have been used before, so each
checkout is a reused connection as in a running server, never a fresh one (which skips the
pre-ping while there is one, so a count would depend on what ran before).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg import sql
from round_trip_pins import PINS
from round_trips_admin_pages import world as admin_pages_world
from round_trips_campaign_billing import pages_world as statements_pages_world
from round_trips_campaign_billing import world as campaign_billing_world
from round_trips_campaign_pages import world as campaign_pages_world
from round_trips_campaign_sales import world as campaign_sales_world
from round_trips_campaign_sales_pages import world as campaign_sales_pages_world
from round_trips_campaign_settlement import world as campaign_settlement_world
from round_trips_campaign_tracking import world as campaign_tracking_world
from round_trips_campaign_work import world as campaign_work_world
from round_trips_campaign_work_pages import world as campaign_work_pages_world
from round_trips_campaigns import world as campaigns_world
from round_trips_creator_pages import world as creator_pages_world
from round_trips_giveaway_pages import world as giveaway_pages_world
from round_trips_giveaways import world as giveaways_world
from round_trips_payment_methods import pages_world as payment_methods_pages_world
from round_trips_payment_methods import world as payment_methods_world
from round_trips_settings_pages import world as settings_pages_world
from round_trips_studio_pages import world as studio_pages_world
from sqlalchemy.engine import make_url
from starlette.routing import Mount, Route

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.db import Database
from creatorhub.embedded_db import replace_database
from creatorhub.ledger.verify import verify
from helpers import PASSWORD, Account, account, grant_roles, login, mailed_token, unique_email
from market_helpers import brand, claim, job_body, open_job, submit
from market_helpers import creator as market_creator
from payment_helpers import fund_wallet, funding_event, idem, signed
from review_helpers import creator as portfolio_creator
from review_helpers import review_form, review_link, shoot
from round_trips import RoundTripCounter, Trips
from social.fake_platforms import FakePlatforms, fake_platforms
from web_helpers import csrf_of, recording_in, signed_in_browser

__all__ = ["fake_platforms"]

Operation = tuple[str, str]

REPIN = os.environ.get("CREATORHUB_REPIN", "") not in ("", "0")
PINS_FILE = Path(__file__).with_name("round_trip_pins.py")
REPINNED_FILE = PINS_FILE.with_name(PINS_FILE.name + ".new")

# What every transaction sends around its statements: not part of what a route asks for.
FRAMING = frozenset({"BEGIN", "COMMIT", "ROLLBACK", ";"})

# Idle connections kept in the pool before each counted request: more than any one request
# holds at once (the request's own, plus one for a refusal logged in its own transaction).
WARM_CONNECTIONS = 3

AUTHENTICATED_READ_BUDGET = 3
FUNDING_BUDGET = 5
CLAIM_BUDGET = 7
CREDITING_WEBHOOK_BUDGET = 6
FUNDING: Operation = ("POST", "/v1/funding")
CLAIM: Operation = ("POST", "/v1/marketplace/jobs/{job_uid}/claims")
WEBHOOK: Operation = ("POST", "/v1/webhooks/{provider}")

# Operations over their budget today: strict xfails (the reason gives today's count, from the
# pins). An operation leaves these sets with the change that brings it within its budget; none
# joins them: a re-pin never relaxes a budget.
READS_OVER_BUDGET: frozenset[Operation] = frozenset()
HOT_PATHS_OVER_BUDGET: frozenset[Operation] = frozenset()


# --- the app's operations -------------------------------------------------------------------------


def _app_for_inspection() -> FastAPI:
    # Routes and the OpenAPI document only: the app connects to its database when it starts,
    # which this one never does.
    return create_app(make_settings("postgresql://unused@127.0.0.1:1/unused"))


def _routes(routes: list[Any]) -> list[Any]:
    """Every route, those of included routers too (FastAPI keeps an included router whole, as
    `original_router`)."""
    found: list[Any] = []
    for route in routes:
        if hasattr(route, "original_router"):
            found.extend(_routes(route.original_router.routes))
        else:
            found.append(route)
    return found


def app_operations(app: FastAPI) -> dict[Operation, dict[str, Any]]:
    """(method, path) of every operation, with its OpenAPI operation ({} outside the document).

    The document's operations, then every route outside it: pages, the calendar feed, the docs
    and `/metrics` (Starlette adds HEAD to a GET route of its own, and the feed declares it);
    a static mount as GET `<mount>/{path}`.
    """
    operations: dict[Operation, dict[str, Any]] = {}
    for path, methods in app.openapi()["paths"].items():
        for method, operation in methods.items():
            operations[(method.upper(), path)] = operation
    for route in _routes(app.routes):
        if isinstance(route, Mount):
            operations.setdefault(("GET", f"{route.path}/{{path}}"), {})
        elif isinstance(route, Route):
            for method in route.methods or ():
                operations.setdefault((method, route.path), {})
    return operations


INSPECTED = _app_for_inspection()
OPERATIONS = app_operations(INSPECTED)


def needs_token(operation: Operation) -> bool:
    return bool(OPERATIONS.get(operation, {}).get("security"))


def success_status(operation: Operation) -> int:
    """The one 2xx status the document gives the operation (200 for routes outside it)."""
    responses = OPERATIONS.get(operation, {}).get("responses", {"200": {}})
    successes = [int(code) for code in responses if code.startswith("2")]
    assert len(successes) == 1, f"{operation}: several successes {successes}; pass status="
    return successes[0]


def pinned(group: str | None = None) -> dict[Operation, int]:
    if group is not None:
        return dict(PINS.get(group, {}))
    return {op: count for ops in PINS.values() for op, count in ops.items()}


def group_of(operation: Operation) -> str:
    [group] = [name for name, ops in PINS.items() if operation in ops]
    return group


# --- counting one request -------------------------------------------------------------------------


class Recorder:
    """Calls operations through the app and keeps the round trips of each."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.database: Database = app.state.db
        self.counter = RoundTripCounter.install(self.database.engine)
        self.client = client
        self.trips: dict[Operation, Trips] = {}
        self.auth_statements: list[str] | None = None

    async def warm_pool(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(WARM_CONNECTIONS):
                await stack.enter_async_context(self.database.engine.connect())

    async def call(
        self,
        method: str,
        template: str,
        *,
        at: dict[str, Any] | None = None,
        url: str | None = None,
        status: int | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Call `method template` (path parameters from `at`, or the whole `url`) once, counted;
        the answer must be the operation's success status."""
        operation = (method, template)
        assert operation not in self.trips, f"{method} {template} counted twice"
        headers = kwargs.get("headers") or {}
        if "Authorization" in headers and self.auth_statements is None:
            await self._probe_authentication(headers)
        await self.warm_pool()
        with self.counter.counting() as trips:
            response = await self.client.request(
                method, url or template.format(**(at or {})), **kwargs
            )
        expected = status or success_status(operation)
        assert response.status_code == expected, (
            f"{method} {template}: {response.status_code}, not {expected}: {response.text[:800]}"
        )
        self.trips[operation] = trips
        return response

    async def _probe_authentication(self, headers: dict[str, str]) -> None:
        """What authentication alone sends: `GET /v1/me/status` reads nothing but the token."""
        await self.warm_pool()
        with self.counter.counting() as trips:
            response = await self.client.get("/v1/me/status", headers=headers)
        assert response.status_code == 200, response.text
        self.auth_statements = [s for s in trips.statements if s not in FRAMING]


@dataclass
class Measured:
    """What a world's scenarios counted: round trips per operation, and authentication's own
    statements (to find them in every authenticated request)."""

    trips: dict[Operation, Trips]
    auth_statements: list[str]


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    rec: Recorder
    database: Database
    fake: FakePlatforms

    async def admin(self) -> Account:
        who = await account(self.client)
        await grant_roles(self.database, who.id, "admin")
        return who


# --- the worlds: one scenario per operation -------------------------------------------------------


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def identity_world(w: World) -> None:
    rec, client, db = w.rec, w.client, w.database
    new_password = "another horse battery 2"

    email = unique_email("rt-register")
    await rec.call(
        "POST",
        "/v1/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": "Round Trip"},
    )
    tokens = (
        await rec.call("POST", "/v1/auth/login", json={"email": email, "password": PASSWORD})
    ).json()
    fresh = {"Authorization": f"Bearer {tokens['access_token']}"}
    await rec.call("POST", "/v1/auth/verify-email/resend", headers=fresh)
    code = await mailed_token(db, email, "verify_email")
    await rec.call("POST", "/v1/auth/verify-email", json={"token": code})
    await rec.call("POST", "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    second = await login(client, email)
    await rec.call(
        "POST", "/v1/auth/logout", headers={"Authorization": f"Bearer {second['access_token']}"}
    )

    # The verification page: a GET shows the form, its POST verifies.
    unverified = await account(client, verified=False)
    code = await mailed_token(db, unverified.email, "verify_email")
    await rec.call("GET", "/verify-email", url=f"/verify-email?token={code}")
    await rec.call("POST", "/verify-email", data={"token": code})

    # The caller's account: a creator with a profile.
    me = await account(client, roles=["creator"])
    slug = f"rt-creator-{me.id[:8]}"
    await rec.call(
        "PUT",
        "/v1/me/creator-profile",
        json={"slug": slug, "categories": ["Music"], "follower_estimates": {"instagram": 900}},
        headers=me.headers,
    )
    await rec.call("GET", "/v1/me", headers=me.headers)
    await rec.call("PATCH", "/v1/me", json={"bio": "Songs and reels"}, headers=me.headers)
    await rec.call("GET", "/v1/me/status", headers=me.headers)
    await rec.call("GET", "/v1/users/{user_id}", at={"user_id": me.id}, headers=me.headers)
    await rec.call(
        "PATCH",
        "/v1/users/{user_id}",
        at={"user_id": me.id},
        json={"display_name": "Round Trip Creator"},
        headers=me.headers,
    )
    await rec.call("GET", "/v1/creators/{slug}", at={"slug": slug})
    company = await account(client, roles=["brand"])
    await rec.call(
        "PUT",
        "/v1/me/brand-profile",
        json={"company_name": "Acme Records", "business_categories": ["Music"]},
        headers=company.headers,
    )

    mover = await account(client)
    await rec.call(
        "POST",
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=mover.headers,
    )

    # An e-mail change, confirmed through the API, then another through its page.
    changer = await account(client)
    new_email = unique_email("rt-changed")
    await rec.call(
        "POST",
        "/v1/me/email",
        json={"new_email": new_email, "current_password": PASSWORD},
        headers=changer.headers,
    )
    code = await mailed_token(db, new_email, "change_email")
    await rec.call("POST", "/v1/auth/confirm-email-change", json={"token": code})
    page_email = unique_email("rt-changed-page")
    response = await client.post(
        "/v1/me/email",
        json={"new_email": page_email, "current_password": PASSWORD},
        headers=changer.headers,
    )
    assert response.status_code == 202, response.text
    code = await mailed_token(db, page_email, "change_email")
    await rec.call("GET", "/confirm-email-change", url=f"/confirm-email-change?token={code}")
    await rec.call("POST", "/confirm-email-change", data={"token": code})

    # A password reset through the API, then another through its page.
    forgetful = await account(client)
    await rec.call("POST", "/v1/auth/password-reset", json={"email": forgetful.email})
    code = await mailed_token(db, forgetful.email, "reset_password")
    await rec.call(
        "POST",
        "/v1/auth/password-reset/confirm",
        json={"token": code, "new_password": new_password},
    )
    response = await client.post("/v1/auth/password-reset", json={"email": forgetful.email})
    assert response.status_code == 202, response.text
    code = await mailed_token(db, forgetful.email, "reset_password")
    await rec.call("GET", "/reset-password", url=f"/reset-password?token={code}")
    await rec.call(
        "POST",
        "/reset-password",
        data={"token": code, "new_password": PASSWORD, "confirm_password": PASSWORD},
    )

    leaving = await account(client)
    await rec.call(
        "POST", "/v1/me/delete", json={"current_password": PASSWORD}, headers=leaving.headers
    )

    # Staff: an administrator on another account, then the trails that recorded it all.
    admin = await w.admin()
    target = await account(client)
    await rec.call(
        "PUT",
        "/v1/admin/users/{user_id}/roles",
        at={"user_id": target.id},
        json={"roles": ["creator", "brand"]},
        headers=admin.headers,
    )
    await rec.call(
        "POST",
        "/v1/admin/users/{user_id}/age-verification",
        at={"user_id": target.id},
        json={"method": "document_check", "result": "passed"},
        headers=admin.headers,
    )
    await rec.call(
        "POST",
        "/v1/admin/users/{user_id}/status",
        at={"user_id": target.id},
        json={"status": "suspended", "reason": "spam"},
        headers=admin.headers,
    )
    await rec.call("GET", "/v1/admin/audit-logs", headers=admin.headers)
    await rec.call("GET", "/v1/admin/system-logs", headers=admin.headers)
    await web_account_pages(w)


async def web_account_pages(w: World) -> None:
    """The web app's account pages, in a browser of their own (its cookie jar)."""
    rec = w.rec
    transport = httpx.ASGITransport(app=w.app, client=("203.0.113.8", 40000))
    api_client = rec.client
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        rec.client = browser
        try:
            email = unique_email("rt-page")
            token = csrf_of((await rec.call("GET", "/register")).text)
            form = {"csrf_token": token, "email": email, "password": PASSWORD}
            await rec.call(
                "POST",
                "/register",
                data={**form, "display_name": "Page", "roles": ["creator", "brand"]},
                status=303,
            )
            await rec.call("GET", "/login")
            await rec.call("POST", "/login", data=form, status=303)
            token = csrf_of((await rec.call("GET", "/account")).text)
            await rec.call(
                "POST", "/account/role", data={"role": "creator", "csrf_token": token}, status=303
            )
            await rec.call("POST", "/account/verify-email", data={"csrf_token": token}, status=303)
            await rec.call("POST", "/logout", data={"csrf_token": token}, status=303)
            token = csrf_of((await rec.call("GET", "/forgot-password")).text)
            await rec.call(
                "POST",
                "/forgot-password",
                data={"csrf_token": token, "email": email},
                status=303,
            )
        finally:
            rec.client = api_client


async def web_funds_pages(w: World) -> None:
    """A brand's wallet top-up on the pages: the form, the sandbox checkout, paying."""
    rec = w.rec
    payer = await account(w.client, roles=["brand"])
    await fund_wallet(w.client, payer.headers, 20_00)  # an earlier payment on the form's list
    async with signed_in_browser(w.app, payer.email) as browser:
        with recording_in(rec, browser):
            token = csrf_of((await rec.call("GET", "/wallet/add-funds")).text)
            form = {"csrf_token": token, "amount": "80", "currency": "USD"}
            started = await rec.call("POST", "/wallet/add-funds", data=form, status=303)
            at = {"intent_id": started.headers["location"].rsplit("/", 1)[-1]}
            await rec.call("GET", "/wallet/add-funds/{intent_id}", at=at)
            pay = {"csrf_token": token}
            await rec.call("POST", "/wallet/add-funds/{intent_id}/pay", at=at, data=pay, status=303)


async def payments_world(w: World) -> None:
    rec, client = w.rec, w.client
    await web_funds_pages(w)

    # Funding: intent, confirmation, the provider's webhook crediting the wallet.
    payer = await account(client)
    await fund_wallet(client, payer.headers, 20_00)  # a second intent and transaction to list
    intent = (
        await rec.call(
            "POST",
            "/v1/funding",
            json={"amount": 80_00, "currency": "USD"},
            headers={**payer.headers, **idem()},
        )
    ).json()
    await rec.call(
        "POST",
        "/v1/funding/{intent_id}/confirm",
        at={"intent_id": intent["id"]},
        headers={**payer.headers, **idem()},
    )
    body, signature = signed(funding_event(intent["provider_reference"], amount=80_00))
    await rec.call(
        "POST",
        "/v1/webhooks/{provider}",
        at={"provider": "sandbox"},
        content=body,
        headers=signature,
    )
    await rec.call("GET", "/v1/funding", headers=payer.headers)
    await rec.call(
        "GET", "/v1/funding/{intent_id}", at={"intent_id": intent["id"]}, headers=payer.headers
    )
    shown = (await rec.call("GET", "/v1/wallet", headers=payer.headers)).json()
    assert shown["available"] == 100_00, shown  # the webhook credited the wallet
    await rec.call("GET", "/v1/wallet/transactions", headers=payer.headers)

    # Payouts: an account with the sandbox provider, a payout, its cancellation.
    payee = await account(client, roles=["creator"])
    created = (
        await rec.call("POST", "/v1/payout-accounts", json={"country": "US"}, headers=payee.headers)
    ).json()
    where = {"account_id": created["id"]}
    await rec.call("GET", "/v1/payout-accounts", headers=payee.headers)
    await rec.call("GET", "/v1/payout-accounts/{account_id}", at=where, headers=payee.headers)
    await rec.call(
        "POST", "/v1/payout-accounts/{account_id}/onboarding-link", at=where, headers=payee.headers
    )
    await rec.call(
        "POST", "/v1/payout-accounts/{account_id}/refresh", at=where, headers=payee.headers
    )
    await fund_wallet(client, payee.headers, 60_00)
    payout = (
        await rec.call(
            "POST", "/v1/payouts", json={"amount": 30_00}, headers={**payee.headers, **idem()}
        )
    ).json()
    await rec.call("GET", "/v1/payouts", headers=payee.headers)
    await rec.call(
        "GET", "/v1/payouts/{payout_id}", at={"payout_id": payout["id"]}, headers=payee.headers
    )
    await rec.call(
        "POST",
        "/v1/payouts/{payout_id}/cancel",
        at={"payout_id": payout["id"]},
        headers={**payee.headers, **idem()},
    )
    admin = await w.admin()
    await rec.call(
        "POST",
        "/v1/admin/payouts",
        json={"user_id": payee.id, "amount": 5_00, "reason": "closing the account"},
        headers={**admin.headers, **idem()},
    )

    # Fees.
    await rec.call(
        "PUT",
        "/v1/admin/fees/{transaction_kind}",
        at={"transaction_kind": "tip"},
        json={"basis_points": 290, "fixed_amount": 30},
        headers=admin.headers,
    )
    await rec.call("GET", "/v1/admin/fees", headers=admin.headers)
    await rec.call(
        "GET", "/v1/fees/quote", url="/v1/fees/quote?kind=tip&gross=1000", headers=payee.headers
    )

    # Recurring billing: the payee offers a plan, the payer subscribes from the wallet.
    plan = (
        await rec.call(
            "POST",
            "/v1/plans",
            json={"name": "Fan club", "amount": 5_00, "currency": "USD", "interval": "month"},
            headers=payee.headers,
        )
    ).json()
    await rec.call("GET", "/v1/plans/{plan_id}", at={"plan_id": plan["id"]}, headers=payer.headers)
    subscribed = (
        await rec.call(
            "POST",
            "/v1/plans/{plan_id}/subscriptions",
            at={"plan_id": plan["id"]},
            headers={**payer.headers, **idem()},
        )
    ).json()
    await rec.call("GET", "/v1/subscriptions", headers=payer.headers)
    await rec.call(
        "POST",
        "/v1/subscriptions/{subscription_id}/cancel",
        at={"subscription_id": subscribed["subscription"]["id"]},
        json={"at_period_end": True},
        headers=payer.headers,
    )


async def marketplace_world(w: World) -> None:
    rec, client = w.rec, w.client
    owner = await brand(client, funds=1_000_00)
    await open_job(client, owner, title="Earlier reel")  # a second job in every list
    job = (
        await rec.call(
            "POST",
            "/v1/marketplace/jobs",
            json=job_body(title="Round trip reel"),
            headers=owner.headers,
        )
    ).json()
    at_job = {"job_uid": job["uid"]}
    await rec.call(
        "POST",
        "/v1/marketplace/jobs/{job_uid}/fund",
        at=at_job,
        json={"source": "wallet"},
        headers={**owner.headers, **idem()},
    )
    first, second = await market_creator(client), await market_creator(client)
    slot = (
        await rec.call(
            "POST",
            "/v1/marketplace/jobs/{job_uid}/claims",
            at=at_job,
            headers={**first.headers, **idem()},
        )
    ).json()
    at_claim = {"claim_uid": slot["uid"]}
    other = await claim(client, job["uid"], second)
    assert other.status_code == 201, other.text
    await rec.call(
        "POST",
        "/v1/marketplace/claims/{claim_uid}/submissions",
        at=at_claim,
        json={"platform": "instagram", "url": "https://instagram.com/p/rt1", "note": "live"},
        headers=first.headers,
    )
    submitted = await submit(client, other.json()["uid"], second)
    assert submitted.status_code == 201, submitted.text
    await rec.call(
        "POST",
        "/v1/marketplace/claims/{claim_uid}/approve",
        at=at_claim,
        headers={**owner.headers, **idem()},
    )
    await rec.call(
        "POST",
        "/v1/marketplace/claims/{claim_uid}/reject",
        at={"claim_uid": other.json()["uid"]},
        json={"reason": "The link does not open"},
        headers=owner.headers,
    )

    await rec.call("GET", "/v1/marketplace/jobs")
    await rec.call("GET", "/v1/marketplace/jobs/{job_uid}", at=at_job)
    await rec.call("GET", "/v1/marketplace/jobs/matching", headers=first.headers)
    await rec.call("GET", "/v1/marketplace/brand/jobs", headers=owner.headers)
    await rec.call("GET", "/v1/marketplace/brand/jobs/{job_uid}", at=at_job, headers=owner.headers)
    await rec.call("GET", "/v1/marketplace/claims", headers=first.headers)
    await rec.call("GET", "/v1/marketplace/claims/{claim_uid}", at=at_claim, headers=first.headers)
    await rec.call(
        "POST",
        "/v1/marketplace/jobs/{job_uid}/close",
        at=at_job,
        headers={**owner.headers, **idem()},
    )

    await web_brand_pages(w, owner)

    # Analytics over two past days (never today: a request after midnight would be refused).
    admin = await w.admin()
    span = {"from": day(-2), "to": day(-1)}
    await rec.call(
        "POST", "/v1/admin/marketplace/analytics/rollup", json=span, headers=admin.headers
    )
    await rec.call(
        "GET", "/v1/admin/marketplace/analytics/platform", params=span, headers=admin.headers
    )
    await rec.call(
        "GET", "/v1/admin/marketplace/analytics/financial", params=span, headers=admin.headers
    )


async def web_brand_pages(w: World, owner: Account) -> None:
    """The brand's job pages, in a browser of their own signed in as `owner` (funded)."""
    rec, client = w.rec, w.client
    transport = httpx.ASGITransport(app=w.app, client=("203.0.113.8", 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        token = csrf_of((await browser.get("/login")).text)
        form = {"csrf_token": token, "email": owner.email, "password": PASSWORD}
        assert (await browser.post("/login", data=form)).status_code == 303
        api_client = rec.client
        rec.client = browser
        try:
            await rec.call("GET", "/brand")
            token = csrf_of((await rec.call("GET", "/brand/jobs/new")).text)
            created = await rec.call(
                "POST",
                "/brand/jobs/new",
                data={
                    "csrf_token": token,
                    "title": "Page reel",
                    "description": "",
                    "budget": "200",
                    "currency": "USD",
                    "influencer_slots": "2",
                    "influence_min": "0",
                    "influence_max": "",
                    "location": "",
                    "genre": "",
                    "end_date": day(30),
                },
                status=303,
            )
            at_job = {"job_uid": created.headers["location"].rsplit("/", 1)[-1]}
            await rec.call("GET", "/brand/jobs/{job_uid}", at=at_job)
            token = {"csrf_token": token}
            await rec.call("POST", "/brand/jobs/{job_uid}/fund", at=at_job, data=token, status=303)
            slots = []
            for _ in range(2):
                who = await market_creator(client)
                slot = await claim(client, at_job["job_uid"], who)
                assert slot.status_code == 201, slot.text
                assert (await submit(client, slot.json()["uid"], who)).status_code == 201
                slots.append({"claim_uid": slot.json()["uid"]})
            await rec.call(
                "POST", "/brand/claims/{claim_uid}/approve", at=slots[0], data=token, status=303
            )
            await rec.call(
                "POST",
                "/brand/claims/{claim_uid}/reject",
                at=slots[1],
                data={**token, "reason": "The link does not open"},
                status=303,
            )
            await rec.call("POST", "/brand/jobs/{job_uid}/close", at=at_job, data=token, status=303)
        finally:
            rec.client = api_client


async def social_world(w: World) -> None:
    rec, client = w.rec, w.client
    w.fake.reset()
    me = await account(client, roles=["creator"])
    at = {"platform": "youtube"}
    started = await rec.call(
        "POST", "/v1/social/connections/{platform}/authorize", at=at, headers=me.headers
    )
    # The creator's browser at the platform's consent page, redirected back to the callback.
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(started.json()["authorization_url"])
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    await rec.call("GET", "/v1/social/callback/{platform}", url=f"{back.path}?{back.query}")
    await rec.call("GET", "/v1/social/connections", headers=me.headers)
    await rec.call(
        "POST", "/v1/social/connections/{platform}/refresh-profile", at=at, headers=me.headers
    )
    await rec.call("DELETE", "/v1/social/connections/{platform}", at=at, headers=me.headers)


SHOOT = {
    "date": "2031-06-15",
    "time": "10:30",
    "location": "Studio 4, Berlin",
    "brand_name": "Acme",
    "campaign_name": "Summer drop",
    "amount": 1250_00,
    "currency": "EUR",
}
UPLOAD = {"date": "2031-06-16", "time": "18:00", "platform": "instagram", "content_type": "Reel"}


async def workspace_world(w: World) -> None:
    rec, client = w.rec, w.client
    me, slug = await portfolio_creator(client)
    h = me.headers

    # Shoots (a second one in every list), then uploads the same way.
    await shoot(client, me, completed=False, day="2031-06-01")
    made = (await rec.call("POST", "/v1/workspace/shoots", json=SHOOT, headers=h)).json()
    at = {"shoot_id": made["id"]}
    await rec.call("GET", "/v1/workspace/shoots", headers=h)
    await rec.call("GET", "/v1/workspace/shoots/{shoot_id}", at=at, headers=h)
    await rec.call(
        "PATCH", "/v1/workspace/shoots/{shoot_id}", at=at, json={"notes": "Red jacket"}, headers=h
    )
    await rec.call("POST", "/v1/workspace/shoots/{shoot_id}/complete", at=at, headers=h)
    await rec.call("POST", "/v1/workspace/shoots/{shoot_id}/reopen", at=at, headers=h)
    await rec.call("DELETE", "/v1/workspace/shoots/{shoot_id}", at=at, headers=h)

    second = await client.post("/v1/workspace/uploads", json=UPLOAD, headers=h)
    assert second.status_code == 201, second.text
    made = (await rec.call("POST", "/v1/workspace/uploads", json=UPLOAD, headers=h)).json()
    at = {"upload_id": made["id"]}
    await rec.call("GET", "/v1/workspace/uploads", headers=h)
    await rec.call("GET", "/v1/workspace/uploads/{upload_id}", at=at, headers=h)
    await rec.call(
        "PATCH", "/v1/workspace/uploads/{upload_id}", at=at, json={"notes": "Tag @acme"}, headers=h
    )
    await rec.call("POST", "/v1/workspace/uploads/{upload_id}/complete", at=at, headers=h)
    await rec.call("POST", "/v1/workspace/uploads/{upload_id}/reopen", at=at, headers=h)
    await rec.call("DELETE", "/v1/workspace/uploads/{upload_id}", at=at, headers=h)

    # The calendar: blocked ranges, the combined view, the secret feed.
    blocks = "/v1/workspace/calendar/blocks"
    kept = await client.post(blocks, json={"start_date": "2031-08-01"}, headers=h)
    assert kept.status_code == 201, kept.text
    block = (
        await rec.call(
            "POST",
            blocks,
            json={"start_date": "2031-06-20", "end_date": "2031-06-22", "reason": "Holiday"},
            headers=h,
        )
    ).json()
    await rec.call("GET", blocks, headers=h)
    await rec.call(
        "GET",
        "/v1/workspace/calendar",
        params={"from": "2031-06-01", "to": "2031-08-31"},
        headers=h,
    )
    await rec.call("DELETE", f"{blocks}/{{block_id}}", at={"block_id": block["id"]}, headers=h)
    feed = (await rec.call("POST", "/v1/workspace/calendar/feed", headers=h)).json()
    await rec.call("GET", "/v1/workspace/calendar/feed", headers=h)
    path = urlsplit(feed["url"]).path
    await rec.call("GET", "/calendar/{token}.ics", url=path)
    await rec.call("HEAD", "/calendar/{token}.ics", url=path)
    await rec.call("DELETE", "/v1/workspace/calendar/feed", status=204, headers=h)

    # Client reviews: a link made and revoked, another used by the client, the review shown
    # on the portfolio, hidden, shown again.
    done = await shoot(client, me, completed=True)
    link = {"shoot_id": done}
    await rec.call("POST", "/v1/workspace/shoots/{shoot_id}/review-link", at=link, headers=h)
    await rec.call("DELETE", "/v1/workspace/shoots/{shoot_id}/review-link", at=link, headers=h)
    path, _, _ = await review_link(client, me, done)
    await rec.call("GET", "/review/{token}", url=path)
    await rec.call("POST", "/review/{token}", url=path, data=review_form())
    reviews = (await rec.call("GET", "/v1/workspace/reviews", headers=h)).json()["items"]
    at = {"review_id": reviews[0]["id"]}
    await rec.call("POST", "/v1/workspace/reviews/{review_id}/publish", at=at, headers=h)
    await rec.call("POST", "/v1/workspace/reviews/{review_id}/hide", at=at, headers=h)
    shown = await client.post(f"/v1/workspace/reviews/{reviews[0]['id']}/publish", headers=h)
    assert shown.status_code == 200, shown.text
    await rec.call("GET", "/v1/portfolio/{slug}", at={"slug": slug})
    await rec.call("GET", "/portfolio/{slug}", at={"slug": slug})


async def platform_world(w: World) -> None:
    rec = w.rec
    for path in ("/", "/healthz", "/readyz", "/openapi.json", "/docs", "/redoc", "/metrics"):
        await rec.call("GET", path)
    await rec.call("HEAD", "/openapi.json")
    await rec.call("GET", "/static/api-docs/redoc.standalone.js")
    await rec.call("GET", "/static/api-docs/{path}", url="/static/api-docs/swagger-ui.css")
    await rec.call("GET", "/static/{path}", url="/static/demo/sarah.svg")


WORLDS: dict[str, Callable[[World], Awaitable[None]]] = {
    "identity": identity_world,
    "payments": payments_world,
    "payment_methods": payment_methods_world,
    "web_payment_methods": payment_methods_pages_world,
    "marketplace": marketplace_world,
    "social": social_world,
    "workspace": workspace_world,
    "platform": platform_world,
    # The pages of issue 13, each world in a module of its own.
    "web_creator": creator_pages_world,
    "web_studio": studio_pages_world,
    "web_admin": admin_pages_world,
    "web_settings": settings_pages_world,
    # Seed 002's campaigns (issue 14), each world in a module of its own.
    "campaigns": campaigns_world,
    "campaign_tracking": campaign_tracking_world,
    "campaign_settlement": campaign_settlement_world,
    # Seed 002's consultant and seller work (issue 15).
    "campaign_work": campaign_work_world,
    # Seed 003's giveaways (issue 16).
    "giveaways": giveaways_world,
    "web_giveaways": giveaway_pages_world,
    "campaign_sales": campaign_sales_world,
    "campaign_billing": campaign_billing_world,
    "web_statements": statements_pages_world,
    "web_campaigns": campaign_pages_world,
    "web_campaign_work": campaign_work_pages_world,
    "web_campaign_sales": campaign_sales_pages_world,
}


# --- building a world once per process ------------------------------------------------------------


_built: dict[str, Measured | BaseException] = {}


@dataclass
class Worlds:
    pg_server_url: str
    template_url: str
    admin: psycopg.Connection
    fake: FakePlatforms

    async def get(self, group: str) -> Measured:
        if group not in _built:
            try:
                _built[group] = await self._build(group)
            except BaseException as error:
                _built[group] = error
                raise
        built = _built[group]
        if isinstance(built, BaseException):
            raise AssertionError(
                f"the {group} world failed to build in an earlier test (its traceback is "
                f"there): {built!r}"
            )
        return built

    async def _build(self, group: str) -> Measured:
        name = f"creatorhub_round_trips_{os.getpid()}_{group}"
        template = make_url(self.template_url).database
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        self.admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        try:
            url = replace_database(self.pg_server_url, name)
            async with _world(url, self.fake) as world:
                await WORLDS[group](world)
                # Authentication is probed with the first API token used; a world of pages
                # alone (cookies) calls no operation that needs one.
                assert world.rec.auth_statements is not None or not any(
                    needs_token(op) for op in world.rec.trips
                )
                measured = Measured(world.rec.trips, world.rec.auth_statements or [])
            violations = verify(url)
            assert not violations, "ledger invariants violated:\n" + "\n".join(map(str, violations))
            return measured
        finally:
            self.admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.asynccontextmanager
async def _world(url: str, fake: FakePlatforms) -> AsyncIterator[World]:
    # The conftest's settings (no job worker in the app), with every social platform
    # configured against the local fake.
    app = create_app(make_settings(url, **fake.settings()), database_url=url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield World(app, client, Recorder(app, client), app.state.db, fake)


@pytest.fixture
def worlds(
    pg_server_url: str,
    template_database_url: str,
    _pg_admin: psycopg.Connection,
    fake_platforms: FakePlatforms,
) -> Worlds:
    return Worlds(pg_server_url, template_database_url, _pg_admin, fake_platforms)


def _in_group(group: str, *values: Any, marks: Any = (), id: str | None = None) -> Any:
    return pytest.param(
        *values, marks=[pytest.mark.xdist_group(f"round_trips_{group}"), *marks], id=id
    )


def _op_id(operation: Operation) -> str:
    return f"{operation[0]} {operation[1]}"


def _statements(trips: Trips) -> str:
    return "\n".join(f"  {n:2}. {s}" for n, s in enumerate(trips.statements, 1))


# --- the pins -------------------------------------------------------------------------------------


def test_every_operation_has_a_pin() -> None:
    operations, pins = set(OPERATIONS), set(pinned())
    unpinned = sorted(operations - pins)
    stale = sorted(pins - operations)
    assert not unpinned and not stale, (
        "every operation needs a scenario in one of the worlds of this test and a pin; a pin "
        "needs an operation (re-pin with CREATORHUB_REPIN=1, see the docstring)\n"
        f"without a pin: {unpinned}\npinned but no such operation: {stale}"
    )
    assert sum(len(ops) for ops in PINS.values()) == len(pins), "an operation pinned twice"


@pytest.mark.parametrize(
    "operation",
    [_in_group(group, op, id=_op_id(op)) for group, ops in PINS.items() for op in ops],
)
async def test_round_trips(operation: Operation, worlds: Worlds) -> None:
    measured = await worlds.get(group_of(operation))
    if operation not in measured.trips:
        if REPIN:
            pytest.skip(f"CREATORHUB_REPIN: {_op_id(operation)} no longer counted: unpinned")
        pytest.fail(f"no scenario of the {group_of(operation)} world calls {_op_id(operation)}")
    trips, pin = measured.trips[operation], pinned()[operation]
    if trips.count == pin:
        return
    message = (
        f"{_op_id(operation)}: {trips.count} round trips, pinned at {pin}. Statements sent:\n"
        f"{_statements(trips)}"
    )
    if REPIN:
        pytest.skip(f"CREATORHUB_REPIN: {_op_id(operation)} {pin} -> {trips.count}")
    pytest.fail(
        message + "\nIf the change is meant, re-pin: CREATORHUB_REPIN=1 (see the docstring)"
    )


@pytest.mark.parametrize("group", [_in_group(group, group, id=group) for group in WORLDS])
async def test_scenarios_count_exactly_the_pinned_operations(group: str, worlds: Worlds) -> None:
    measured = await worlds.get(group)
    counts = {op: trips.count for op, trips in measured.trips.items()}
    if REPIN:
        changed = write_repinned(group, counts)
        if changed:
            pytest.skip(
                f"CREATORHUB_REPIN: {group}: {len(changed)} pins written to {REPINNED_FILE}"
            )
        return
    extra = sorted(set(counts) - set(pinned(group)))
    missing = sorted(set(pinned(group)) - set(counts))
    assert not extra and not missing, (
        f"the {group} world counted operations without a pin in its group: {extra}; "
        f"and did not count these pinned ones: {missing}"
    )


# --- re-pinning -----------------------------------------------------------------------------------

PINS_HEADER = '''"""Round trips to PostgreSQL of one successful request, per operation (issue 12).

Pinned by tests/platform/test_round_trips.py, whose docstring says how a count is measured and
how to re-pin (CREATORHUB_REPIN=1 writes this table, measured, to round_trip_pins.py.new).
Grouped by the world (database and scenarios) that measures them.
"""

from __future__ import annotations
'''


def render_pins(pins: dict[str, dict[Operation, int]]) -> str:
    lines = [PINS_HEADER, "PINS: dict[str, dict[tuple[str, str], int]] = {"]
    for group in WORLDS:
        ops = pins.get(group)
        if not ops:
            continue
        lines.append(f'    "{group}": {{')
        for (method, path), count in sorted(ops.items(), key=lambda item: (item[0][1], item[0][0])):
            lines.append(f'        ("{method}", "{path}"): {count},')
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


if REPIN:
    # Each run writes its own table: a file an earlier run left is not merged into it. Deleted
    # when the module is collected, which every xdist worker does before any test runs.
    REPINNED_FILE.unlink(missing_ok=True)


def write_repinned(
    group: str, counts: dict[Operation, int]
) -> dict[Operation, tuple[int | None, int | None]]:
    """Put `group`'s measured counts into round_trip_pins.py.new (the other groups as this run
    wrote them, or as pinned; no file while the table is the pins) and return the changes
    against the pins: op -> (pin, measured)."""
    # xdist workers write their groups in turn, under a lock on the pins file (only read).
    with PINS_FILE.open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        table = {name: dict(ops) for name, ops in PINS.items()}
        if REPINNED_FILE.exists():
            namespace: dict[str, Any] = {}
            exec(compile(REPINNED_FILE.read_text(), str(REPINNED_FILE), "exec"), namespace)  # noqa: S102
            table = namespace["PINS"]
        table[group] = dict(counts)
        if render_pins(table) == render_pins(PINS):
            REPINNED_FILE.unlink(missing_ok=True)
        else:
            REPINNED_FILE.write_text(render_pins(table))
    old = pinned(group)
    return {
        op: (old.get(op), counts.get(op))
        for op in old.keys() | counts.keys()
        if old.get(op) != counts.get(op)
    }


# --- the budgets ----------------------------------------------------------------------------------


class OverBudget(AssertionError):
    """A budget of issue 12 is missed (the only failure a budget's xfail accepts)."""


def check_budget(operation: Operation, trips: Trips, budget: int) -> None:
    if trips.count > budget:
        raise OverBudget(
            f"{_op_id(operation)}: {trips.count} round trips, budget {budget}:\n"
            + _statements(trips)
        )


def _over_budget(operation: Operation, budget: int, what: str) -> Any:
    today = pinned().get(operation)
    return pytest.mark.xfail(
        raises=OverBudget,
        strict=True,
        reason=f"issue 12: {what} at most {budget} round trips, today {today}",
    )


@pytest.mark.parametrize(
    "operation",
    [
        _in_group(
            group_of(op),
            op,
            id=_op_id(op),
            marks=[_over_budget(op, AUTHENTICATED_READ_BUDGET, "an authenticated read is")]
            if op in READS_OVER_BUDGET
            else [],
        )
        for op in sorted(pinned())
        if op[0] == "GET" and needs_token(op)
    ],
)
async def test_authenticated_read_budget(operation: Operation, worlds: Worlds) -> None:
    measured = await worlds.get(group_of(operation))
    check_budget(operation, measured.trips[operation], AUTHENTICATED_READ_BUDGET)


@pytest.mark.parametrize(
    ("group", "operation", "budget"),
    [
        _in_group(
            group,
            group,
            op,
            budget,
            id=_op_id(op),
            marks=[_over_budget(op, budget, what)] if op in HOT_PATHS_OVER_BUDGET else [],
        )
        for group, op, budget, what in (
            ("payments", FUNDING, FUNDING_BUDGET, "creating a funding intent is"),
            ("marketplace", CLAIM, CLAIM_BUDGET, "a marketplace claim is"),
            ("payments", WEBHOOK, CREDITING_WEBHOOK_BUDGET, "a webhook crediting a wallet is"),
        )
    ],
)
async def test_hot_path_budget(
    group: str, operation: Operation, budget: int, worlds: Worlds
) -> None:
    measured = await worlds.get(group)
    check_budget(operation, measured.trips[operation], budget)


@pytest.mark.parametrize("group", [_in_group("identity", "identity", id="identity")])
async def test_authentication_is_one_statement(group: str, worlds: Worlds) -> None:
    # GET /v1/me/status reads nothing but the token's principal: what it sends besides the
    # transaction's framing is authentication.
    measured = await worlds.get(group)
    assert len(measured.auth_statements) == 1, measured.auth_statements


@pytest.mark.parametrize(
    "group", [_in_group(group, group, id=group) for group in WORLDS if group != "platform"]
)
async def test_every_authenticated_request_authenticates_once(group: str, worlds: Worlds) -> None:
    measured = await worlds.get(group)
    wrong = {
        _op_id(op): [sum(s == auth for s in trips.statements) for auth in measured.auth_statements]
        for op, trips in measured.trips.items()
        if needs_token(op)
    }
    wrong = {op: times for op, times in wrong.items() if times != [1] * len(times)}
    assert not wrong, f"authentication's statements sent other than once: {wrong}"
