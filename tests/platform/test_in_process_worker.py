"""With the embedded default, `serve` runs a job worker in its own process: work queued by a
request gets done without any other command."""

from __future__ import annotations

import asyncio

import httpx

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.db import Database
from creatorhub.jobs import JobRuntime, supervise_worker
from helpers import PASSWORD, scalar


async def test_the_in_process_worker_delivers_queued_mail(database_url: str) -> None:
    app = create_app(
        make_settings(database_url, run_worker_in_process=True), database_url=database_url
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.post(
                "/v1/auth/register",
                json={"email": "worker@example.com", "password": PASSWORD, "display_name": "W"},
            )
            assert r.status_code == 202
            database: Database = app.state.db
            status = None
            for _ in range(100):
                status = await scalar(database, "SELECT status FROM mail.outbox")
                if status == "logged":
                    break
                await asyncio.sleep(0.1)
            assert status == "logged"


async def test_a_crashed_worker_is_restarted(database_url: str) -> None:
    settings = make_settings(database_url)
    database = Database.connect(database_url, settings)
    runs = 0

    class FlakyRuntime(JobRuntime):
        async def run_worker(
            self,
            *,
            wait: bool = True,
            install_signal_handlers: bool = True,
            queues: list[str] | None = None,
        ) -> None:
            nonlocal runs
            runs += 1
            if runs < 3:
                raise RuntimeError("worker lost its connection")
            await asyncio.sleep(3600)

    task = asyncio.create_task(supervise_worker(FlakyRuntime(database, settings), max_backoff=0.05))
    try:
        for _ in range(100):
            if runs >= 3:
                break
            await asyncio.sleep(0.02)
        assert runs == 3
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await database.dispose()
