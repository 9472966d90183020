"""The creator's marketplace, wallet and payout pages over HTTP: a creator finds a job a brand
opened through the API, claims it, submits content and follows the approval into their claims
and wallet on the pages; sets up a payout account and requests, repeats and cancels payouts.
The refusals (a double click, a bad form, a missing CSRF token, another creator's claim, a brand
on a creator page, a full or closed job) change nothing. The ledger's invariants are checked
after every test (`money_fixtures`).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from conftest import make_settings
from creatorhub.config import Settings
from creatorhub.web.acting import money
from helpers import Account, account
from market_helpers import approve, brand, claim, close, creator, open_job, submit
from money_fixtures import ledger_verified
from payment_helpers import fund_wallet, wallet
from web_helpers import csrf_of, signed_in_browser

if TYPE_CHECKING:
    from payments.stripe_servers import FakeConnect

__all__ = ["ledger_verified"]  # the ledger's invariants are checked after each test
pytest_plugins = ["payments.stripe_servers"]

CLAIM_PATH = re.compile(r"^/creator/claims/([0-9a-f-]{36})$")
REQUEST_KEY = re.compile(r'name="request_key" value="([^"]+)"')


@pytest.fixture
def hold_days() -> int:
    """Days earnings stay pending (the walk sets some, to see them pending on the wallet)."""
    return 0


@pytest.fixture
def provider() -> str:
    """The payments provider (one test sets Stripe, at the fake Connect server)."""
    return "sandbox"


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, database_url: str, hold_days: int, provider: str
) -> Settings:
    if provider == "stripe":
        fake: FakeConnect = request.getfixturevalue("fake_connect")
        return make_settings(
            database_url,
            payments_provider="stripe",
            stripe_api_key="sk_test_creator_pages",
            stripe_webhook_secret="whsec_creator_pages",
            stripe_api_base=fake.url,
        )
    return make_settings(database_url, earnings_hold_days=hold_days)


async def api_claims(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    response = await client.get("/v1/marketplace/claims", headers=who.headers)
    assert response.status_code == 200, response.text
    claims: dict[str, Any] = response.json()
    return claims


async def api_claim(client: httpx.AsyncClient, who: Account, claim_uid: str) -> dict[str, Any]:
    response = await client.get(f"/v1/marketplace/claims/{claim_uid}", headers=who.headers)
    assert response.status_code == 200, response.text
    claimed: dict[str, Any] = response.json()
    return claimed


async def api_payouts(client: httpx.AsyncClient, who: Account) -> list[dict[str, Any]]:
    response = await client.get("/v1/payouts", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def slots_left(client: httpx.AsyncClient, job_uid: str) -> int:
    response = await client.get(f"/v1/marketplace/jobs/{job_uid}")
    assert response.status_code == 200, response.text
    left: int = response.json()["slots_left"]
    return left


@pytest.mark.parametrize("hold_days", [7])
async def test_a_creator_claims_submits_and_is_paid_on_the_pages(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await brand(client, funds=500_00)
    job = await open_job(client, owner, title="Winter launch reel")
    job_uid = job["uid"]
    me = await creator(client)
    async with signed_in_browser(app, me.email) as browser:
        found = await browser.get("/creator")
        assert found.status_code == 200
        for link in ('href="/creator"', 'href="/creator/claims"', 'href="/wallet"'):
            assert link in found.text  # the creator's navigation
        assert (
            "Winter launch reel" in found.text and f'href="/creator/jobs/{job_uid}"' in found.text
        )
        assert (
            f"{money(100_00, 'USD')} per slot" in found.text and "3 of 3 slots left" in found.text
        )

        page = await browser.get(f"/creator/jobs/{job_uid}")
        assert page.status_code == 200
        assert "Post one reel about the new single" in page.text and "1,000 to 50,000" in page.text
        assert f'action="/creator/jobs/{job_uid}/claim"' in page.text
        token = {"csrf_token": csrf_of(page.text)}

        claimed = await browser.post(f"/creator/jobs/{job_uid}/claim", data=token)
        assert claimed.status_code == 303, claimed.text
        match = CLAIM_PATH.match(claimed.headers["location"])
        assert match, claimed.headers["location"]
        claim_uid = match.group(1)
        assert "The slot is yours" in (await browser.get(f"/creator/claims/{claim_uid}")).text
        assert [c["uid"] for c in (await api_claims(client, me))["items"]] == [claim_uid]
        assert await slots_left(client, job_uid) == 2

        # The second click of the button: refused by the service, nothing more claimed.
        again = await browser.post(f"/creator/jobs/{job_uid}/claim", data=token)
        assert again.status_code == 303 and again.headers["location"] == "/creator/claims"
        listed = await browser.get("/creator/claims")
        assert "nothing more was claimed" in listed.text
        assert "claimed, no content yet" in listed.text
        assert len((await api_claims(client, me))["items"]) == 1
        assert await slots_left(client, job_uid) == 2

        page = await browser.get(f"/creator/claims/{claim_uid}")
        assert page.status_code == 200 and "claimed, no content yet" in page.text
        assert f'action="/creator/claims/{claim_uid}/submit"' in page.text
        form = {**token, "platform": "tiktok", "url": "not a link", "note": "Kept note"}
        bad = await browser.post(f"/creator/claims/{claim_uid}/submit", data=form)
        assert bad.status_code == 422
        assert 'id="f-url-error"' in bad.text and 'value="not a link"' in bad.text
        assert "Kept note" in bad.text and '<option value="tiktok" selected>' in bad.text
        assert (await api_claim(client, me, claim_uid))["submissions"] == []

        form["url"] = "https://tiktok.com/@me/video/1"
        sent = await browser.post(f"/creator/claims/{claim_uid}/submit", data=form)
        assert (
            sent.status_code == 303 and sent.headers["location"] == f"/creator/claims/{claim_uid}"
        )
        shown = await api_claim(client, owner, claim_uid)
        assert [(s["platform"], s["url"], s["note"]) for s in shown["submissions"]] == [
            ("tiktok", "https://tiktok.com/@me/video/1", "Kept note")
        ]
        twice = await browser.post(f"/creator/claims/{claim_uid}/submit", data=form)
        assert twice.status_code == 303
        page = await browser.get(f"/creator/claims/{claim_uid}")
        assert "nothing more was sent" in page.text and "awaiting the brand" in page.text
        assert 'action="/creator/claims/' not in page.text  # no form while it awaits review
        assert len((await api_claim(client, me, claim_uid))["submissions"]) == 1

        assert (await approve(client, claim_uid, owner)).status_code == 200
        payout = (await api_claim(client, me, claim_uid))["payout"]
        net, fee = payout["net_amount"], payout["platform_fee"]
        assert net + fee == 100_00 and net > 0

        listed = await browser.get("/creator/claims")
        assert "approved and paid" in listed.text
        assert f"Earned {money(net, 'USD')}" in listed.text
        assert f'id="earned-USD">{money(net, "USD")} earned' in listed.text

        shown_wallet = await wallet(client, me.headers)
        assert (shown_wallet["pending"], shown_wallet["available"]) == (net, 0)
        [item] = shown_wallet["pending_items"]
        page = await browser.get("/wallet")
        assert page.status_code == 200
        assert f'id="wallet-pending">{money(net, "USD")}<' in page.text
        assert f"released {item['release_at'][:10]}" in page.text
        assert "Job approved: Winter launch reel" in page.text
        assert "Job earnings" in page.text  # the transaction
        assert 'href="/wallet/add-funds"' not in page.text  # a creator's wallet

        # The job is closed by its brand: the creator's claim stays approved.
        assert (await close(client, job_uid, owner)).status_code == 200
        page = await browser.get(f"/creator/jobs/{job_uid}")
        assert ">Closed<" in page.text and f"/creator/jobs/{job_uid}/claim" not in page.text


async def test_payouts_on_the_pages(app: FastAPI, client: httpx.AsyncClient) -> None:
    me = await account(client, roles=["creator"])
    await fund_wallet(client, me.headers, 50_00)
    async with signed_in_browser(app, me.email) as browser:
        page = await browser.get("/payouts")
        assert page.status_code == 200 and 'action="/payouts/account"' in page.text
        token = csrf_of(page.text)

        bad = await browser.post("/payouts/account", data={"csrf_token": token, "country": "usa"})
        assert bad.status_code == 422 and 'id="f-country-error"' in bad.text
        assert 'value="usa"' in bad.text
        assert (await client.get("/v1/payout-accounts", headers=me.headers)).json() == []

        made = await browser.post("/payouts/account", data={"csrf_token": token, "country": "de"})
        assert made.status_code == 303 and made.headers["location"] == "/payouts"
        again = await browser.post("/payouts/account", data={"csrf_token": token, "country": "DE"})
        assert again.status_code == 303
        accounts = (await client.get("/v1/payout-accounts", headers=me.headers)).json()
        assert [(a["country"], a["payouts_enabled"]) for a in accounts] == [("DE", True)]
        page = await browser.get("/payouts")
        assert "nothing changed" in page.text and "Ready for payouts" in page.text

        # The sandbox has nothing to onboard: its link comes straight back to the page.
        onboarding = await browser.post("/payouts/account/onboarding", data={"csrf_token": token})
        assert onboarding.status_code == 303
        assert onboarding.headers["location"] == "http://testserver/payouts"

        key = REQUEST_KEY.search(page.text)
        assert key
        form = {"csrf_token": token, "amount": "15.00", "currency": "USD", "request_key": key[1]}
        below = await browser.post("/payouts/request", data=form)
        assert below.status_code == 422
        assert f"start at {money(20_00, 'USD')}; {money(15_00, 'USD')} is below." in below.text
        assert 'id="f-amount-error"' in below.text and 'value="15.00"' in below.text
        assert await api_payouts(client, me) == []
        assert (await wallet(client, me.headers))["available"] == 50_00

        form["amount"] = "30.00"
        requested = await browser.post("/payouts/request", data=form)
        assert requested.status_code == 303 and requested.headers["location"] == "/payouts"
        # The same form sent again (a double click): its key replays, nothing more is taken.
        repeated = await browser.post("/payouts/request", data=form)
        assert repeated.status_code == 303
        [payout] = await api_payouts(client, me)
        assert (payout["amount"], payout["status"]) == (30_00, "pending")
        assert (await wallet(client, me.headers))["available"] == 20_00
        page = await browser.get("/payouts")
        assert "nothing more was taken" in page.text
        assert f'action="/payouts/{payout["id"]}/cancel"' in page.text

        # More than is available, from a new form: refused at its field, nothing taken.
        key = REQUEST_KEY.search(page.text)
        assert key
        more = {**form, "amount": "25.00", "request_key": key[1]}
        refused = await browser.post("/payouts/request", data=more)
        assert refused.status_code == 409 and 'id="f-amount-error"' in refused.text
        assert len(await api_payouts(client, me)) == 1
        # ...and without its CSRF token, nothing either.
        forged = await browser.post(
            "/payouts/request", data={**more, "amount": "5", "csrf_token": ""}
        )
        assert forged.status_code == 403
        assert len(await api_payouts(client, me)) == 1

        canceled = await browser.post(f"/payouts/{payout['id']}/cancel", data={"csrf_token": token})
        assert canceled.status_code == 303
        again = await browser.post(f"/payouts/{payout['id']}/cancel", data={"csrf_token": token})
        assert again.status_code == 303
        page = await browser.get("/payouts")
        assert "canceled already" in page.text and "/cancel" not in page.text
        assert [p["status"] for p in await api_payouts(client, me)] == ["canceled"]
        assert (await wallet(client, me.headers))["available"] == 50_00

        page = await browser.get("/wallet")
        assert page.status_code == 200 and "Payout returned" in page.text
        assert f'id="wallet-available">{money(50_00, "USD")}<' in page.text

    other = await account(client, roles=["creator"])
    async with signed_in_browser(app, other.email) as browser:
        token = csrf_of((await browser.get("/payouts")).text)
        missing = await browser.post(f"/payouts/{payout['id']}/cancel", data={"csrf_token": token})
        assert missing.status_code == 404
        # No payout account: the service's refusal is shown on the form.
        empty = await browser.post(
            "/payouts/request",
            data={"csrf_token": token, "amount": "30", "currency": "USD", "request_key": "k-1"},
        )
        assert empty.status_code == 409 and "add a payout account" in empty.text
        assert await api_payouts(client, other) == []


async def test_refusals_change_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await brand(client, funds=500_00)
    job = await open_job(client, owner, influencer_slots=1, budget=100_00)
    first, second = await creator(client), await creator(client)
    small = await creator(client, followers=10)
    one = await claim(client, job["uid"], first)
    assert one.status_code == 201, one.text
    claim_uid = one.json()["uid"]

    async with signed_in_browser(app, second.email) as browser:
        token = csrf_of((await browser.get("/creator")).text)
        # A full job: the service's message on an error page; nothing claimed.
        full = await browser.post(f"/creator/jobs/{job['uid']}/claim", data={"csrf_token": token})
        assert full.status_code == 409 and "every slot of the job is taken" in full.text.lower()
        assert (await api_claims(client, second))["items"] == []
        # Another creator's claim: not found, to read or to submit to.
        assert (await browser.get(f"/creator/claims/{claim_uid}")).status_code == 404
        form = {"csrf_token": token, "platform": "x", "url": "https://x.com/a/1", "note": ""}
        taken = await browser.post(f"/creator/claims/{claim_uid}/submit", data=form)
        assert taken.status_code == 404
        assert (await api_claim(client, first, claim_uid))["submissions"] == []
        assert (await browser.get("/creator/jobs/not-a-uuid")).status_code == 422
        assert (await browser.get("/wallet?currency=XYZ")).status_code == 422
        assert (await browser.get("/wallet?before=not-a-cursor")).status_code == 422
        assert (await browser.get("/creator?cursor=not-a-cursor")).status_code == 400

    other_job = await open_job(client, owner)
    async with signed_in_browser(app, small.email) as browser:
        token = csrf_of((await browser.get("/creator")).text)
        assert f"/creator/jobs/{other_job['uid']}" not in (await browser.get("/creator")).text
        outside = await browser.post(
            f"/creator/jobs/{other_job['uid']}/claim", data={"csrf_token": token}
        )
        assert outside.status_code == 409 and "1000 to 50000 followers" in outside.text
        # Without its CSRF token: refused before anything is looked at.
        forged = await browser.post(f"/creator/jobs/{other_job['uid']}/claim", data={})
        assert forged.status_code == 403
        assert (await api_claims(client, small))["items"] == []

    assert (await close(client, other_job["uid"], owner)).status_code == 200
    async with signed_in_browser(app, second.email) as browser:
        token = csrf_of((await browser.get("/creator")).text)
        closed = await browser.post(
            f"/creator/jobs/{other_job['uid']}/claim", data={"csrf_token": token}
        )
        assert closed.status_code == 409 and "closed" in closed.text
        assert (await api_claims(client, second))["items"] == []

    # A brand on the creator's pages: 403; its wallet page has the button to add funds.
    async with signed_in_browser(app, owner.email) as browser:
        for path in ("/creator", "/creator/claims", "/payouts", f"/creator/jobs/{job['uid']}"):
            refused = await browser.get(path)
            assert refused.status_code == 403 and "Creator" in refused.text, path
        page = await browser.get("/wallet")
        assert page.status_code == 200 and 'href="/wallet/add-funds"' in page.text
        available = (await wallet(client, owner.headers))["available"]
        assert available == 400_00  # 500 in, 100 in the full job; the closed job refunded
        assert f'id="wallet-available">{money(available, "USD")}<' in page.text
        assert "Job funded" in page.text and "Refund" in page.text
        assert 'href="/wallet"' in page.text and 'href="/creator"' not in page.text
    fan = await account(client, roles=["fan"])
    async with signed_in_browser(app, fan.email) as browser:
        assert (await browser.get("/wallet")).status_code == 403


# The Stripe library's own requests (as in tests/payments/test_stripe_flow.py).
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning:httpx")
@pytest.mark.parametrize("provider", ["stripe"])
async def test_a_provider_that_calls_out_is_called_outside_the_pages_transaction(
    app: FastAPI, client: httpx.AsyncClient, provider: str, request: pytest.FixtureRequest
) -> None:
    fake: FakeConnect = request.getfixturevalue("fake_connect")
    me = await account(client, roles=["creator"])
    async with signed_in_browser(app, me.email) as browser:
        token = csrf_of((await browser.get("/payouts")).text)
        fake.hang()
        try:
            creating = asyncio.create_task(
                browser.post("/payouts/account", data={"csrf_token": token, "country": "US"})
            )
            await fake.wait_until_held()
            # The page's transaction ended before the call: no connection is held meanwhile.
            assert app.state.db.engine.pool.checkedout() == 0
        finally:
            fake.release()
        created = await creating
        assert created.status_code == 303, created.text
        [made] = (await client.get("/v1/payout-accounts", headers=me.headers)).json()
        assert made["provider_reference"].startswith("acct_") and not made["payouts_enabled"]
        page = await browser.get("/payouts")
        assert "Not finished" in page.text and "Finish your details" in page.text

        # The provider's onboarding is on another site: a page links to it (a form's redirect
        # there would be stopped by the CSP's form-action), and it comes back to /payouts.
        linked = await browser.post("/payouts/account/onboarding", data={"csrf_token": token})
        assert linked.status_code == 200, linked.text
        found = re.search(rf'href="({re.escape(fake.url)}/setup/[^"]+)"', linked.text)
        assert found, linked.text[-800:]
        async with httpx.AsyncClient() as outside:
            visited = await outside.get(found[1])
        assert visited.status_code in (302, 303), visited.text
        assert visited.headers["location"] == "http://testserver/payouts"


async def test_a_claim_sent_back_then_released(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    me = await creator(client)
    claimed = await claim(client, job["uid"], me)
    assert claimed.status_code == 201, claimed.text
    claim_uid = claimed.json()["uid"]
    assert (await submit(client, claim_uid, me)).status_code == 201
    rejected = await client.post(
        f"/v1/marketplace/claims/{claim_uid}/reject",
        json={"reason": "The <b>link</b> does not open"},
        headers=owner.headers,
    )
    assert rejected.status_code == 200, rejected.text
    async with signed_in_browser(app, me.email) as browser:
        listed = await browser.get("/creator/claims")
        assert "sent back by the brand" in listed.text
        assert "The &lt;b&gt;link&lt;/b&gt; does not open" in listed.text  # escaped
        page = await browser.get(f"/creator/claims/{claim_uid}")
        assert (
            "sent back" in page.text and f'action="/creator/claims/{claim_uid}/submit"' in page.text
        )
        assert (await close(client, job["uid"], owner)).status_code == 200
        listed = await browser.get("/creator/claims")
        assert "released (the job closed before approval)" in listed.text
        assert "Nothing approved yet." in listed.text
        page = await browser.get(f"/creator/claims/{claim_uid}")
        assert "/submit" not in page.text
        token = csrf_of(page.text)
        form = {"csrf_token": token, "platform": "x", "url": "https://x.com/a/2", "note": ""}
        late = await browser.post(f"/creator/claims/{claim_uid}/submit", data=form)
        assert late.status_code == 409 and "closed" in late.text
    assert len((await api_claim(client, me, claim_uid))["submissions"]) == 1
    assert (await wallet(client, me.headers))["available"] == 0


async def test_an_unverified_creator_cannot_claim_or_pay_out(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner, influence_min=0)
    unverified = await account(client, roles=["creator"], verified=False)
    async with signed_in_browser(app, unverified.email) as browser:
        token = csrf_of((await browser.get("/creator")).text)
        refused = await browser.post(
            f"/creator/jobs/{job['uid']}/claim", data={"csrf_token": token}
        )
        assert refused.status_code == 403 and "verified e-mail address" in refused.text
        made = await browser.post("/payouts/account", data={"csrf_token": token, "country": "US"})
        assert made.status_code == 403
    assert await slots_left(client, job["uid"]) == 3
    assert (await client.get("/v1/payout-accounts", headers=unverified.headers)).json() == []
