"""Background jobs: deferred in the cause's transaction, and not lost when a worker dies."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import procrastinate
import pytest
import slow_tasks
from sqlalchemy import text

from conftest import make_settings
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import JobRuntime, defer, job_app, retry_stalled_jobs
from helpers import scalar

HERE = Path(__file__).resolve().parent
STALLED_SECONDS = 10  # the smallest the settings allow


async def job_row(database: Database, job_id: int) -> dict[str, Any] | None:
    async with database.session_scope() as session:
        row = (
            (
                await session.execute(
                    text(
                        "SELECT id, status::text AS status, attempts, worker_id, task_name, args "
                        "FROM procrastinate.procrastinate_jobs WHERE id = :id"
                    ),
                    {"id": job_id},
                )
            )
            .mappings()
            .one_or_none()
        )
    return dict(row) if row is not None else None


async def eventually(
    condition: Callable[[], Awaitable[Any]], *, within: float, what: str, interval: float = 0.2
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(interval)


# --- (a) a job exists if and only if its cause committed --------------------------------------


async def count_noop_jobs(database: Database) -> int:
    return int(
        await scalar(
            database,
            "SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE task_name = :name",
            name=slow_tasks.noop.name,
        )
    )


async def test_a_job_deferred_in_a_rolled_back_transaction_does_not_exist(
    database: Database,
) -> None:
    class Cancelled(Exception):
        pass

    deferred: list[int] = []

    async def defer_then_fail() -> None:
        async with database.session_scope() as session:
            job_id = await defer(session, slow_tasks.noop, value=1)
            deferred.append(job_id)
            # Inside the transaction the job is there...
            inside = await session.scalar(
                text("SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE id = :id"),
                {"id": job_id},
            )
            assert inside == 1
            # ...but no other connection sees it before the commit.
            assert await count_noop_jobs(database) == 0
            raise Cancelled

    with pytest.raises(Cancelled):
        await defer_then_fail()

    [job_id] = deferred
    assert await count_noop_jobs(database) == 0
    assert await job_row(database, job_id) is None


async def test_a_job_deferred_in_a_committed_transaction_exists_exactly_once(
    database: Database,
) -> None:
    async with database.session_scope() as session:
        job_id = await defer(session, slow_tasks.noop, value=7)
        assert await count_noop_jobs(database) == 0, "visible before the commit"

    assert await count_noop_jobs(database) == 1
    row = await job_row(database, job_id)
    assert row is not None
    assert row["status"] == "todo"
    assert row["task_name"] == "tests.noop"
    assert row["args"] == {"value": 7}


async def test_defer_accepts_a_configured_task_and_keeps_its_options(database: Database) -> None:
    async with database.session_scope() as session:
        job_id = await defer(session, slow_tasks.noop.configure(queueing_lock="only-one"), value=3)
    async with database.session_scope() as session:
        lock = await session.scalar(
            text("SELECT queueing_lock FROM procrastinate.procrastinate_jobs WHERE id = :id"),
            {"id": job_id},
        )
    assert lock == "only-one"
    assert await count_noop_jobs(database) == 1


# --- (b) a killed worker does not leave its job stuck ------------------------------------------


@pytest.fixture
def stall_settings(database_url: str) -> Settings:
    return make_settings(database_url, stalled_job_seconds=STALLED_SECONDS, worker_concurrency=2)


@pytest.fixture
async def job_runtime(stall_settings: Settings, database_url: str) -> AsyncIterator[JobRuntime]:
    """The job app connected to the test database, without the HTTP app (and its runtime)."""
    database = Database.connect(database_url, stall_settings)
    runtime = JobRuntime(database, stall_settings)
    try:
        async with runtime.open():
            yield runtime
    finally:
        await database.dispose()


async def test_a_worker_run_until_idle_also_runs_what_its_jobs_defer(
    job_runtime: JobRuntime,
) -> None:
    """wait=False means "until no job is due": a follow-up deferred by a running job counts."""
    database = job_runtime.database
    async with database.session_scope() as session:
        first = await defer(session, slow_tasks.defer_follow_up, value=7)
    async with asyncio.timeout(20):
        await job_runtime.run_worker(queues=["tests"], wait=False, install_signal_handlers=False)
    row = await job_row(database, first)
    assert row is not None
    assert row["status"] == "succeeded"
    follow_up = await scalar(
        database,
        "SELECT status::text FROM procrastinate.procrastinate_jobs"
        " WHERE task_name = 'tests.noop' AND args = '{\"value\": 7}'::jsonb",
    )
    assert follow_up == "succeeded"
    assert not await job_runtime.jobs_due(["tests"])


def worker_environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATORHUB_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "CREATORHUB_ENVIRONMENT": "test",
            "CREATORHUB_STALLED_JOB_SECONDS": str(STALLED_SECONDS),
            "CREATORHUB_WORKER_CONCURRENCY": "2",
            "CREATORHUB_LOG_JSON": "false",
            "CREATORHUB_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(
                [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
    )
    return env


async def run_retry_stalled_jobs() -> int:
    """Run the body of the periodic `retry_stalled_jobs` task, as a worker would."""
    context = procrastinate.JobContext(
        app=job_app,
        job=retry_stalled_jobs.configure().job,
        start_timestamp=time.time(),
        abort_reason=lambda: None,
    )
    retried: int = await retry_stalled_jobs.func(context, timestamp=int(time.time()))
    return retried


async def test_a_job_of_a_killed_worker_is_retried_and_completes(
    job_runtime: JobRuntime, database_url: str, tmp_path: Path
) -> None:
    database = job_runtime.database
    marker = tmp_path / "runs.txt"
    async with database.session_scope() as session:
        job_id = await defer(session, slow_tasks.hold_until_retried, marker=str(marker))

    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "job_worker",
        cwd=tmp_path,
        env=worker_environment(database_url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def running() -> dict[str, Any] | None:
            if worker.returncode is not None:
                stderr = await worker.stderr.read() if worker.stderr else b""
                raise AssertionError(f"the worker exited early:\n{stderr.decode()[-3000:]}")
            row = await job_row(database, job_id)
            started = marker.exists() and marker.read_text().strip()
            return row if row and row["status"] == "doing" and started else None

        row = await eventually(running, within=20, what="the worker to start the job")
        assert row["worker_id"] is not None
        assert marker.read_text().split() == [str(worker.pid)]

        # A live worker sends heartbeats: its job is not stalled.
        manager = job_app.job_manager
        assert not list(await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS))
        assert await run_retry_stalled_jobs() == 0
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGKILL)
        await worker.wait()
    assert worker.returncode == -signal.SIGKILL

    # The job is held by a dead worker; once its heartbeat is older than the threshold, the
    # periodic task puts it back in the queue.
    async def stalled() -> list[procrastinate.jobs.Job]:
        assert (await job_row(database, job_id) or {}).get("status") == "doing"
        return list(await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS))

    stalled_jobs = await eventually(
        stalled, within=STALLED_SECONDS + 10, what="the dead worker's job to count as stalled"
    )
    assert [job.id for job in stalled_jobs] == [job_id]
    assert await run_retry_stalled_jobs() == 1

    row = await job_row(database, job_id)
    assert row is not None
    assert row["status"] == "todo"
    assert row["attempts"] == 1
    assert await run_retry_stalled_jobs() == 0, "a queued job is not retried twice"

    # A new worker takes it and completes it.
    async with asyncio.timeout(20):
        await job_runtime.run_worker(wait=False, install_signal_handlers=False)
    row = await job_row(database, job_id)
    assert row is not None
    assert row["status"] == "succeeded"
    assert marker.read_text().split() == [str(worker.pid), str(os.getpid())]
