"""The HTTP money path: `POST /v1/funding` through the whole app, on the run's scratch database.

Starts `creatorhub serve --no-worker --workers N` (N uvicorn processes, default 1) on the
scratch database, registers and logs in one user per concurrent client (so no
figure measures one user's wallet as a hot spot), then:

* closed loop: N clients, each with one keep-alive connection, each sending its next request
  when the previous one answered, at every client count → requests/s, the peak;
* open loop: requests started at a fixed rate, 70 % of that peak, whatever the answers do;
  each latency counts from the moment the request was due (not when it was sent), so a client
  that falls behind shows as latency instead of hiding it → p50/p99.

Every request carries `Authorization: Bearer …` and a fresh `Idempotency-Key`. The client runs
in this process, on the same two cores as the server and PostgreSQL; the run also measures the
client's own ceiling (`GET /healthz` at the highest client count), its CPU time and the app
process's CPU time, to show whether the client, the app or the database limits the figure.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.database import Server
from bench.http_auth import PASSWORD, percentile, wait_ready
from creatorhub.db import libpq_url

FUNDING_PATH = "/v1/funding"
FUNDING_BODY = {"amount": 2500, "currency": "USD"}
OPEN_LOOP_LOAD = 0.7

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process on this machine, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of a process and its live descendants (the app processes of `--workers`)."""
    own = process_cpu_seconds(pid)
    if own is None:
        return None
    try:
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        children = []
    return own + sum(process_tree_cpu_seconds(child) or 0.0 for child in children)


async def _with_app_cpu(app_pid: int | None, load: Awaitable[LoadResult]) -> LoadResult:
    before = None if app_pid is None else process_tree_cpu_seconds(app_pid)
    started = time.monotonic()
    result = await load
    after = None if app_pid is None else process_tree_cpu_seconds(app_pid)
    if before is not None and after is not None:
        result.app_cpu_share = (after - before) / (time.monotonic() - started)
    return result


@dataclass
class LoadResult:
    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    client_cpu_share: float  # CPU seconds of this process per wall second (1.0 = one core)
    first_error: str | None = None
    app_cpu_share: float | None = None  # the same for the app's processes, all together

    def as_json(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 1),
            "p99_ms": round(self.p99_ms, 1),
            "requests": self.requests,
            "errors": self.errors,
            "client_cpu_share": round(self.client_cpu_share, 2),
            "app_cpu_share": None if self.app_cpu_share is None else round(self.app_cpu_share, 2),
            "first_error": self.first_error,
        }


@dataclass
class HttpResult:
    skipped: str | None = None  # why, when the section could not run
    peak_rps: float | None = None
    p99_ms: float | None = None
    p50_ms: float | None = None
    target_rate: float | None = None
    achieved_rate: float | None = None
    by_clients: list[LoadResult] = field(default_factory=list)
    open_loop: LoadResult | None = None
    client_ceiling_rps: float | None = None
    users: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped,
            "endpoint": f"POST {FUNDING_PATH}",
            "body": FUNDING_BODY,
            "users": self.users,
            "peak_rps": None if self.peak_rps is None else round(self.peak_rps, 1),
            "open_loop_target_rate": self.target_rate,
            "open_loop_achieved_rate": self.achieved_rate,
            "p50_ms_at_70pct": self.p50_ms,
            "p99_ms_at_70pct": self.p99_ms,
            "by_clients": [r.as_json() for r in self.by_clients],
            "open_loop": None if self.open_loop is None else self.open_loop.as_json(),
            "client_ceiling_healthz_rps": self.client_ceiling_rps,
        }


def _describe_error(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:300]}"


async def closed_loop(base: str, clients: int, seconds: float, request: Request) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    stop = time.monotonic() + seconds

    async def one_client(index: int) -> None:
        nonlocal errors, first_error
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = await request(client, index)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1
                    first_error = first_error or _describe_error(response)

    cpu = time.process_time()
    began = time.monotonic()
    await asyncio.gather(*(one_client(i) for i in range(clients)))
    elapsed = time.monotonic() - began
    cpu = time.process_time() - cpu
    return LoadResult(
        clients=clients,
        rps=(len(latencies) - errors) / elapsed,
        p50_ms=statistics.median(latencies) * 1000 if latencies else 0.0,
        p99_ms=percentile(latencies, 0.99) * 1000 if latencies else 0.0,
        requests=len(latencies),
        errors=errors,
        client_cpu_share=cpu / elapsed,
        first_error=first_error,
    )


async def open_loop(base: str, rate: float, seconds: float, request: Request) -> LoadResult:
    """Start a request every 1/rate s for `seconds`; latency from when each one was due."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def one(index: int, due: float) -> None:
            nonlocal errors, first_error
            response = await request(client, index)
            latencies.append(time.perf_counter() - due)
            if response.status_code >= 400:
                errors += 1
                first_error = first_error or _describe_error(response)

        count = max(1, int(rate * seconds))
        tasks: list[asyncio.Task[None]] = []
        cpu = time.process_time()
        start = time.perf_counter()
        for index in range(count):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    return LoadResult(
        clients=0,
        rps=(len(latencies) - errors) / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        requests=len(latencies),
        errors=errors,
        client_cpu_share=cpu / elapsed,
        first_error=first_error,
    )


async def _has_funding_endpoint(base: str) -> bool:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.get("/openapi.json")
        if response.status_code != 200:
            return False
        paths: dict[str, Any] = response.json().get("paths", {})
        return "post" in paths.get(FUNDING_PATH, {})


async def _verify_email(client: httpx.AsyncClient, database_url: str, email: str) -> None:
    """Confirm the address with the code of its verification mail (money needs it), read from
    the outbox: the bench's server has no SMTP relay."""
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        cursor = await conn.execute(
            "SELECT body_text FROM mail.outbox WHERE to_address = %s"
            " AND template = 'verify_email' ORDER BY created_at DESC LIMIT 1",
            (email,),
        )
        row = await cursor.fetchone()
    match = re.search(r"\b(che_[A-Za-z0-9_\-]+)", row[0] if row else "")
    if match is None:
        raise RuntimeError(f"no verification code was mailed to {email}")
    r = await client.post("/v1/auth/verify-email", json={"token": match.group(1)})
    r.raise_for_status()


async def _login_users(base: str, count: int, database_url: str) -> list[str]:
    tokens: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for index in range(count):
            email = f"bench-money{index}-{os.getpid()}@example.com"
            r = await client.post(
                "/v1/auth/register",
                json={"email": email, "password": PASSWORD, "display_name": "Bench"},
            )
            r.raise_for_status()
            await _verify_email(client, database_url, email)
            r = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
            r.raise_for_status()
            tokens.append(r.json()["access_token"])
    return tokens


async def measure(
    base: str,
    client_counts: list[int],
    seconds: float,
    database_url: str,
    app_pid: int | None = None,
) -> HttpResult:
    if not await _has_funding_endpoint(base):
        return HttpResult(skipped=f"POST {FUNDING_PATH} is not in the app's /openapi.json")
    users = max(client_counts)
    tokens = await _login_users(base, users, database_url)

    async def fund(client: httpx.AsyncClient, index: int) -> httpx.Response:
        return await client.post(
            FUNDING_PATH,
            json=FUNDING_BODY,
            headers={
                "Authorization": f"Bearer {tokens[index % users]}",
                "Idempotency-Key": str(uuid.uuid4()),
            },
        )

    async def healthz(client: httpx.AsyncClient, index: int) -> httpx.Response:
        return await client.get("/healthz")

    result = HttpResult(users=users)
    ceiling = await closed_loop(base, max(client_counts), min(seconds, 5.0), healthz)
    result.client_ceiling_rps = round(ceiling.rps, 1)
    warm = await closed_loop(base, min(client_counts), 1.0, fund)
    if warm.errors:
        result.skipped = f"POST {FUNDING_PATH} fails: {warm.first_error}"
        return result
    for clients in client_counts:
        result.by_clients.append(
            await _with_app_cpu(app_pid, closed_loop(base, clients, seconds, fund))
        )
    failing = [r for r in result.by_clients if r.errors]
    if failing:
        result.skipped = (
            f"POST {FUNDING_PATH} failed under load ({failing[0].errors} errors at "
            f"{failing[0].clients} clients): {failing[0].first_error}"
        )
        return result
    result.peak_rps = max(r.rps for r in result.by_clients)
    rate = OPEN_LOOP_LOAD * result.peak_rps
    result.target_rate = round(rate, 1)
    result.open_loop = await _with_app_cpu(app_pid, open_loop(base, rate, seconds, fund))
    result.achieved_rate = round(result.open_loop.rps, 1)
    result.p50_ms = round(result.open_loop.p50_ms, 1)
    result.p99_ms = round(result.open_loop.p99_ms, 1)
    return result


def run(
    server: Server, client_counts: list[int], seconds: float, port: int, app_processes: int = 1
) -> HttpResult:
    """Start the app (`app_processes` uvicorn workers) on the scratch database, measure, stop."""
    creatorhub = Path(sys.executable).with_name("creatorhub")
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryFile("w+") as log:
        env = {
            **os.environ,
            "DATABASE_URL": server.url,
            "CREATORHUB_DATA_DIR": data_dir,
            "CREATORHUB_LOG_LEVEL": "WARNING",
            "CREATORHUB_LOGIN_MAX_ATTEMPTS_PER_IP": "100000",
            "CREATORHUB_REGISTER_MAX_PER_IP": "100000",
        }
        process = subprocess.Popen(
            [
                str(creatorhub),
                "serve",
                "--port",
                str(port),
                "--no-worker",
                "--workers",
                str(app_processes),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                asyncio.run(wait_ready(base))
            except RuntimeError:
                log.seek(0)
                return HttpResult(skipped=f"the app did not start: {log.read()[-1500:]}")
            return asyncio.run(measure(base, client_counts, seconds, server.url, process.pid))
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
