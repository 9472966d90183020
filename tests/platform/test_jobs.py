"""Background jobs: deferred in the cause's transaction, not lost when a worker dies, and
workers that outlive their database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import slow_tasks
from crashable_pg import CrashablePostgres
from sqlalchemy import text

from conftest import make_settings
from creatorhub import migrate
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import (
    JobRuntime,
    WorkerSupervisor,
    defer,
    heartbeat_seconds,
    retry_stalled_jobs,
    stalled_job_bound_seconds,
)
from creatorhub.mail.service import enqueue
from helpers import scalar
from process_helpers import command_prefix

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


def test_the_default_timings_credit_a_dead_workers_job_within_a_minute() -> None:
    """The requirement behind the defaults: a job held by a worker that died runs again within
    60 s (threshold 30 s, a heartbeat and a sweep every 5 s, a poll at most every 5 s)."""
    defaults = Settings(database_url="postgresql://unused/db")
    assert defaults.stalled_job_seconds == 30
    assert heartbeat_seconds(defaults) == 5
    assert stalled_job_bound_seconds(defaults) == 40
    scaled = make_settings("postgresql://unused/db", stalled_job_seconds=STALLED_SECONDS)
    assert stalled_job_bound_seconds(scaled) == pytest.approx(40 * STALLED_SECONDS / 30)


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


@contextlib.asynccontextmanager
async def worker_process(database_url: str, cwd: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`job_worker` (a `creatorhub worker` that knows the test tasks) as a subprocess; killed
    at the end if it is still running."""
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "job_worker",
        cwd=cwd,
        env=worker_environment(database_url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield worker
    finally:
        if worker.returncode is None:
            worker.kill()
        await worker.wait()


@contextlib.asynccontextmanager
async def supervised_worker(runtime: JobRuntime) -> AsyncIterator[WorkerSupervisor]:
    """A second worker, in this process (its pid is this test's)."""
    supervisor = WorkerSupervisor(runtime, queues=["tests"])
    task = asyncio.create_task(supervisor.run())
    try:
        yield supervisor
    finally:
        supervisor.request_stop()
        async with asyncio.timeout(20):
            await task


def marker_lines(marker: Path) -> list[str]:
    return marker.read_text().splitlines() if marker.exists() else []


async def started_by(
    worker: asyncio.subprocess.Process, database: Database, job_id: int, marker: Path
) -> dict[str, Any]:
    """Wait until `worker` runs the job (it wrote its pid in `marker`)."""

    async def running() -> dict[str, Any] | None:
        if worker.returncode is not None:
            stderr = await worker.stderr.read() if worker.stderr else b""
            raise AssertionError(f"the worker exited early:\n{stderr.decode()[-3000:]}")
        row = await job_row(database, job_id)
        return row if row and row["status"] == "doing" and marker_lines(marker) else None

    row: dict[str, Any] = await eventually(running, within=20, what="the worker to start the job")
    assert row["worker_id"] is not None
    return row


async def test_a_live_workers_job_is_left_alone_and_a_killed_workers_job_runs_again_in_time(
    job_runtime: JobRuntime, database_url: str, tmp_path: Path
) -> None:
    """Scaled down: threshold 10 s instead of 30, so the bound is 20 s instead of 60."""
    settings = job_runtime.settings
    threshold, beat = settings.stalled_job_seconds, heartbeat_seconds(settings)
    required = 60 * threshold / 30
    database = job_runtime.database
    marker = tmp_path / "runs.txt"
    async with database.session_scope() as session:
        job_id = await defer(session, slow_tasks.hold_until_retried, marker=str(marker))

    async with worker_process(database_url, tmp_path) as worker:
        first = await started_by(worker, database, job_id, marker)
        assert marker.read_text().split() == [str(worker.pid)]
        async with supervised_worker(job_runtime) as second:
            # A live worker beats: well past the threshold, with another worker sweeping,
            # its (slow) job is still its own, on its first attempt.
            await asyncio.sleep(threshold + 2 * beat)
            row = await job_row(database, job_id)
            assert row is not None
            assert (row["status"], row["attempts"], row["worker_id"]) == (
                "doing",
                0,
                first["worker_id"],
            )
            assert marker.read_text().split() == [str(worker.pid)]
            assert await retry_stalled_jobs(threshold) == 0

            worker.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            await worker.wait()

            async def picked_up() -> bool:
                return len(marker.read_text().split()) == 2

            await eventually(
                picked_up,
                within=required + 5,
                what="the second worker to run the job",
                interval=0.1,
            )
            elapsed = time.monotonic() - killed_at
            print(f"killed worker's job started again after {elapsed:.1f} s")

            async def succeeded() -> dict[str, Any] | None:
                row = await job_row(database, job_id)
                return row if row and row["status"] == "succeeded" else None

            row = await eventually(succeeded, within=10, what="the retried job to succeed")
            assert second.workers_started == 1
    assert worker.returncode == -signal.SIGKILL
    # Not before the threshold (less the last heartbeat's age), and within the requirement
    # (the analysis says within stalled_job_bound_seconds: 13.3 s here; 11.9 s measured).
    assert threshold - beat - 0.5 <= elapsed <= required
    # One attempt killed, one retry that finished (procrastinate counts both).
    assert row["attempts"] == 2
    assert marker.read_text().split() == [str(worker.pid), str(os.getpid())]
    assert await retry_stalled_jobs(threshold) == 0, "nothing is left to retry"


async def test_a_stopping_worker_beats_until_its_last_job_ends(
    job_runtime: JobRuntime, database_url: str, tmp_path: Path
) -> None:
    """SIGTERM: the worker takes no new job, finishes its running one and exits 0. The job
    lasts longer than the stalled threshold after the signal, and no other worker runs it."""
    settings = job_runtime.settings
    duration = settings.stalled_job_seconds + 4 * heartbeat_seconds(settings)
    database = job_runtime.database
    marker = tmp_path / "runs.txt"
    async with database.session_scope() as session:
        job_id = await defer(session, slow_tasks.work_for, seconds=duration, marker=str(marker))
        later = await defer(session, slow_tasks.noop, value=1)

    async with worker_process(database_url, tmp_path) as worker:
        await started_by(worker, database, job_id, marker)
        async with supervised_worker(job_runtime):
            worker.send_signal(signal.SIGTERM)
            async with asyncio.timeout(duration + 15):
                await worker.wait()
            assert worker.returncode == 0
    assert marker.read_text().splitlines() == [f"{worker.pid} start 0", f"{worker.pid} end"]
    row = await job_row(database, job_id)
    assert row is not None
    # One attempt, never retried (procrastinate counts the finished attempt).
    assert (row["status"], row["attempts"]) == ("succeeded", 1)
    # The other job went to the worker in this process, not to the stopping one.
    assert (await job_row(database, later) or {}).get("status") == "succeeded"


async def test_a_second_signal_ends_the_worker_at_once(
    job_runtime: JobRuntime, database_url: str, tmp_path: Path
) -> None:
    database = job_runtime.database
    marker = tmp_path / "runs.txt"
    async with database.session_scope() as session:
        job_id = await defer(session, slow_tasks.work_for, seconds=300, marker=str(marker))

    async with worker_process(database_url, tmp_path) as worker:
        await started_by(worker, database, job_id, marker)
        worker.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)
        assert worker.returncode is None, "the first signal waits for the running job"
        worker.send_signal(signal.SIGINT)
        async with asyncio.timeout(5):
            await worker.wait()
    assert worker.returncode == -signal.SIGINT
    # Abandoned, as by kill -9: still `doing`, for the stalled-job sweep to put back.
    row = await job_row(database, job_id)
    assert row is not None
    assert (row["status"], row["attempts"]) == ("doing", 0)
    assert marker.read_text().splitlines() == [f"{worker.pid} start 0"]


# --- (c) `creatorhub worker` outlives its database -----------------------------------------------


@pytest.fixture
def crashable_pg() -> Iterator[CrashablePostgres]:
    server = CrashablePostgres()
    try:
        yield server
    finally:
        server.close()


class LogLines:
    """A subprocess's stderr (JSON log lines), read as it comes."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.lines: list[str] = []
        self._task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines.append(line.decode(errors="replace").rstrip())

    def events(self, event: str) -> list[dict[str, Any]]:
        found = []
        for line in self.lines:
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("event") == event:
                    found.append(record)
        return found

    async def wait_for(self, event: str, count: int, within: float = 60) -> None:
        async def seen() -> bool:
            return len(self.events(event)) >= count

        await eventually(seen, within=within, what=f"{count} log line(s) {event!r}")

    async def close(self) -> None:
        await asyncio.wait_for(self._task, timeout=10)


async def mail_logged(database_url: str, settings: Settings, within: float = 30) -> None:
    """Queue a mail and wait until a worker has delivered it (to the log: no SMTP host)."""
    database = Database.connect(database_url, settings)
    try:
        async with database.session_scope() as session:
            message_id = await enqueue(
                session, to_address="ops@example.com", subject="s", body_text="b", template="t"
            )

        async def logged() -> bool:
            status = await scalar(
                database, "SELECT status FROM mail.outbox WHERE id = :id", id=message_id
            )
            return bool(status == "logged")

        await eventually(logged, within=within, what="the worker to deliver the mail")
    finally:
        await database.dispose()


UNAVAILABLE = "database unavailable, retrying in 1 s"


# Its own embedded server runs as the `pgserver` system user, which the first-start test may
# remove: the tests that start embedded servers run one after another (`--dist loadgroup`).
@pytest.mark.xdist_group("embedded_server")
@pytest.mark.timeout(240)
async def test_the_worker_command_waits_out_database_outages_and_stops_on_a_signal(
    crashable_pg: CrashablePostgres, tmp_path: Path
) -> None:
    url = crashable_pg.create_database("outages")
    await asyncio.to_thread(migrate.upgrade, url)
    settings = make_settings(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATORHUB_")}
    env.update(
        {
            "DATABASE_URL": url,
            "CREATORHUB_ENVIRONMENT": "test",
            "CREATORHUB_LOG_JSON": "true",
            "CREATORHUB_LOG_LEVEL": "INFO",
            "CREATORHUB_STALLED_JOB_SECONDS": str(STALLED_SECONDS),
        }
    )
    # Started while the database is down: it waits for it.
    crashable_pg.crash()
    worker = await asyncio.create_subprocess_exec(
        *command_prefix(),
        "worker",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert worker.stderr is not None
    logs = LogLines(worker.stderr)
    try:
        await logs.wait_for(UNAVAILABLE, 1)
        crashable_pg.start()
        await logs.wait_for("reconnected", 1)
        await mail_logged(url, settings)

        # Down under a running worker, then up again: the same process carries on.
        crashable_pg.crash()
        await logs.wait_for(UNAVAILABLE, 2)
        await asyncio.sleep(2)
        crashable_pg.start()
        await logs.wait_for("reconnected", 2)
        await mail_logged(url, settings)
        assert worker.returncode is None

        # A signal during an outage still stops it, with status 0.
        crashable_pg.crash()
        await logs.wait_for(UNAVAILABLE, 3)
        worker.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await worker.wait()
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        await logs.close()
    output = "\n".join(logs.lines)
    assert worker.returncode == 0, output
    assert len(logs.events(UNAVAILABLE)) == 3, output
    # Each names the database's own message (refused connection, server shutting down, ...).
    assert all(record["error"] for record in logs.events(UNAVAILABLE)), output
    assert len(logs.events("reconnected")) == 2, output
    assert len(logs.events("SIGTERM received, stopping the worker once its running jobs end")) == 1
    # One line per change of state: no traceback, no pool warning per reconnection attempt.
    assert "Traceback" not in output, output
    assert "error connecting" not in output, output
