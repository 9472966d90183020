"""Mail delivery through the outbox: a real SMTP server on loopback, a real worker; and an SMTP
server that hangs, while which no lock and no transaction is held (issue 12)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from sqlalchemy import text

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import JobRuntime, job_app
from creatorhub.mail.tasks import (
    MAX_ATTEMPTS,
    STALLED_ERROR,
    claim,
    deliver_mail,
    finish_attempt,
    requeue_stalled,
)
from helpers import HELD_SECONDS, login, open_transactions, register, scalar, unique_email
from process_helpers import free_port

TOKEN_IN_MAIL = re.compile(r"\b(che_[A-Za-z0-9_\-]+)")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every message the server accepts."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
            )
        )
        return "250 Message accepted for delivery"


@dataclass
class Harness:
    """The app on the test database with given settings, a client, and a worker to run."""

    app: FastAPI
    client: httpx.AsyncClient
    database: Database
    settings: Settings

    async def run_jobs(self) -> None:
        await JobRuntime(self.database, self.settings).run_worker(
            wait=False, install_signal_handlers=False
        )


@asynccontextmanager
async def started(settings: Settings, database_url: str) -> AsyncIterator[Harness]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Harness(application, http, application.state.db, settings)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def smtp_harness(smtp_server: tuple[Inbox, int], database_url: str) -> AsyncIterator[Harness]:
    _, port = smtp_server
    settings = make_settings(
        database_url, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
    )
    async with started(settings, database_url) as harness:
        yield harness


@pytest.fixture
async def dead_smtp_harness(database_url: str) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_starttls=False,
        smtp_timeout_seconds=2.0,
    )
    async with started(settings, database_url) as harness:
        yield harness


async def outbox_rows(database: Database, to_address: str) -> list[dict[str, Any]]:
    async with database.session_scope() as session:
        rows = (
            (
                await session.execute(
                    text(
                        "SELECT id, status, attempts, last_error, sent_at, template, body_text "
                        "FROM mail.outbox WHERE to_address = :to ORDER BY created_at"
                    ),
                    {"to": to_address},
                )
            )
            .mappings()
            .all()
        )
    return [dict(row) for row in rows]


async def delivery_jobs(database: Database, message_id: object) -> list[dict[str, Any]]:
    async with database.session_scope() as session:
        rows = (
            (
                await session.execute(
                    text(
                        "SELECT id, status::text AS status, attempts, scheduled_at, "
                        "scheduled_at > now() AS in_future "
                        "FROM procrastinate.procrastinate_jobs "
                        "WHERE task_name = :task AND args->>'message_id' = :id"
                    ),
                    {"task": deliver_mail.name, "id": str(message_id)},
                )
            )
            .mappings()
            .all()
        )
    return [dict(row) for row in rows]


async def register_and_check_pending(harness: Harness) -> tuple[str, dict[str, Any]]:
    address = unique_email("mail")
    # Unverified: the tests below verify it with the code of the mail they receive.
    await register(harness.client, email=address, verified=False)
    rows = await outbox_rows(harness.database, address)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["template"] == "verify_email"
    assert row["status"] == "pending"
    assert row["attempts"] == 0
    assert row["sent_at"] is None
    jobs = await delivery_jobs(harness.database, row["id"])
    assert [job["status"] for job in jobs] == ["todo"], jobs
    return address, row


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


async def test_registration_mail_is_sent_over_smtp_by_the_worker(
    smtp_harness: Harness, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    address, row = await register_and_check_pending(smtp_harness)
    assert inbox.messages == [], "nothing is sent before the transaction's job runs"

    await smtp_harness.run_jobs()

    received = [m for m in inbox.messages if address in m.rcpt_tos]
    assert len(received) == 1, [m.rcpt_tos for m in inbox.messages]
    assert len(inbox.messages) == 1
    message = received[0].message
    assert message["To"] == address
    assert message["Subject"] == "Confirm your e-mail address"
    assert message["Message-ID"] == f"<{row['id']}@creatorhub>"
    token = TOKEN_IN_MAIL.search(row["body_text"])
    assert token is not None
    assert token.group(1) in body_of(message)

    [after] = await outbox_rows(smtp_harness.database, address)
    assert after["status"] == "sent"
    assert after["attempts"] == 1
    assert after["sent_at"] is not None
    assert after["last_error"] is None
    assert [job["status"] for job in await delivery_jobs(smtp_harness.database, row["id"])] == [
        "succeeded"
    ]

    # Running the worker again sends nothing twice.
    await smtp_harness.run_jobs()
    assert len(inbox.messages) == 1


async def test_the_code_in_the_received_mail_verifies_the_address(
    smtp_harness: Harness, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    address, _ = await register_and_check_pending(smtp_harness)
    await smtp_harness.run_jobs()
    [received] = [m for m in inbox.messages if address in m.rcpt_tos]
    match = TOKEN_IN_MAIL.search(body_of(received.message))
    assert match is not None, body_of(received.message)

    tokens = await login(smtp_harness.client, address)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    before = await smtp_harness.client.get("/v1/me", headers=headers)
    assert before.json()["email_verified"] is False

    verified = await smtp_harness.client.post(
        "/v1/auth/verify-email", json={"token": match.group(1)}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified"] is True
    after = await smtp_harness.client.get("/v1/me", headers=headers)
    assert after.json()["email_verified"] is True

    # The code is spent.
    again = await smtp_harness.client.post("/v1/auth/verify-email", json={"token": match.group(1)})
    assert again.status_code == 410, again.text


async def test_smtp_server_down_keeps_the_mail_pending_and_the_job_queued(
    dead_smtp_harness: Harness,
) -> None:
    address, row = await register_and_check_pending(dead_smtp_harness)

    # The attempt fails; procrastinate schedules the retry in the future, so a worker that
    # stops when idle returns instead of spinning on it.
    await dead_smtp_harness.run_jobs()

    [after] = await outbox_rows(dead_smtp_harness.database, address)
    assert after["status"] == "pending"
    assert after["attempts"] == 1
    assert after["sent_at"] is None
    assert after["last_error"], after
    assert "Connection" in after["last_error"] or "Errno" in after["last_error"], after

    [job] = await delivery_jobs(dead_smtp_harness.database, row["id"])
    assert job["status"] == "todo", job
    assert job["attempts"] == 1, job
    assert job["in_future"] is True, job


async def test_without_smtp_host_the_mail_is_logged(
    client: httpx.AsyncClient, database: Database, settings: Settings, run_jobs: Any
) -> None:
    assert settings.smtp_host is None
    address = unique_email("devlog")
    await register(client, email=address)
    [row] = await outbox_rows(database, address)
    assert row["status"] == "pending"

    await run_jobs()

    [after] = await outbox_rows(database, address)
    assert after["status"] == "logged"
    assert after["attempts"] == 1
    assert after["sent_at"] is not None
    assert [job["status"] for job in await delivery_jobs(database, row["id"])] == ["succeeded"]


# --- no transaction while the SMTP server is talked to ---------------------------------------


@dataclass
class HangingInbox(Inbox):
    """Holds every message's DATA until `release` is set; `entered` tells one is waiting.

    aiosmtpd runs its own event loop in a thread: threading events reach across."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.entered.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def hanging_smtp_server() -> Iterator[tuple[HangingInbox, int]]:
    inbox = HangingInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        inbox.release.set()
        controller.stop()


@pytest.fixture
async def hanging_harness(
    hanging_smtp_server: tuple[HangingInbox, int], database_url: str
) -> AsyncIterator[Harness]:
    _, port = hanging_smtp_server
    settings = make_settings(
        database_url, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
    )
    async with started(settings, database_url) as harness:
        yield harness


async def test_a_hanging_smtp_server_holds_no_lock_and_the_mail_goes_once(
    hanging_harness: Harness, hanging_smtp_server: tuple[HangingInbox, int]
) -> None:
    inbox, _ = hanging_smtp_server
    harness = hanging_harness
    address, row = await register_and_check_pending(harness)
    worker = asyncio.create_task(harness.run_jobs())
    try:
        # The worker is in the middle of the SMTP conversation, waiting on the server.
        assert await asyncio.to_thread(inbox.entered.wait, 15), "the message never reached DATA"
        await asyncio.sleep(HELD_SECONDS)
        assert not worker.done()
        assert await open_transactions(harness.database, "mail.outbox") == []

        # The claim is committed and nothing locks the row: another session locks it at once.
        started_at = time.monotonic()
        async with harness.database.session_scope() as session:
            status, attempts, claimed = (
                await session.execute(
                    text(
                        "SELECT status, attempts, claimed_until > now() FROM mail.outbox"
                        " WHERE id = :id FOR UPDATE NOWAIT"
                    ),
                    {"id": row["id"]},
                )
            ).one()
        assert (status, attempts, claimed) == ("sending", 1, True)
        # A second delivery of the same message skips it, without waiting for the first.
        assert await asyncio.wait_for(deliver_mail(message_id=str(row["id"])), 5) == "skipped"
        waited = time.monotonic() - started_at
        assert waited < 2, waited
        assert inbox.messages == []
    finally:
        inbox.release.set()
        await asyncio.wait_for(worker, 30)

    assert len(inbox.messages) == 1
    assert inbox.messages[0].rcpt_tos == [address]
    [after] = await outbox_rows(harness.database, address)
    assert (after["status"], after["attempts"]) == ("sent", 1)
    assert after["sent_at"] is not None
    assert (
        await scalar(
            harness.database, "SELECT claimed_until FROM mail.outbox WHERE id = :id", id=row["id"]
        )
        is None
    )
    assert [job["status"] for job in await delivery_jobs(harness.database, row["id"])] == [
        "succeeded"
    ]


async def test_an_attempt_whose_worker_died_is_sent_again_once_its_claim_ran_out(
    smtp_harness: Harness, smtp_server: tuple[Inbox, int]
) -> None:
    periodic = {
        task.periodic_id: task for task in job_app.periodic_registry.periodic_tasks.values()
    }
    assert periodic["requeue_stalled_mail"].cron == "* * * * *"
    inbox, _ = smtp_server
    harness = smtp_harness
    address, row = await register_and_check_pending(harness)
    # A worker claims the message and dies before the SMTP server answers.
    dead = await claim(harness.database, row["id"], timedelta(minutes=5))
    assert dead is not None and dead.claimed_until is not None

    # While its claim stands, nothing takes the message: not its job, not the sweep.
    assert await deliver_mail(message_id=str(row["id"])) == "skipped"
    async with harness.database.session_scope() as session:
        assert await requeue_stalled(session) == 0

    async with harness.database.session_scope() as session:
        await session.execute(
            text("UPDATE mail.outbox SET claimed_until = now() - interval '1 second'")
        )
    async with harness.database.session_scope() as session:
        assert await requeue_stalled(session) == 1
    [requeued] = await outbox_rows(harness.database, address)
    assert (requeued["status"], requeued["attempts"]) == ("pending", 1)
    assert requeued["last_error"] == STALLED_ERROR
    # The registration's job (its worker "died"; procrastinate would run it again) and the
    # sweep's: whichever runs first sends the message, the other finds it sent.
    assert [job["status"] for job in await delivery_jobs(harness.database, row["id"])] == [
        "todo",
        "todo",
    ]
    # The dead attempt's outcome, arriving late, is not recorded: its claim is gone.
    assert not await finish_attempt(
        harness.database, row["id"], dead.claimed_until, status="failed", last_error="late"
    )

    await harness.run_jobs()
    assert [m.rcpt_tos for m in inbox.messages] == [[address]]
    [after] = await outbox_rows(harness.database, address)
    assert (after["status"], after["attempts"]) == ("sent", 2)
    jobs = await delivery_jobs(harness.database, row["id"])
    assert [job["status"] for job in jobs] == ["succeeded", "succeeded"]


async def test_a_stalled_last_attempt_marks_the_mail_failed(
    smtp_harness: Harness, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    harness = smtp_harness
    address, row = await register_and_check_pending(harness)
    async with harness.database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE mail.outbox SET status = 'sending', attempts = :n,"
                " claimed_until = now() - interval '1 second' WHERE id = :id"
            ),
            {"n": MAX_ATTEMPTS, "id": row["id"]},
        )
        assert await requeue_stalled(session) == 1
    [after] = await outbox_rows(harness.database, address)
    assert (after["status"], after["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert after["last_error"] == STALLED_ERROR
    # No new job: the one left finds the message failed.
    await harness.run_jobs()
    assert inbox.messages == []
