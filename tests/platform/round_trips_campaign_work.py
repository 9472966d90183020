"""The round-trip scenarios of consultant and seller work (issue 15): one successful request
per operation, counted in a world of its own ("campaign_work") by
tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client `w.client`, recorder `w.rec`, database); an
operation is called once with `await w.rec.call(method, template, at={...}, json=..., headers=...)`.

A consultant campaign: a promoter applies, the advertiser counters, the promoter accepts; a
second promoter applies and withdraws, a third is rejected (on a seller campaign, where the
first acceptance does not close the others). Deliverables: proposed, agreed, worked, approved;
one cancelled; one rejected, disputed and decided by an admin.
"""

from __future__ import annotations

from typing import Any

from campaign_helpers import advertiser, promoter
from work_helpers import apply, funded_work_campaign, propose, submit


async def world(w: Any) -> None:
    rec, client = w.rec, w.client
    owner = await advertiser(client, funds=200_000)
    first = await promoter(client)
    second = await promoter(client)
    third = await promoter(client)
    campaign = await funded_work_campaign(client, owner)
    seller = await funded_work_campaign(client, owner, "seller")

    applied = await rec.call(
        "POST",
        "/v1/campaigns/{campaign_id}/applications",
        at={"campaign_id": campaign["id"]},
        json={"proposed_rate": 90_000, "note": "two similar projects"},
        headers=first.headers,
        status=201,
    )
    app = {"application_id": applied.json()["id"]}
    await rec.call(
        "POST",
        "/v1/campaign-applications/{application_id}/offers",
        at=app,
        json={"amount": 80_000, "note": "our scope"},
        headers=owner.headers,
    )
    await rec.call(
        "POST", "/v1/campaign-applications/{application_id}/accept", at=app, headers=first.headers
    )
    await rec.call(
        "GET",
        "/v1/campaigns/{campaign_id}/applications",
        at={"campaign_id": campaign["id"]},
        headers=owner.headers,
    )
    await rec.call("GET", "/v1/campaign-applications", headers=first.headers)
    await rec.call(
        "GET", "/v1/campaign-applications/{application_id}", at=app, headers=owner.headers
    )

    withdrawn = await apply(client, seller["id"], second, 30_000)
    await rec.call(
        "POST",
        "/v1/campaign-applications/{application_id}/withdraw",
        at={"application_id": withdrawn["id"]},
        headers=second.headers,
    )
    rejected = await apply(client, seller["id"], third, 30_000)
    await rec.call(
        "POST",
        "/v1/campaign-applications/{application_id}/reject",
        at={"application_id": rejected["id"]},
        json={"reason": "we need a video editor"},
        headers=owner.headers,
    )

    proposed = await rec.call(
        "POST",
        "/v1/campaign-applications/{application_id}/deliverables",
        at=app,
        json={"title": "Audit", "amount": 30_000, "due_date": "2099-01-31"},
        headers=owner.headers,
        status=201,
    )
    audit = {"deliverable_id": proposed.json()["deliverables"][0]["id"]}
    await rec.call(
        "POST", "/v1/campaign-deliverables/{deliverable_id}/agree", at=audit, headers=first.headers
    )
    await rec.call(
        "POST",
        "/v1/campaign-deliverables/{deliverable_id}/works",
        at=audit,
        json={"links": ["https://docs.example.com/audit"], "note": "first draft"},
        headers=first.headers,
        status=201,
    )
    await rec.call(
        "POST",
        "/v1/campaign-deliverables/{deliverable_id}/approve",
        at=audit,
        headers=owner.headers,
    )
    spare = await propose(client, app["application_id"], owner, 10_000, "Spare")
    await rec.call(
        "POST",
        "/v1/campaign-deliverables/{deliverable_id}/cancel",
        at={"deliverable_id": spare["id"]},
        headers=owner.headers,
    )

    plan = await propose(client, app["application_id"], owner, 20_000, "Plan")
    contested = {"deliverable_id": plan["id"]}
    agreed = await client.post(
        f"/v1/campaign-deliverables/{plan['id']}/agree", headers=first.headers
    )
    assert agreed.status_code == 200, agreed.text
    await submit(client, plan["id"], first)
    await rec.call(
        "POST",
        "/v1/campaign-deliverables/{deliverable_id}/request-changes",
        at=contested,
        json={"reason": "too short"},
        headers=owner.headers,
    )
    await rec.call(
        "POST",
        "/v1/campaign-deliverables/{deliverable_id}/dispute",
        at=contested,
        json={"reason": "the length was agreed"},
        headers=first.headers,
    )
    admin = await w.admin()
    await rec.call("GET", "/v1/admin/campaign-disputes", headers=admin.headers)
    await rec.call(
        "POST",
        "/v1/admin/campaign-deliverables/{deliverable_id}/resolve",
        at=contested,
        json={"decision": "partial", "amount": 15_000, "note": "most of it was usable"},
        headers=admin.headers,
    )
    await rec.call(
        "POST",
        "/v1/campaign-applications/{application_id}/agree-to-close",
        at=app,
        headers=first.headers,
    )
