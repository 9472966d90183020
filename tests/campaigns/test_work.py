"""Consultant and seller campaigns through HTTP (issue 15): applications and their
negotiation, deliverables held on the escrow when agreed and paid at once when approved,
disputes decided by an admin, and ending with the unspent budget refunded. Exact integers at
every step; every test ends with the ledger verified (tests/campaigns/conftest.py).

Fees: the default rule of kind `campaign_work` is 10 % of the gross."""

from __future__ import annotations

import asyncio
import uuid

import httpx

import campaign_helpers
from creatorhub.db import Database
from helpers import account, assert_problem, grant_roles, scalar
from payment_helpers import wallet
from work_helpers import (
    MAX_BUDGET,
    accept,
    agreed,
    apply,
    call,
    deliverable_in,
    funded_work_campaign,
    propose,
    submit,
)


async def escrow(client: httpx.AsyncClient, campaign_id: str, owner: object) -> tuple[int, int]:
    body = await campaign_helpers.campaign_of(client, campaign_id, owner)  # type: ignore[arg-type]
    return body["escrow_balance"], body["escrow_reserved"]


async def test_a_consultant_campaign_from_application_to_refund(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=120_000)
    campaign = await funded_work_campaign(client, owner)
    cid = campaign["id"]
    assert campaign["budget"] == MAX_BUDGET
    first = await campaign_helpers.promoter(client)
    second = await campaign_helpers.promoter(client)

    # Out of the range: nothing recorded.
    response = await client.post(
        f"/v1/campaigns/{cid}/applications",
        json={"proposed_rate": MAX_BUDGET + 1},
        headers=first.headers,
    )
    assert_problem(response, 422, "rate_out_of_range")
    response = await client.post(
        f"/v1/campaigns/{cid}/applications", json={"proposed_rate": 49_999}, headers=first.headers
    )
    assert_problem(response, 422, "rate_out_of_range")

    application = await apply(client, cid, first, 90_000, "I did this for two brands")
    assert application["status"] == "pending"
    assert [(o["party"], o["amount"], o["status"]) for o in application["offers"]] == [
        ("promoter", 90_000, "open")
    ]
    again = await client.post(
        f"/v1/campaigns/{cid}/applications", json={"proposed_rate": 60_000}, headers=first.headers
    )
    assert_problem(again, 409, "already_applied")
    other = await apply(client, cid, second, 80_000)
    app_id, other_id = application["id"], other["id"]

    # The negotiation: a counter-offer, then the other party accepts it.
    countered = await call(
        client,
        "POST",
        f"/v1/campaign-applications/{app_id}/offers",
        owner,
        json={"amount": 70_000, "note": "our range for this scope"},
    )
    assert [(o["party"], o["status"]) for o in countered["offers"]] == [
        ("promoter", "superseded"),
        ("advertiser", "open"),
    ]
    own = await client.post(f"/v1/campaign-applications/{app_id}/accept", headers=owner.headers)
    assert_problem(own, 409, "offer_awaits_other_party")
    outsider = await campaign_helpers.promoter(client)
    hidden = await client.get(f"/v1/campaign-applications/{app_id}", headers=outsider.headers)
    assert_problem(hidden, 404, "application_not_found")
    accepted = await accept(client, app_id, first)
    assert accepted["status"] == "accepted" and accepted["agreed_amount"] == 70_000
    # A consultant campaign selects one promoter: the other application is closed.
    response = await client.post(
        f"/v1/campaign-applications/{other_id}/accept", headers=owner.headers
    )
    assert_problem(response, 409, "application_decided")
    assert (
        await scalar(
            database, "SELECT committed_budget FROM campaigns.campaigns WHERE id = :c", c=cid
        )
        == 70_000
    )

    # Deliverables: 30,000 + 40,000 = the agreed amount; one cent more is refused.
    first_id = await agreed(client, app_id, owner, first, 30_000)
    second_piece = await propose(client, app_id, owner, 40_000, "Second piece")
    response = await client.post(
        f"/v1/campaign-applications/{app_id}/deliverables",
        json={"title": "One more", "amount": 1},
        headers=owner.headers,
    )
    assert_problem(response, 409, "over_agreed_amount")
    assert await escrow(client, cid, owner) == (100_000, 30_000)  # only the agreed one is held

    # Approval pays at once: 30,000 less the 10 % fee into the available wallet.
    early = await client.post(
        f"/v1/campaign-deliverables/{first_id}/approve", headers=owner.headers
    )
    assert_problem(early, 409, "no_work_submitted")  # no work submitted yet
    submitted = await submit(client, first_id, first)
    assert deliverable_in(submitted, first_id)["works"][0]["revision"] == 1
    approved = await call(client, "POST", f"/v1/campaign-deliverables/{first_id}/approve", owner)
    paid = deliverable_in(approved, first_id)
    assert (paid["status"], paid["paid_amount"], paid["fee"]) == ("approved", 30_000, 3_000)
    assert approved["paid_amount"] == 30_000
    assert (await wallet(client, first.headers))["available"] == 27_000
    twice = await client.post(
        f"/v1/campaign-deliverables/{first_id}/approve", headers=owner.headers
    )
    assert_problem(twice, 409, "already_approved")
    assert (await wallet(client, first.headers))["available"] == 27_000

    # The second piece: agreed, rejected, disputed; an admin pays 25,000 of its 40,000.
    second_id = second_piece["id"]
    await call(client, "POST", f"/v1/campaign-deliverables/{second_id}/agree", first)
    await submit(client, second_id, first)
    await call(
        client,
        "POST",
        f"/v1/campaign-deliverables/{second_id}/request-changes",
        owner,
        json={"reason": "the cut is too long"},
    )
    disputed = await call(
        client,
        "POST",
        f"/v1/campaign-deliverables/{second_id}/dispute",
        first,
        json={"reason": "the length was agreed in the brief"},
    )
    assert deliverable_in(disputed, second_id)["status"] == "disputed"
    blocked = await campaign_helpers.end(client, cid, owner)
    assert_problem(blocked, 409, "work_in_review")
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    disputes = await call(client, "GET", "/v1/admin/campaign-disputes", admin)
    assert [d["id"] for d in disputes["items"]] == [second_id]
    decided = await call(
        client,
        "POST",
        f"/v1/admin/campaign-deliverables/{second_id}/resolve",
        admin,
        json={"decision": "partial", "amount": 25_000, "note": "half the cut was usable"},
    )
    assert (decided["status"], decided["paid_amount"], decided["fee"]) == (
        "approved",
        25_000,
        2_500,
    )
    assert decided["resolution"] == "partial"
    assert (await wallet(client, first.headers))["available"] == 27_000 + 22_500
    assert await escrow(client, cid, owner) == (45_000, 0)  # 15,000 released to the campaign
    audited = await scalar(
        database,
        "SELECT count(*) FROM audit.audit_logs WHERE action = 'campaigns.deliverable.resolve'"
        " AND actor_id = :admin",
        admin=admin.id,
    )
    assert audited == 1

    # Spent 55,000 >= min_budget: the advertiser ends it; the other 45,000 comes back.
    ended = await campaign_helpers.end(client, cid, owner)
    assert ended.status_code == 200, ended.text
    assert (await wallet(client, owner.headers))["available"] == 20_000 + 45_000
    allocation = ended.json()["allocation"]
    assert (allocation["spent_amount"], allocation["refunded_amount"]) == (55_000, 45_000)
    # Both applicants keep seeing the ended campaign (its public view); an outsider does not.
    seen = await campaign_helpers.campaign_of(client, cid, second)
    assert (seen["status"], seen["view"]) == ("completed", "public")
    gone = await client.get(f"/v1/campaigns/{cid}", headers=outsider.headers)
    assert_problem(gone, 404, "campaign_not_found")
    final = await call(client, "GET", f"/v1/campaign-applications/{other_id}", second)
    assert (final["status"], final["reject_reason"]) == (
        "rejected",
        "the campaign selected another consultant",
    )
    assert [o["status"] for o in final["offers"]] == ["closed"]


async def test_a_seller_campaign_selects_many_within_max_budget_and_closes_below_min_by_agreement(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=100_000)
    campaign = await funded_work_campaign(client, owner, "seller")
    cid = campaign["id"]
    sellers = [await campaign_helpers.promoter(client) for _ in range(3)]
    apps = [await apply(client, cid, seller, 40_000) for seller in sellers]
    # Seller amounts start at 1 (a consultant's at min_budget).
    small = await campaign_helpers.promoter(client)
    assert (await apply(client, cid, small, 1))["proposed_rate"] == 1
    await accept(client, apps[0]["id"], owner)
    await accept(client, apps[1]["id"], owner)
    over = await client.post(
        f"/v1/campaign-applications/{apps[2]['id']}/accept", headers=owner.headers
    )
    assert_problem(over, 409, "over_max_budget")  # 80,000 committed of 100,000

    # A cancelled deliverable releases its hold; the amount can be committed again.
    held = await agreed(client, apps[0]["id"], owner, sellers[0], 15_000)
    assert await escrow(client, cid, owner) == (100_000, 15_000)
    cancelled = await call(client, "POST", f"/v1/campaign-deliverables/{held}/cancel", owner)
    assert deliverable_in(cancelled, held)["status"] == "cancelled"
    assert cancelled["committed_amount"] == 0
    assert await escrow(client, cid, owner) == (100_000, 0)

    paid = await agreed(client, apps[1]["id"], owner, sellers[1], 20_000)
    await submit(client, paid, sellers[1])
    await call(client, "POST", f"/v1/campaign-deliverables/{paid}/approve", owner)
    open_piece = await agreed(client, apps[0]["id"], owner, sellers[0], 10_000)

    # 20,000 spent < min_budget 50,000: each selected seller must agree first.
    refused = await campaign_helpers.end(client, cid, owner)
    assert_problem(refused, 409, "below_min_budget")
    not_theirs = await client.post(
        f"/v1/campaign-applications/{apps[0]['id']}/agree-to-close", headers=sellers[1].headers
    )
    assert_problem(not_theirs, 404, "application_not_found")
    await call(
        client, "POST", f"/v1/campaign-applications/{apps[0]['id']}/agree-to-close", sellers[0]
    )
    still = await campaign_helpers.end(client, cid, owner)
    assert_problem(still, 409, "below_min_budget")
    await call(
        client, "POST", f"/v1/campaign-applications/{apps[1]['id']}/agree-to-close", sellers[1]
    )
    ended = await campaign_helpers.end(client, cid, owner)
    assert ended.status_code == 200, ended.text
    # The open deliverable is cancelled with its hold; 80,000 comes back.
    assert (await wallet(client, owner.headers))["available"] == 80_000
    assert (await wallet(client, sellers[1].headers))["available"] == 18_000
    status = await scalar(
        database, "SELECT status FROM campaigns.campaign_deliverables WHERE id = :d", d=open_piece
    )
    assert status == "cancelled"
    held_after = await scalar(
        database,
        "SELECT count(*) FROM ledger.holds h JOIN campaigns.campaigns c"
        " ON c.escrow_account_id = h.debit_account_id WHERE c.id = :c AND h.status = 'pending'",
        c=cid,
    )
    assert held_after == 0


async def test_bad_requests_change_nothing(client: httpx.AsyncClient, database: Database) -> None:
    owner = await campaign_helpers.advertiser(client, funds=110_000)
    campaign = await funded_work_campaign(client, owner)
    visibility = await campaign_helpers.funded_campaign(client, owner)
    promoter = await campaign_helpers.promoter(client)
    joined = await client.post(f"/v1/campaigns/{campaign['id']}/join", headers=promoter.headers)
    assert_problem(joined, 409, "application_required")
    applied = await client.post(
        f"/v1/campaigns/{visibility['id']}/applications",
        json={"proposed_rate": 60_000},
        headers=promoter.headers,
    )
    assert_problem(applied, 409, "application_not_needed")
    own = await client.post(
        f"/v1/campaigns/{campaign['id']}/applications",
        json={"proposed_rate": 60_000},
        headers=owner.headers,
    )
    assert own.status_code == 403  # a brand without the creator role, or its own campaign
    application = await apply(client, campaign["id"], promoter, 60_000)
    app_id = application["id"]
    for body in ({"amount": 0}, {"amount": -5}, {"amount": "100"}, {}):
        response = await client.post(
            f"/v1/campaign-applications/{app_id}/offers", json=body, headers=owner.headers
        )
        assert response.status_code == 422, response.text
    deliverable = await client.post(
        f"/v1/campaign-applications/{app_id}/deliverables",
        json={"title": "Too early", "amount": 10_000},
        headers=owner.headers,
    )
    assert_problem(deliverable, 409, "application_not_accepted")
    dispute = await client.post(
        f"/v1/campaign-deliverables/{uuid.uuid4()}/dispute",
        json={"reason": "x"},
        headers=promoter.headers,
    )
    assert_problem(dispute, 404, "deliverable_not_found")
    await accept(client, app_id, owner)
    past = await client.post(
        f"/v1/campaign-applications/{app_id}/deliverables",
        json={"title": "Yesterday", "amount": 10_000, "due_date": "2020-01-01"},
        headers=owner.headers,
    )
    assert_problem(past, 422, "due_date_past")
    piece = await agreed(client, app_id, owner, promoter, 10_000)
    nothing = await client.post(
        f"/v1/campaign-deliverables/{piece}/dispute", json={"reason": "x"}, headers=promoter.headers
    )
    assert_problem(nothing, 409, "nothing_to_dispute")
    # The promoter cannot approve their own work, nor the advertiser agree for them.
    await submit(client, piece, promoter)
    self_approved = await client.post(
        f"/v1/campaign-deliverables/{piece}/approve", headers=promoter.headers
    )
    assert self_approved.status_code in (403, 404), self_approved.text
    assert (await wallet(client, promoter.headers))["available"] == 0
    after = await call(client, "GET", f"/v1/campaign-applications/{app_id}", promoter)
    assert [o["status"] for o in after["offers"]] == ["accepted"]
    assert deliverable_in(after, piece)["status"] == "submitted"


async def test_racing_approvals_and_a_cancellation_pay_once_and_never_past_the_budget(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=100_000)
    campaign = await funded_work_campaign(client, owner, "seller")
    cid = campaign["id"]
    sellers = [await campaign_helpers.promoter(client) for _ in range(2)]
    apps = [await apply(client, cid, seller, 50_000) for seller in sellers]
    for app in apps:
        await accept(client, app["id"], owner)
    pieces = []
    for app, seller in zip(apps, sellers, strict=True):
        for amount in (20_000, 20_000):
            piece = await agreed(client, app["id"], owner, seller, amount)
            await submit(client, piece, seller)
            pieces.append(piece)
    # A piece left agreed (not submitted) that a cancellation races; the campaign's end races
    # them all (refused while work waits for review, or after every approval went through).
    spare = await propose(client, apps[0]["id"], owner, 10_000, "Spare")
    await call(client, "POST", f"/v1/campaign-deliverables/{spare['id']}/agree", sellers[0])

    async def approve(piece: str) -> int:
        response = await client.post(
            f"/v1/campaign-deliverables/{piece}/approve", headers=owner.headers
        )
        return response.status_code

    async def cancel() -> int:
        response = await client.post(
            f"/v1/campaign-deliverables/{spare['id']}/cancel", headers=owner.headers
        )
        return response.status_code

    racers = [approve(piece) for piece in pieces for _ in range(4)] + [cancel(), cancel()]
    results = await asyncio.gather(*racers)
    approvals = results[: len(pieces) * 4]
    for index in range(len(pieces)):
        statuses = sorted(approvals[index * 4 : index * 4 + 4])
        assert statuses == [200, 409, 409, 409], statuses
    assert sorted(results[-2:]) == [200, 409]
    assert (await wallet(client, sellers[0].headers))["available"] == 36_000
    assert (await wallet(client, sellers[1].headers))["available"] == 36_000
    spent = await scalar(
        database,
        "SELECT spent_amount FROM campaigns.campaign_budget_allocations WHERE campaign_id = :c",
        c=cid,
    )
    assert spent == 80_000
    assert await escrow(client, cid, owner) == (20_000, 0)  # the spare's hold was voided
    ended = await campaign_helpers.end(client, cid, owner)
    assert ended.status_code == 200, ended.text
    assert (await wallet(client, owner.headers))["available"] == 20_000


async def test_refusals_of_the_wrong_party_and_of_decisions_out_of_turn(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=100_000)
    # The advertiser is a creator too: the role lets them call the promoter's routes, the
    # application's party refuses them.
    await grant_roles(database, owner.id, "creator")
    campaign = await funded_work_campaign(client, owner)
    promoter = await campaign_helpers.promoter(client)
    await grant_roles(database, promoter.id, "brand")
    application = await apply(client, campaign["id"], promoter, 60_000)
    app_id = application["id"]
    response = await client.post(
        f"/v1/campaign-applications/{app_id}/reject",
        json={"reason": "mine"},
        headers=promoter.headers,
    )
    assert_problem(response, 403, "not_the_advertiser")
    response = await client.post(
        f"/v1/campaign-applications/{app_id}/withdraw", headers=owner.headers
    )
    assert_problem(response, 403, "not_the_applicant")
    await accept(client, app_id, owner)
    # A consultant campaign with its promoter takes no more applications.
    late = await campaign_helpers.promoter(client)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/applications",
        json={"proposed_rate": 60_000},
        headers=late.headers,
    )
    assert_problem(response, 409, "promoter_selected")

    piece = await agreed(client, app_id, owner, promoter, 20_000)
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    response = await client.post(
        f"/v1/admin/campaign-deliverables/{piece}/resolve",
        json={"decision": "pay", "note": "too early"},
        headers=admin.headers,
    )
    assert_problem(response, 409, "not_disputed")
    await submit(client, piece, promoter)
    await call(
        client,
        "POST",
        f"/v1/campaign-deliverables/{piece}/request-changes",
        owner,
        json={"reason": "redo"},
    )
    await call(
        client,
        "POST",
        f"/v1/campaign-deliverables/{piece}/dispute",
        promoter,
        json={"reason": "no"},
    )
    for body in (
        {"decision": "partial", "amount": 20_000, "note": "all of it is not partial"},
        {"decision": "partial", "note": "how much?"},
        {"decision": "refund", "amount": 5, "note": "an amount with a refund"},
    ):
        response = await client.post(
            f"/v1/admin/campaign-deliverables/{piece}/resolve", json=body, headers=admin.headers
        )
        assert_problem(response, 422, "partial_amount_invalid")
    refunded = await call(
        client,
        "POST",
        f"/v1/admin/campaign-deliverables/{piece}/resolve",
        admin,
        json={"decision": "refund", "note": "the work was not delivered"},
    )
    assert (refunded["status"], refunded["paid_amount"], refunded["resolution"]) == (
        "cancelled",
        None,
        "refund",
    )
    assert (await wallet(client, promoter.headers))["available"] == 0
    assert await escrow(client, campaign["id"], owner) == (100_000, 0)
