"""Payouts through the sandbox: accounts, minimum, statuses, failures returning money at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import JobRuntime
from creatorhub.kit.clock import utcnow
from creatorhub.payments.payouts import SUBMIT_TASK, resubmit_stalled
from creatorhub.payments.tasks import run_payout_cycle
from helpers import account, assert_problem, grant_roles
from payment_helpers import count, fund_wallet, idem, wallet


async def creator_with_payout_account(client: httpx.AsyncClient, funds: int):  # type: ignore[no-untyped-def]
    creator = await account(client, roles=["creator"])
    response = await client.post(
        "/v1/payout-accounts", json={"country": "US"}, headers=creator.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["payouts_enabled"] is True
    if funds:
        await fund_wallet(client, creator.headers, funds)
    return creator


async def test_payout_needs_an_account(client: httpx.AsyncClient) -> None:
    creator = await account(client, roles=["creator"])
    await fund_wallet(client, creator.headers, 50_00)
    response = await client.post(
        "/v1/payouts", json={"amount": 25_00}, headers={**creator.headers, **idem()}
    )
    assert_problem(response, 409, "payout_account_required")
    assert (await wallet(client, creator.headers))["available"] == 50_00


async def test_payout_goes_pending_in_transit_paid(
    client: httpx.AsyncClient, database: Database, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    creator = await creator_with_payout_account(client, 50_00)
    below = await client.post(
        "/v1/payouts", json={"amount": 19_99}, headers={**creator.headers, **idem()}
    )
    assert_problem(below, 422, "payout_below_minimum")
    above = await client.post(
        "/v1/payouts", json={"amount": 50_01}, headers={**creator.headers, **idem()}
    )
    assert_problem(above, 409, "insufficient_funds")
    assert (
        await count(
            database,
            "SELECT count(*) FROM audit.system_logs WHERE component = 'ledger'"
            " AND data->>'action' = 'prevent_negative_wallet' AND source_uid = :uid",
            uid=creator.id,
        )
        == 1
    )
    for bad in (
        {"amount": 0},
        {"amount": 25.5},
        {"amount": "2500"},
        {"amount": 2500, "currency": "BTC"},
    ):
        assert (
            await client.post("/v1/payouts", json=bad, headers={**creator.headers, **idem()})
        ).status_code == 422

    created = await client.post(
        "/v1/payouts", json={"amount": 30_00}, headers={**creator.headers, **idem()}
    )
    assert created.status_code == 201, created.text
    payout = created.json()
    assert (payout["status"], payout["minimum_amount"]) == ("pending", 20_00)
    shown = await wallet(client, creator.headers)
    assert (shown["available"], shown["in_payout"]) == (20_00, 30_00)

    await run_jobs()  # submit to the provider, then its signed payout.paid event
    done = (await client.get(f"/v1/payouts/{payout['id']}", headers=creator.headers)).json()
    assert done["status"] == "paid"
    assert done["provider_reference"] == f"sbx_tr_{payout['id'].replace('-', '')}"
    shown = await wallet(client, creator.headers)
    assert (shown["available"], shown["in_payout"]) == (20_00, 0)


async def test_admin_release_below_minimum_and_a_failed_payout_returns_money(
    client: httpx.AsyncClient, database: Database, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    creator = await creator_with_payout_account(client, 15_00)
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    forbidden = await client.post(
        "/v1/admin/payouts",
        json={"user_id": creator.id, "amount": 13_13, "reason": "closing account"},
        headers={**creator.headers, **idem()},
    )
    assert forbidden.status_code == 403
    released = await client.post(
        "/v1/admin/payouts",
        json={"user_id": creator.id, "amount": 13_13, "reason": "closing account"},
        headers={**admin.headers, **idem()},
    )
    assert released.status_code == 201, released.text
    assert released.json()["released_below_minimum_by"] == admin.id
    assert (
        await count(
            database, "SELECT count(*) FROM audit.audit_logs WHERE action = 'payout.admin_override'"
        )
        == 1
    )
    assert (await wallet(client, creator.headers))["available"] == 1_87

    await run_jobs()  # the sandbox fails 13.13: the money is back at once
    payout = (
        await client.get(f"/v1/payouts/{released.json()['id']}", headers=creator.headers)
    ).json()
    assert payout["status"] == "failed"
    assert payout["failure_reason"] == "sandbox: account closed"
    shown = await wallet(client, creator.headers)
    assert (shown["available"], shown["pending"], shown["in_payout"]) == (15_00, 0, 0)


async def test_cancel_a_pending_payout(client: httpx.AsyncClient) -> None:
    creator = await creator_with_payout_account(client, 40_00)
    created = await client.post("/v1/payouts", json={}, headers={**creator.headers, **idem()})
    assert created.status_code == 201
    assert created.json()["amount"] == 40_00  # no amount: everything available
    payout_id = created.json()["id"]
    other = await account(client, roles=["creator"])
    assert_problem(
        await client.post(f"/v1/payouts/{payout_id}/cancel", headers={**other.headers, **idem()}),
        404,
        "payout_not_found",
    )
    canceled = await client.post(
        f"/v1/payouts/{payout_id}/cancel", headers={**creator.headers, **idem()}
    )
    assert canceled.json()["status"] == "canceled"
    assert (await wallet(client, creator.headers))["available"] == 40_00
    assert_problem(
        await client.post(f"/v1/payouts/{payout_id}/cancel", headers={**creator.headers, **idem()}),
        409,
        "payout_not_cancelable",
    )


async def test_concurrent_payouts_never_overdraw(
    client: httpx.AsyncClient, database: Database
) -> None:
    creator = await creator_with_payout_account(client, 100_00)
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/payouts", json={"amount": 30_00}, headers={**creator.headers, **idem()}
            )
            for _ in range(8)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201, 201, 409, 409, 409, 409, 409], statuses
    assert (await wallet(client, creator.headers))["available"] == 10_00


async def test_monthly_cycle_pays_ready_payees_once(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    rich = await creator_with_payout_account(client, 45_00)
    poor = await creator_with_payout_account(client, 5_00)
    now = datetime.now(UTC)
    async with JobRuntime(database, settings).open():
        first = await run_payout_cycle(now)
        second = await run_payout_cycle(now)
    assert first == {"requested": 1, "below_minimum": 1, "failed": 0}
    assert second == {"requested": 0, "below_minimum": 1, "failed": 0}
    assert (await wallet(client, rich.headers))["in_payout"] == 45_00
    assert (await wallet(client, poor.headers))["available"] == 5_00


async def test_a_payout_whose_submission_gave_up_is_submitted_again(
    client: httpx.AsyncClient, database: Database, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    creator = await creator_with_payout_account(client, 50_00)
    created = await client.post(
        "/v1/payouts", json={"amount": 30_00}, headers={**creator.headers, **idem()}
    )
    payout = created.json()
    # What a provider down for longer than the job's retries leaves: the payout handed over
    # (in_transit, no provider reference) and its submission job failed for good.
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE payments.payouts SET status = 'in_transit',"
                " updated_at = now() - interval '31 minutes' WHERE id = :id"
            ),
            {"id": payout["id"]},
        )
        failed = await session.execute(
            text(
                "UPDATE procrastinate_jobs SET status = 'failed'"
                " WHERE task_name = :task AND args->>'payout_id' = :id"
            ),
            {"task": SUBMIT_TASK, "id": payout["id"]},
        )
        assert failed.rowcount == 1  # type: ignore[attr-defined]
        # Not yet stalled (changed 29 minutes ago) is left alone; neither is one whose
        # submission is still queued.
        assert await resubmit_stalled(session, utcnow() - timedelta(minutes=2)) == []
    async with database.session_scope() as session:
        assert await resubmit_stalled(session, utcnow()) == [uuid.UUID(payout["id"])]
    async with database.session_scope() as session:
        assert await resubmit_stalled(session, utcnow()) == []  # its new job is queued

    await run_jobs()  # the new submission, then the provider's payout.paid event
    done = (await client.get(f"/v1/payouts/{payout['id']}", headers=creator.headers)).json()
    assert done["status"] == "paid"
    assert done["provider_reference"] == f"sbx_tr_{payout['id'].replace('-', '')}"
    shown = await wallet(client, creator.headers)
    assert (shown["available"], shown["in_payout"]) == (20_00, 0)
