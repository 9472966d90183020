"""Background jobs on procrastinate, in the platform's own database.

* `job_app` is the one procrastinate App; modules declare tasks in their `tasks.py` with
  `@job_app.task(...)`, and `TASK_MODULES` lists those modules so workers know them.
* `defer(session, task, **kwargs)` inserts the job on the caller's connection, inside its
  transaction: the job exists if and only if the change that caused it committed.
* `JobRuntime` connects the app and a worker to a database (inside `serve`, or `creatorhub
  worker`), and tells tasks which database to use (`task_database()`).
* `retry_stalled_jobs` runs every minute: jobs held by a worker that stopped sending heartbeats
  (killed, lost its machine) go back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import procrastinate
import psycopg_pool
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database, connection_options, libpq_url

log = structlog.get_logger(__name__)

TASK_MODULES = [
    "creatorhub.jobs",
    "creatorhub.audit.tasks",
    "creatorhub.identity.tasks",
    "creatorhub.mail.tasks",
    "creatorhub.payments.tasks",
    "creatorhub.payments.billing_tasks",
    "creatorhub.kit.tasks",
    "creatorhub.marketplace.tasks",
    "creatorhub.social.tasks",
]

# The connector given here is replaced by `JobRuntime` with one bound to the configured
# database; deferring on an explicit connection (see `defer`) never touches its pool.
job_app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=TASK_MODULES)


# How many times a worker run until idle starts again for jobs deferred while it ran.
UNTIL_IDLE_MAX_ROUNDS = 50

_database: Database | None = None
_settings: Settings | None = None


def task_database() -> Database:
    """The database the running worker serves (tasks open their own unit of work on it)."""
    if _database is None:
        raise RuntimeError("no job runtime is open: start one with JobRuntime")
    return _database


def task_settings() -> Settings:
    if _settings is None:
        raise RuntimeError("no job runtime is open: start one with JobRuntime")
    return _settings


async def defer(session: AsyncSession, task: Any, /, **task_kwargs: Any) -> int:
    """Queue `task` in the session's transaction; returns the job id.

    `task` is a procrastinate task or a `JobDeferrer` from `task.configure(...)`.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    if isinstance(task, procrastinate.jobs.JobDeferrer):
        deferrer = procrastinate.jobs.JobDeferrer(
            job_manager=task.job_manager, job=task.job, connection=raw.driver_connection
        )
    else:
        deferrer = task.configure(connection=raw.driver_connection)
    job_id: int = await deferrer.defer_async(**task_kwargs)
    return job_id


@dataclass
class JobRuntime:
    """The job app connected to one database, and optionally a worker running on it."""

    database: Database
    settings: Settings

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[procrastinate.App]:
        global _database, _settings
        pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
            libpq_url(self.database.url),
            # No autocommit here: procrastinate adds it to its LISTEN connection itself, and
            # psycopg_pool commits each pooled block when it ends.
            kwargs={"options": connection_options(self.settings)},
            min_size=1,
            max_size=self.settings.worker_concurrency + 2,
            open=False,
        )
        await pool.open(wait=True)
        connector = procrastinate.PsycopgConnector()
        with job_app.replace_connector(connector):
            await connector.open_async(pool)
            _database, _settings = self.database, self.settings
            try:
                yield job_app
            finally:
                _database = _settings = None
                await connector.close_async()
                await pool.close()

    async def run_worker(
        self,
        *,
        wait: bool = True,
        install_signal_handlers: bool = True,
        queues: list[str] | None = None,
    ) -> None:
        """Run a worker until stopped (or, with wait=False, until no job is due); all queues
        unless `queues` names some."""
        options: procrastinate.app.WorkerOptions = {
            "concurrency": self.settings.worker_concurrency,
            "wait": wait,
            "install_signal_handlers": install_signal_handlers,
            # Heartbeats let `retry_stalled_jobs` tell a dead worker from a slow one.
            "update_heartbeat_interval": min(10.0, self.settings.stalled_job_seconds / 3),
            "stalled_worker_timeout": float(self.settings.stalled_job_seconds),
        }
        if queues:
            options["queues"] = queues
        await job_app.run_worker_async(**options)
        # procrastinate's wait=False stops at the first fetch that finds nothing, even while a
        # running job is about to defer a follow-up (a payout submission defers the delivery
        # of its webhook event). Run again until no job that a worker could take is due; the
        # bound keeps a job the worker could never take from spinning this for ever.
        for _ in range(UNTIL_IDLE_MAX_ROUNDS):
            if wait or not await self.jobs_due(queues):
                break
            await job_app.run_worker_async(**options)

    async def jobs_due(self, queues: list[str] | None = None) -> bool:
        """Whether a job is waiting that a worker would take now (due, and its lock free)."""
        async with self.database.session_scope() as session:
            due = await session.scalar(
                text(
                    "SELECT EXISTS (SELECT FROM procrastinate.procrastinate_jobs AS job"
                    " WHERE job.status = 'todo'"
                    " AND (job.scheduled_at IS NULL OR job.scheduled_at <= now())"
                    " AND (CAST(:queues AS text[]) IS NULL OR job.queue_name = ANY(:queues))"
                    " AND (job.lock IS NULL OR NOT EXISTS (SELECT FROM"
                    " procrastinate.procrastinate_jobs AS running"
                    " WHERE running.lock = job.lock AND running.status = 'doing')))"
                ),
                {"queues": queues},
            )
        return bool(due)


async def supervise_worker(runtime: JobRuntime, *, max_backoff: float = 30.0) -> None:
    """Run the in-process worker, restarting it when it stops on an error.

    A `serve` whose worker died would accept work that nothing ever runs; restarting (with a
    growing pause, so a persistent fault does not spin) keeps the one-command setup honest.
    """
    backoff = min(1.0, max_backoff)
    while True:
        try:
            await runtime.run_worker(install_signal_handlers=False)
            log.warning("worker_stopped_restarting")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker_crashed_restarting", retry_in_seconds=backoff)
        await asyncio.sleep(backoff)
        backoff = min(max_backoff, backoff * 2)


def start_worker_task(runtime: JobRuntime) -> asyncio.Task[None]:
    """A supervised worker as a task of the current event loop (the worker inside `serve`)."""
    return asyncio.create_task(supervise_worker(runtime), name="creatorhub-worker")


@job_app.periodic(cron="* * * * *", periodic_id="retry_stalled_jobs")
@job_app.task(queue="maintenance", queueing_lock="retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
    """Put back in the queue the jobs of workers whose heartbeat stopped."""
    settings = task_settings()
    manager = context.app.job_manager
    stalled = list(
        await manager.get_stalled_jobs(seconds_since_heartbeat=settings.stalled_job_seconds)
    )
    for job in stalled:
        log.warning("stalled_job_retried", job_id=job.id, task=job.task_name)
        await manager.retry_job(job)
    return len(stalled)
