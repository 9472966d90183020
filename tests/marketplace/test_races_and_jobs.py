"""Concurrency (claims racing for slots, approvals racing a close), the background jobs (closing
at end_date through the real worker, provider refunds) and payouts marking earnings paid."""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from conftest import make_settings
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import defer
from creatorhub.kit.clock import utcnow
from creatorhub.marketplace import service
from creatorhub.marketplace.tasks import close_ended_jobs_task
from creatorhub.payments.providers.base import ProviderRefund
from helpers import Account, assert_problem
from market_helpers import approve, brand, claim, close, create_job, creator, open_job, submit
from payment_helpers import count, funding_event, idem, post_event, wallet


async def all_answers(requests: Iterable[Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """Every concurrent request's answer, once all have ended.

    A request that raises (an unexpected error re-raised by the in-process transport) fails
    the test only after the others ended: a bare gather would fail at once and leave them
    running through the teardown, each logging its own failure.
    """
    results = await asyncio.gather(*requests, return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    assert not failures, f"{len(failures)} of {len(results)} requests raised: {failures[:3]!r}"
    return [result for result in results if isinstance(result, httpx.Response)]


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Fifty creators log in from the test client's one address: above the default per-IP limit.
    return make_settings(database_url, login_max_attempts_per_ip=1_000)


async def test_fifty_concurrent_claims_on_five_slots_take_exactly_five(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=1_000_01)
    job = await open_job(client, owner, budget=1_000_01, influencer_slots=5, influence_min=0)
    creators = [await creator(client) for _ in range(50)]

    answers = await all_answers(claim(client, job["uid"], who) for who in creators)

    codes = Counter(a.status_code if a.status_code != 409 else a.json()["code"] for a in answers)
    assert codes == {201: 5, "job_full": 45}, codes
    won = sorted(
        (a.json() for a in answers if a.status_code == 201), key=lambda s: s["slot_number"]
    )
    assert [s["slot_number"] for s in won] == [1, 2, 3, 4, 5]
    assert [s["amount"] for s in won] == [200_01, 200_00, 200_00, 200_00, 200_00]
    assert (
        await count(
            database, "SELECT claim_count FROM marketplace.jobs WHERE uid = :job", job=job["uid"]
        )
        == 5
    )
    assert (
        await count(
            database,
            "SELECT sum(amount) FROM ledger.holds WHERE status = 'pending'"
            " AND reference_type = 'influencer_job'",
        )
        == 1_000_01
    )
    assert (
        await count(
            database,
            "SELECT count(*) FROM marketplace.escrow_events WHERE job_uid = :job"
            " AND event_type = 'claimed'",
            job=job["uid"],
        )
        == 5
    )


async def test_the_same_creator_claiming_at_once_gets_one_slot(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    eager = await creator(client)
    answers = await all_answers(claim(client, job["uid"], eager) for _ in range(10))
    codes = Counter(a.status_code if a.status_code != 409 else a.json()["code"] for a in answers)
    assert codes == {201: 1, "already_claimed": 9}, codes
    assert (
        await count(
            database, "SELECT count(*) FROM marketplace.claims WHERE job_id = :job", job=job["uid"]
        )
        == 1
    )


async def test_approvals_racing_the_close_pay_or_refund_each_slot_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=400_00)
    job = await open_job(client, owner, budget=400_00, influencer_slots=4)
    slots = []
    for _ in range(4):
        who = await creator(client)
        slot = (await claim(client, job["uid"], who)).json()
        assert (await submit(client, slot["uid"], who)).status_code == 201
        slots.append(slot)

    actions: list[Callable[[], Awaitable[httpx.Response]]] = [
        *(lambda s=s: approve(client, s["uid"], owner) for s in slots),
        lambda: close(client, job["uid"], owner),
    ]
    answers = await all_answers(action() for action in actions)
    approvals, closing = answers[:4], answers[4]
    assert closing.status_code == 200, closing.text
    paid = [a for a in approvals if a.status_code == 200]
    refused = [a for a in approvals if a.status_code != 200]
    for refusal in refused:
        assert_problem(refusal, 409, "job_closed")
    # Which approvals came before the close is the scheduler's choice; each one after it is
    # refused and logged once (seed 000's system_logs record).
    assert len(paid) + len(refused) == 4
    assert await count(
        database,
        "SELECT count(*) FROM audit.system_logs WHERE component = 'marketplace'"
        " AND data->>'action' = 'prevent_modifications_after_closed'",
    ) == len(refused)
    refund = closing.json()["refund"]
    refunded = refund["refunded"] if refund else 0
    # Whatever the interleaving: each slot was paid or refunded, never both, never neither.
    assert len(paid) * 100_00 + refunded == 400_00
    assert (await wallet(client, owner.headers))["available"] == refunded
    assert await count(
        database,
        "SELECT count(*) FROM marketplace.influencer_payouts WHERE job_uid = :job",
        job=job["uid"],
    ) == len(paid)


async def test_two_jobs_sharing_creators_close_at_once_without_a_deadlock(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Closing voids each held slot's hold, which locks the job's escrow and the creator's
    wallet. Two jobs whose creators claimed in opposite orders, closed at once, would lock the
    wallets in opposite orders if holds were voided in claim order: a deadlock, one close
    failing. They are voided in the wallets' order, so both closes go through, every round."""
    creator_count = 20  # enough holds that the two statements overlap (6 did not, here)
    owners = [await brand(client, funds=4 * 60_00) for _ in range(2)]
    creators = [await creator(client) for _ in range(creator_count)]
    for _ in range(4):
        first = await open_job(client, owners[0], budget=60_00, influencer_slots=creator_count)
        second = await open_job(client, owners[1], budget=60_00, influencer_slots=creator_count)
        for who in creators:
            assert (await claim(client, first["uid"], who)).status_code == 201
        for who in reversed(creators):
            assert (await claim(client, second["uid"], who)).status_code == 201
        answers = await all_answers(
            [close(client, first["uid"], owners[0]), close(client, second["uid"], owners[1])]
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert [a.json()["refund"]["refunded"] for a in answers] == [60_00, 60_00]
    for owner in owners:
        assert (await wallet(client, owner.headers))["available"] == 4 * 60_00
    assert (
        await count(
            database,
            "SELECT count(*) FROM ledger.holds WHERE status = 'voided'"
            " AND reference_type = 'influencer_job'",
        )
        == 4 * 2 * creator_count
    )


async def test_jobs_close_at_end_date_through_the_worker(
    client: httpx.AsyncClient, database: Database, run_jobs: Callable[[], Awaitable[None]]
) -> None:
    owner = await brand(client, funds=301_00)
    job = await open_job(client, owner, budget=300_00, influencer_slots=3)
    worker_creator = await creator(client)
    slot = (await claim(client, job["uid"], worker_creator)).json()
    assert (await submit(client, slot["uid"], worker_creator)).status_code == 201
    assert (await approve(client, slot["uid"], owner)).status_code == 200
    still_open = await open_job(client, owner, budget=1_00, influencer_slots=1)
    del still_open
    # The end date passes (moved in the database: the API refuses past dates), and the periodic
    # task's run is queued as its schedule would.
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE marketplace.jobs SET end_date = now() - interval '1 minute'"
                " WHERE uid = :job"
            ),
            {"job": job["uid"]},
        )
        await defer(session, close_ended_jobs_task, timestamp=int(datetime.now(UTC).timestamp()))
    await run_jobs()

    view = (
        await client.get(f"/v1/marketplace/brand/jobs/{job['uid']}", headers=owner.headers)
    ).json()
    assert (view["status"], view["close_reason"]) == ("closed", "end_date")
    assert view["refund"]["refunded"] == 200_00 and view["refund"]["issued_at"] is not None
    # $301 - $300 - $1 for the other job + $200 back.
    assert (await wallet(client, owner.headers))["available"] == 200_00
    assert (
        await count(database, "SELECT count(*) FROM marketplace.jobs WHERE closed_at IS NULL") == 1
    )


async def test_provider_funding_opens_the_job_and_the_refund_goes_back_to_the_charge(
    client: httpx.AsyncClient, database: Database, run_jobs: Callable[[], Awaitable[None]]
) -> None:
    owner = await brand(client)
    job = await create_job(client, owner, budget=300_00, influencer_slots=3)
    funded = await client.post(
        f"/v1/marketplace/jobs/{job['uid']}/fund",
        json={"source": "provider"},
        headers={**owner.headers, **idem()},
    )
    assert funded.status_code == 200, funded.text
    intent = funded.json()["funding_intent"]
    assert (intent["amount"], intent["target_type"]) == (300_00, "job")
    assert funded.json()["job"]["status"] == "awaiting_funding"

    # The provider confirms (a signed webhook); the job opens with the charge's reference.
    event = funding_event(intent["provider_reference"], amount=300_00)
    assert (await post_event(client, event)).status_code == 200
    view = (
        await client.get(f"/v1/marketplace/brand/jobs/{job['uid']}", headers=owner.headers)
    ).json()
    assert view["status"] == "open" and view["funding_source"] == "provider"
    assert view["stripe_charge_id"] == intent["provider_reference"]
    assert view["escrow_balance"] == 300_00
    # A replayed event changes nothing.
    assert (await post_event(client, event)).status_code == 200
    assert (await wallet(client, owner.headers))["available"] == 0

    who = await creator(client)
    slot = (await claim(client, job["uid"], who)).json()
    assert (await submit(client, slot["uid"], who)).status_code == 201
    assert (await approve(client, slot["uid"], owner)).status_code == 200
    closed = (await close(client, job["uid"], owner)).json()
    assert closed["refund"]["refunded"] == 200_00
    assert closed["refund"]["issued_at"] is None  # issued by the refund job
    await run_jobs()
    view = (
        await client.get(f"/v1/marketplace/brand/jobs/{job['uid']}", headers=owner.headers)
    ).json()
    assert view["refund"]["issued_at"] is not None
    assert view["refund"]["provider_refund_id"].startswith("sbx_re_")
    assert view["escrow_balance"] == 0
    # The money went back to the charge, not to the wallet.
    assert (await wallet(client, owner.headers))["available"] == 0
    assert (
        await count(
            database,
            "SELECT count(*) FROM marketplace.escrow_events WHERE job_uid = :job"
            " AND event_type = 'refund'",
            job=job["uid"],
        )
        == 1
    )


# The session of the run that asks the provider (each concurrent run has its own).
_asking: contextvars.ContextVar[AsyncSession] = contextvars.ContextVar("asking")


class WatchingProvider:
    """A provider over the network, whose refund looks at the database while it is asked: the
    job's session must hold no transaction, and anyone must be able to lock the refund's row.
    `together` calls wait for each other, so that two runs ask at the same time."""

    name = "watching"
    calls_out = True

    def __init__(self, database: Database, *, together: int = 1) -> None:
        self.database = database
        self.asked: list[uuid.UUID] = []
        self._barrier = asyncio.Barrier(together)
        self._one_look = asyncio.Lock()  # the looks' own locks must not meet

    async def refund(
        self, *, refund_id: uuid.UUID, payment_reference: str, amount: int
    ) -> ProviderRefund:
        self.asked.append(refund_id)
        async with self._one_look, self.database.session_scope() as other:
            await other.execute(
                text(
                    "SELECT 1 FROM marketplace.unfilled_refunds WHERE uid = :uid FOR UPDATE NOWAIT"
                ),
                {"uid": refund_id},
            )
        assert not _asking.get().in_transaction()
        await self._barrier.wait()
        # The provider's idempotency key is the refund's id: one refund, however often asked.
        return ProviderRefund(f"re_{refund_id.hex}", "pending", amount)


async def provider_funded_refund(client: httpx.AsyncClient) -> tuple[Account, uuid.UUID]:
    """A closed, provider-funded job with one slot paid: its refund (200_00) awaits the job."""
    owner = await brand(client)
    job = await create_job(client, owner, budget=300_00, influencer_slots=3)
    funded = await client.post(
        f"/v1/marketplace/jobs/{job['uid']}/fund",
        json={"source": "provider"},
        headers={**owner.headers, **idem()},
    )
    intent = funded.json()["funding_intent"]
    event = funding_event(intent["provider_reference"], amount=300_00)
    assert (await post_event(client, event)).status_code == 200
    who = await creator(client)
    slot = (await claim(client, job["uid"], who)).json()
    assert (await submit(client, slot["uid"], who)).status_code == 201
    assert (await approve(client, slot["uid"], owner)).status_code == 200
    closed = (await close(client, job["uid"], owner)).json()
    assert closed["refund"]["issued_at"] is None
    return owner, uuid.UUID(closed["refund"]["uid"])


async def issue(database: Database, provider: WatchingProvider, refund: uuid.UUID) -> str | None:
    """One run of the `issue_refund` job's work, as the task runs it."""
    async with database.session_scope() as session:
        _asking.set(session)
        issued = await service.issue_provider_refund(session, provider, refund, now=utcnow())
        return issued.provider_refund_id if issued is not None else None


async def test_the_provider_refund_is_asked_outside_any_transaction(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner, refund = await provider_funded_refund(client)
    provider = WatchingProvider(database)

    assert await issue(database, provider, refund) == f"re_{refund.hex}"
    # A second run (the job retried) finds it issued: nothing is asked or moved again.
    assert await issue(database, provider, refund) == f"re_{refund.hex}"
    assert provider.asked == [refund]
    view = await client.get("/v1/marketplace/brand/jobs", headers=owner.headers)
    assert view.json()["items"][0]["escrow_balance"] == 0


async def test_two_runs_of_the_refund_job_refund_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner, refund = await provider_funded_refund(client)
    provider = WatchingProvider(database, together=2)

    answers = await asyncio.gather(*(issue(database, provider, refund) for _ in range(2)))

    # Both asked the provider (under the one key), one recorded it; both see it issued.
    assert provider.asked == [refund, refund]
    assert answers == [f"re_{refund.hex}"] * 2
    moved = "SELECT count(*) FROM ledger.transfers WHERE idempotency_key = :key"
    assert await count(database, moved, key=f"marketplace:refund:{refund}") == 1
    refund_events = (
        "SELECT count(*) FROM marketplace.escrow_events e JOIN marketplace.unfilled_refunds r"
        " ON r.job_uid = e.job_uid WHERE r.uid = :uid AND e.event_type = 'refund'"
    )
    assert await count(database, refund_events, uid=refund) == 1
    view = await client.get("/v1/marketplace/brand/jobs", headers=owner.headers)
    assert view.json()["items"][0]["escrow_balance"] == 0


async def test_a_late_provider_confirmation_goes_to_the_wallet(
    client: httpx.AsyncClient,
) -> None:
    owner = await brand(client, funds=300_00)
    job = await create_job(client, owner, budget=300_00)
    intent = (
        await client.post(
            f"/v1/marketplace/jobs/{job['uid']}/fund",
            json={"source": "provider"},
            headers={**owner.headers, **idem()},
        )
    ).json()["funding_intent"]
    # Meanwhile the brand funds it from the wallet.
    from_wallet = await client.post(
        f"/v1/marketplace/jobs/{job['uid']}/fund",
        json={"source": "wallet"},
        headers={**owner.headers, **idem()},
    )
    assert from_wallet.status_code == 200
    assert (await wallet(client, owner.headers))["available"] == 0
    await post_event(client, funding_event(intent["provider_reference"], amount=300_00))
    # The confirmed charge is not lost: it lands in the brand's wallet.
    assert (await wallet(client, owner.headers))["available"] == 300_00
    view = (
        await client.get(f"/v1/marketplace/brand/jobs/{job['uid']}", headers=owner.headers)
    ).json()
    assert view["escrow_balance"] == 300_00 and view["funding_source"] == "wallet"


async def test_a_paid_payout_marks_the_earnings_it_carried(
    client: httpx.AsyncClient, database: Database, run_jobs: Callable[[], Awaitable[None]]
) -> None:
    owner = await brand(client, funds=600_00)
    who = await creator(client)
    for _ in range(2):
        job = await open_job(client, owner, budget=300_00, influencer_slots=1)
        slot = (await claim(client, job["uid"], who)).json()
        assert (await submit(client, slot["uid"], who)).status_code == 201
        assert (await approve(client, slot["uid"], owner)).status_code == 200
    assert (await wallet(client, who.headers))["available"] == 540_00
    account = await client.post(
        "/v1/payout-accounts", json={"country": "US"}, headers={**who.headers, **idem()}
    )
    assert account.status_code == 201, account.text
    payout = await client.post(
        "/v1/payouts", json={"amount": 300_00}, headers={**who.headers, **idem()}
    )
    assert payout.status_code == 201, payout.text
    await run_jobs()  # submit to the sandbox, which delivers payout.paid
    await run_jobs()
    status = (await client.get(f"/v1/payouts/{payout.json()['id']}", headers=who.headers)).json()
    assert status["status"] == "paid", status
    mine = (await client.get("/v1/marketplace/claims", headers=who.headers)).json()
    paid = [item["payout"]["payed_at"] is not None for item in mine["items"]]
    # $300 covers the older $270 earning whole, not the newer one.
    assert sorted(paid) == [False, True]
    assert mine["earned"][0]["paid_out"] == 270_00
