"""Faults under load: money keeps its books while the API, the worker and PostgreSQL die.

A real `creatorhub serve --no-worker` and a real `creatorhub worker` run as subprocesses on a
database of a PostgreSQL of this test's own (it is crashed, so it cannot be the shared one).
Clients fund their wallets through the sandbox provider (create an intent, confirm it; the
provider's webhook, delivered by the worker, credits the wallet) and request payouts (the
worker submits them; the provider's webhook settles them), every request with an
`Idempotency-Key` and retried with the same key after a connection error, a 5xx or a 409
`idempotency_key_in_flight`, until it gets a definitive answer. Meanwhile the API is killed
with SIGKILL and started again (twice), so is the worker (twice), and PostgreSQL is stopped
with `-m immediate` and started again once. Once the worker has drained the queue:

* every acknowledged operation exists exactly once, and nothing else does;
* every key, retried or not, had exactly one effect;
* each wallet holds what its acknowledged operations imply;
* the worker that lived through the database crash is the same process, and said so in two
  log lines; `creatorhub ledger verify` passes.

The stalled-job threshold is scaled down to 10 s (the smallest allowed; default 30) so that
the jobs of a killed worker come back within the test's time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from crashable_pg import CrashablePostgres

from conftest import make_settings
from creatorhub.db import Database
from helpers import PASSWORD, mailed_token, scalar
from process_helpers import command_prefix, free_port

CLIENTS = 8
LOAD_SECONDS = 44.0
STALLED_SECONDS = 10
FAIL_AMOUNT = 13_13  # the sandbox declines it (sandbox_fail_amounts)
PAYOUT_AMOUNT = 2_500
REQUEST_DEADLINE = 90.0  # one operation gets a definitive answer within this, faults included
SETTLE_SECONDS = 90.0
# Answers that are not definitive: the request may or may not have happened; retry it as is.
RETRY_STATUSES = {500, 502, 503, 504}

# What happens when, in seconds from the start of the load (each waits for the platform to be
# whole again first).
FAULTS = [
    (4.0, "kill_api"),
    (11.0, "kill_worker"),
    (18.0, "crash_database"),
    (28.0, "kill_api"),
    (35.0, "kill_worker"),
]


@pytest.fixture
def crashable_pg() -> Iterator[CrashablePostgres]:
    server = CrashablePostgres()
    try:
        yield server
    finally:
        server.close()


@dataclass
class Process:
    """One run of a command, its stderr in a file."""

    name: str
    process: asyncio.subprocess.Process
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    def events(self, event: str) -> int:
        count = 0
        for line in self.lines():
            if line.startswith("{") and json.loads(line).get("event") == event:
                count += 1
        return count


@dataclass
class Platform:
    """`serve --no-worker` and `worker` on one database, restarted at will."""

    url: str
    port: int
    workdir: Path
    runs: list[Process] = field(default_factory=list)
    api: Process | None = None
    worker: Process | None = None
    kills: dict[str, int] = field(default_factory=lambda: {"api": 0, "worker": 0})
    api_back_after: list[float] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self, level: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREATORHUB_")}
        env.update(
            {
                "DATABASE_URL": self.url,
                "CREATORHUB_ENVIRONMENT": "test",
                "CREATORHUB_RUN_WORKER_IN_PROCESS": "false",
                "CREATORHUB_PUBLIC_BASE_URL": self.base_url,
                "CREATORHUB_ARGON2_TIME_COST": "1",
                "CREATORHUB_ARGON2_MEMORY_KIB": "1024",
                "CREATORHUB_REGISTER_MAX_PER_IP": "1000",
                "CREATORHUB_LOGIN_MAX_ATTEMPTS_PER_IP": "1000",
                "CREATORHUB_PAYOUT_MINIMUM_AMOUNT": "100",
                "CREATORHUB_STALLED_JOB_SECONDS": str(STALLED_SECONDS),
                "CREATORHUB_LOG_JSON": "true",
                "CREATORHUB_LOG_LEVEL": level,
            }
        )
        return env

    async def _start(self, name: str, *args: str, level: str) -> Process:
        log = self.workdir / f"{name}-{len(self.runs)}.log"
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                *command_prefix(),
                *args,
                cwd=self.workdir,
                env=self.environment(level),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
            )
        run = Process(name, process, log)
        self.runs.append(run)
        return run

    async def start_api(self) -> None:
        self.api = await self._start(
            "api", "serve", "--no-worker", "--port", str(self.port), level="WARNING"
        )
        await self.wait_ready()

    async def wait_ready(self, within: float = 60) -> None:
        assert self.api is not None
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as http:
            while True:
                if self.api.process.returncode is not None:
                    tail = "\n".join(self.api.lines()[-30:])
                    raise AssertionError(f"serve exited ({self.api.process.returncode}):\n{tail}")
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"/readyz did not answer 200 within {within} s")
                await asyncio.sleep(0.1)

    async def start_worker(self, within: float = 60) -> None:
        """Start a worker and wait until it runs (a cold start imports every module)."""
        worker = self.worker = await self._start("worker", "worker", level="INFO")
        deadline = time.monotonic() + within
        while not worker.events("Starting worker on all queues"):
            if worker.process.returncode is not None:
                tail = "\n".join(worker.lines()[-30:])
                raise AssertionError(f"worker exited ({worker.process.returncode}):\n{tail}")
            assert time.monotonic() < deadline, f"the worker did not start within {within} s"
            await asyncio.sleep(0.1)

    async def kill(self, run: Process) -> None:
        run.process.send_signal(signal.SIGKILL)
        await run.process.wait()
        assert run.process.returncode == -signal.SIGKILL, f"{run.name} had exited before"

    async def kill_api(self) -> None:
        assert self.api is not None
        await self.kill(self.api)
        self.kills["api"] += 1
        killed_at = time.monotonic()
        await self.start_api()
        self.api_back_after.append(time.monotonic() - killed_at)

    async def kill_worker(self) -> None:
        assert self.worker is not None
        await self.kill(self.worker)
        self.kills["worker"] += 1
        await self.start_worker()

    async def stop_all(self) -> None:
        for run in self.runs:
            if run.process.returncode is None:
                run.process.send_signal(signal.SIGTERM)
        for run in self.runs:
            try:
                async with asyncio.timeout(30):
                    await run.process.wait()
            except TimeoutError:
                run.process.kill()
                await run.process.wait()


@dataclass
class Client:
    """One account and what it was told: the acknowledged operations."""

    number: int
    email: str
    http: httpx.AsyncClient
    user_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    intents: dict[str, int] = field(default_factory=dict)  # id -> amount, created
    confirmed: set[str] = field(default_factory=set)
    payouts: dict[str, int] = field(default_factory=dict)  # id -> amount
    refused_payouts: int = 0
    keys_answered: int = 0  # keys whose definitive answer was a success (stored for replay)
    keys: dict[str, int] = field(default_factory=dict)  # key -> attempts
    replays: int = 0
    retries: int = 0

    async def send(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, key: str | None = None
    ) -> httpx.Response:
        """Send until a definitive answer; with `key`, every attempt carries the same key."""
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        deadline = time.monotonic() + REQUEST_DEADLINE
        attempts = 0
        while True:
            attempts += 1
            try:
                response = await self.http.request(method, path, json=body, headers=headers)
            except httpx.TransportError:
                response = None
            if response is not None and not (
                response.status_code in RETRY_STATUSES
                or (
                    response.status_code == 409
                    and response.json().get("code") == "idempotency_key_in_flight"
                )
            ):
                break
            if time.monotonic() > deadline:
                answer = "no answer" if response is None else response.text
                raise AssertionError(f"{method} {path}: nothing definitive in time ({answer})")
            self.retries += 1
            await asyncio.sleep(0.2)
        if key is not None:
            self.keys[key] = attempts
            if response.headers.get("Idempotent-Replayed") == "true":
                self.replays += 1
        return response

    async def fund(self, amount: int) -> None:
        created = await self.send(
            "POST", "/v1/funding", body={"amount": amount}, key=str(uuid.uuid4())
        )
        assert created.status_code == 201, created.text
        intent = created.json()
        assert intent["amount"] == amount
        self.intents[intent["id"]] = amount
        self.keys_answered += 1
        confirmed = await self.send(
            "POST", f"/v1/funding/{intent['id']}/confirm", key=str(uuid.uuid4())
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["status"] == "processing"
        self.confirmed.add(intent["id"])
        self.keys_answered += 1

    async def pay_out(self, amount: int) -> None:
        response = await self.send(
            "POST", "/v1/payouts", body={"amount": amount}, key=str(uuid.uuid4())
        )
        if response.status_code == 409 and response.json()["code"] == "insufficient_funds":
            self.refused_payouts += 1  # refused whole: nothing happened, nothing stored
            return
        assert response.status_code == 201, response.text
        assert response.json()["amount"] == amount
        self.payouts[response.json()["id"]] = amount
        self.keys_answered += 1


async def sign_up(client: Client, database: Database) -> None:
    """Register, verify the address with the mailed code, log in, add a payout account."""
    body = {"email": client.email, "password": PASSWORD, "display_name": f"C{client.number}"}
    registered = await client.send("POST", "/v1/auth/register", body=body)
    assert registered.status_code == 202, registered.text
    token = await mailed_token(database, client.email, "verify_email")
    verified = await client.send("POST", "/v1/auth/verify-email", body={"token": token})
    assert verified.status_code == 200, verified.text
    login = await client.send(
        "POST", "/v1/auth/login", body={"email": client.email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    client.headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = await client.send("GET", "/v1/me")
    assert me.status_code == 200, me.text
    client.user_id = me.json()["id"]
    account = await client.send("POST", "/v1/payout-accounts", body={"country": "US"})
    assert account.status_code == 201, account.text


async def load(client: Client, until: float) -> None:
    chance = random.Random(client.number)
    while time.monotonic() < until:
        if client.confirmed and chance.random() < 0.25:
            await client.pay_out(PAYOUT_AMOUNT)
        else:
            amount = FAIL_AMOUNT if chance.random() < 0.1 else chance.randrange(2_000, 9_000)
            await client.fund(amount)


async def rows(database: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    async with database.session_scope() as session:
        return [tuple(row) for row in (await session.execute(text(sql), params)).all()]


async def settled(database: Database) -> bool:
    """No money job left to run, no intent or payout still on its way."""
    unsettled = await scalar(
        database,
        "SELECT (SELECT count(*) FROM procrastinate.procrastinate_jobs"
        "        WHERE status IN ('todo', 'doing') AND queue_name IN ('webhooks', 'payouts'))"
        " + (SELECT count(*) FROM payments.funding_intents WHERE status = 'processing')"
        " + (SELECT count(*) FROM payments.payouts WHERE status IN ('pending', 'in_transit'))",
    )
    return int(unsettled) == 0


# Its own embedded server runs as the `pgserver` system user, which the first-start test may
# remove: the tests that start embedded servers run one after another (`--dist loadgroup`).
@pytest.mark.xdist_group("embedded_server")
@pytest.mark.timeout(420)
async def test_money_keeps_its_books_through_kills_and_a_database_crash(
    crashable_pg: CrashablePostgres, tmp_path: Path
) -> None:
    started = time.monotonic()
    url = crashable_pg.create_database("faults")
    platform = Platform(url=url, port=free_port(), workdir=tmp_path)
    database = Database.connect(url, make_settings(url))
    http = httpx.AsyncClient(base_url=platform.base_url, timeout=10)
    try:
        await platform.start_api()  # migrates the new database
        await platform.start_worker()
        clients = [Client(number, f"fault{number}@example.com", http) for number in range(CLIENTS)]
        await asyncio.gather(*(sign_up(client, database) for client in clients))

        # The load, and the faults meanwhile.
        load_started = time.monotonic()
        until = load_started + LOAD_SECONDS
        flows = asyncio.gather(*(load(client, until) for client in clients))
        crashed_worker: Process | None = None
        for at, fault in FAULTS:
            await asyncio.sleep(max(0.0, load_started + at - time.monotonic()))
            await platform.wait_ready()
            if fault == "crash_database":
                crashed_worker = platform.worker
                crashable_pg.crash()
                await asyncio.sleep(2)
                crashable_pg.start()
            else:
                await getattr(platform, fault)()
        await flows
        load_seconds = time.monotonic() - load_started
        # The faults hit traffic: every client got through, some requests had to be retried.
        assert all(client.confirmed for client in clients)
        assert sum(client.retries for client in clients) > 0

        # Drained: every webhook delivered, every payout submitted and settled.
        settle_started = time.monotonic()
        deadline = settle_started + SETTLE_SECONDS
        while not await settled(database):
            assert time.monotonic() < deadline, "the worker did not drain the queue in time"
            await asyncio.sleep(0.5)
        settle_seconds = time.monotonic() - settle_started

        # Every acknowledged operation exists once, and nothing else exists.
        for client in clients:
            intents = dict(
                await rows(
                    database,
                    "SELECT CAST(id AS text), status FROM payments.funding_intents"
                    " WHERE user_id = CAST(:user AS uuid)",
                    user=client.user_id,
                )
            )
            assert set(intents) == set(client.intents), client.email
            assert client.confirmed == set(client.intents)
            for intent_id, amount in client.intents.items():
                expected = "failed" if amount == FAIL_AMOUNT else "succeeded"
                assert intents[intent_id] == expected, (intent_id, amount)
            payouts = dict(
                await rows(
                    database,
                    "SELECT CAST(id AS text), status FROM payments.payouts"
                    " WHERE user_id = CAST(:user AS uuid)",
                    user=client.user_id,
                )
            )
            assert set(payouts) == set(client.payouts), client.email
            assert set(payouts.values()) <= {"paid"}, payouts

            # Every key had one effect: one stored answer per acknowledged success, one
            # ledger transfer per credited intent and per payout.
            stored = await scalar(
                database,
                "SELECT count(*) FROM api.idempotency_keys WHERE scope = :user",
                user=client.user_id,
            )
            assert stored == client.keys_answered, client.email
            credited = await rows(
                database,
                "SELECT reference_id, count(*) FROM ledger.transfers"
                " WHERE kind = 'funding' AND reference_id = ANY(:ids) GROUP BY reference_id",
                ids=list(client.intents),
            )
            succeeded = {i for i, amount in client.intents.items() if amount != FAIL_AMOUNT}
            assert dict(credited) == dict.fromkeys(succeeded, 1), client.email
            paid_out = await rows(
                database,
                "SELECT reference_id, count(*) FROM ledger.transfers"
                " WHERE kind = 'payout' AND reference_id = ANY(:ids) GROUP BY reference_id",
                ids=list(client.payouts),
            )
            assert dict(paid_out) == dict.fromkeys(client.payouts, 1), client.email

            # The wallet holds what the acknowledged operations imply.
            wallet = await client.send("GET", "/v1/wallet")
            assert wallet.status_code == 200, wallet.text
            funded = sum(client.intents[i] for i in succeeded)
            assert wallet.json()["available"] == funded - sum(client.payouts.values())
            assert (wallet.json()["held"], wallet.json()["in_payout"]) == (0, 0)

        # The worker that saw the database crash lived through it, and said so twice.
        assert crashed_worker is not None
        assert crashed_worker.process.returncode == -signal.SIGKILL  # by the test, later
        assert crashed_worker.events("database unavailable, retrying in 1 s") == 1
        assert crashed_worker.events("reconnected") == 1
        assert platform.worker is not None and platform.worker.process.returncode is None
        # No traceback for the outage: one line when it began, one when it ended (jobs that
        # failed meanwhile say so in their own line).
        for line in crashed_worker.lines():
            assert not ("Traceback" in line and "psycopg" in line), line

        verify = await asyncio.create_subprocess_exec(
            *command_prefix(),
            "ledger",
            "verify",
            cwd=tmp_path,
            env=platform.environment("WARNING"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await verify.communicate()
        assert verify.returncode == 0, (out.decode(), err.decode())
        assert "ledger sound" in out.decode()

        operations = sum(len(c.intents) * 2 + len(c.payouts) + c.refused_payouts for c in clients)
        print(
            f"\nfaults: {operations} money requests by {CLIENTS} clients in {load_seconds:.0f} s"
            f" ({sum(len(c.intents) for c in clients)} fundings,"
            f" {sum(len(c.payouts) for c in clients)} payouts,"
            f" {sum(c.refused_payouts for c in clients)} payouts refused),"
            f" {sum(c.retries for c in clients)} retries,"
            f" {sum(c.replays for c in clients)} replayed answers;"
            f" API killed {platform.kills['api']}x (back after"
            f" {', '.join(f'{s:.1f}' for s in platform.api_back_after)} s),"
            f" worker killed {platform.kills['worker']}x, database crashed"
            f" {crashable_pg.crashes}x; settled {settle_seconds:.1f} s after the load;"
            f" whole test {time.monotonic() - started:.0f} s"
        )
    finally:
        await http.aclose()
        await platform.stop_all()
        await database.dispose()
