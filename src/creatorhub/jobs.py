"""Background jobs on procrastinate, in the platform's own database.

* `job_app` is the one procrastinate App; modules declare tasks in their `tasks.py` with
  `@job_app.task(...)`, and `TASK_MODULES` lists those modules so workers know them.
* `defer(session, task, **kwargs)` inserts the job on the caller's connection, inside its
  transaction: the job exists if and only if the change that caused it committed.
* `JobRuntime` connects the app and a worker to a database (inside `serve`, or `creatorhub
  worker`), and tells tasks which database to use (`task_database()`).
* `WorkerSupervisor` keeps a worker running: it starts procrastinate's worker again after it
  stopped on an error, waits out a database outage (one log line when the database goes, one
  when it is back), and stops only when asked (a signal for `creatorhub worker`, the app's
  shutdown for the worker inside `serve`). While a worker runs, the supervisor also sweeps
  stalled jobs (`retry_stalled_jobs`): jobs held by a worker that stopped sending heartbeats
  (killed, lost its machine) go back to the queue.

Timings all follow `CREATORHUB_STALLED_JOB_SECONDS` (T, default 30): a worker writes its
heartbeat every T/6 s, the sweep runs every T/6 s and an idle worker looks for due jobs at least
every min(5, T/6) s, so a job of a dead worker runs again at most T + T/6 + min(5, T/6) s after
its worker died (40 s with the default). A live worker's job is retried only if six heartbeats
in a row failed to arrive. The sweep is a loop of the supervisor rather than a periodic job: a
periodic job waits for a free worker slot and leaves a job row behind at every run, and cron's
minute granularity alone added up to a minute to the threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import procrastinate
import procrastinate.worker
import psycopg
import psycopg_pool
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database, connection_options, libpq_url
from creatorhub.kit.errors import database_unavailable

log = structlog.get_logger(__name__)

TASK_MODULES = [
    "creatorhub.jobs",
    "creatorhub.audit.tasks",
    "creatorhub.identity.tasks",
    "creatorhub.mail.tasks",
    "creatorhub.payments.tasks",
    "creatorhub.payments.billing_tasks",
    "creatorhub.idempotency_tasks",
    "creatorhub.marketplace.tasks",
    "creatorhub.campaigns.tasks",
    "creatorhub.social.tasks",
    "creatorhub.giveaways.tasks",
    "creatorhub.giveaways.connected_import",
]

# The connector given here is replaced by `JobRuntime` with one bound to the configured
# database; deferring on an explicit connection (see `defer`) never touches its pool.
job_app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=TASK_MODULES)


# How many times a worker run until idle starts again for jobs deferred while it ran.
UNTIL_IDLE_MAX_ROUNDS = 50

# Heartbeats (and sweeps) per stalled-job threshold: a job is retried only after this many
# heartbeats in a row went missing, so one slow query or a busy second cannot retry the job of
# a live worker.
HEARTBEATS_PER_THRESHOLD = 6
# procrastinate's own polling interval for due jobs: the sweep puts a job back with an UPDATE,
# which sends no notification, so an idle worker finds it at its next poll.
MAX_FETCH_POLLING_SECONDS = 5.0
# Only one worker sweeps at a time (a transaction-level advisory lock), so no job is retried
# by one sweep after another sweep already gave it to a new worker.
STALLED_SWEEP_LOCK_KEY = int.from_bytes(b"jobs-stl", "big", signed=True)
# A database probe gives up after this long (the supervisor then waits and probes again); the
# pause between probes grows up to PROBE_MAX_INTERVAL_SECONDS: a worker is back at most that
# long after its database.
PROBE_TIMEOUT_SECONDS = 5
PROBE_MAX_INTERVAL_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 10.0

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


def heartbeat_seconds(settings: Settings) -> float:
    """How often a worker writes its heartbeat (and the supervisor sweeps stalled jobs)."""
    return settings.stalled_job_seconds / HEARTBEATS_PER_THRESHOLD


def stalled_job_bound_seconds(settings: Settings) -> float:
    """The longest a job of a dead worker waits before a live worker runs it again."""
    return (
        settings.stalled_job_seconds
        + heartbeat_seconds(settings)
        + min(MAX_FETCH_POLLING_SECONDS, heartbeat_seconds(settings))
    )


def is_connection_error(error: BaseException | None) -> bool:
    """Whether `error` (or what caused it: procrastinate and SQLAlchemy wrap psycopg's errors)
    says the database cannot be reached now: the request path's rule (`database_unavailable`),
    so a worker and an API process call the same failure an outage."""
    return error is not None and database_unavailable(error)


def describe_database_error(error: BaseException | None) -> str | None:
    """The first line of the database's own message behind `error` (wrappers skipped)."""
    if error is None:
        return None
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, psycopg.Error):
            error = cause
            break
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _log_exception(record: logging.LogRecord) -> BaseException | None:
    if record.exc_info and record.exc_info[1] is not None:
        return record.exc_info[1]
    return None


# psycopg_pool's warnings while the database is away, one per connection attempt.
_POOL_OUTAGE_MESSAGES = ("error connecting in", "discarding broken connection")


class _QuietDatabaseErrors(logging.Filter):
    """The job runtime's logs during a database outage, without a traceback in each.

    When the database goes away a worker's listener and heartbeat fail: procrastinate logs
    each failure with its traceback, stops the worker and logs them again as it shuts down,
    and the connection pool warns at every reconnection attempt. The supervisor says once that
    the database is unavailable and once that it is back: those records are dropped (the
    side task's failure is handed to the supervisors, to tell an outage from a bug). Other
    records caused by a lost connection (a job that failed) keep their line, without the
    traceback. Anything else passes unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self.listeners: list[Callable[[logging.LogRecord, BaseException | None], None]] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "psycopg.pool":
            return not str(record.msg).startswith(_POOL_OUTAGE_MESSAGES)
        error = _log_exception(record)
        action = str(getattr(record, "action", ""))
        if action == "side_task_failed":
            for listener in list(self.listeners):
                listener(record, error)
        if error is None or not is_connection_error(error):
            return True
        # A side task's failure, when it happens and again when the worker collects it.
        if action == "side_task_failed" or record.name == "procrastinate.utils":
            return False
        record.msg = f"{record.getMessage()} ({describe_database_error(error)})"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True


_quiet_filter = _QuietDatabaseErrors()
# procrastinate's worker module and its per-worker child logger, its utils (side tasks' errors
# collected at shutdown), the pool, and asyncio (an abandoned job's "exception was never
# retrieved").
_QUIETED_LOGGERS = (
    "procrastinate.worker",
    "procrastinate.worker.worker",
    "procrastinate.utils",
    "psycopg.pool",
    "asyncio",
)


def _quiet_database_errors() -> _QuietDatabaseErrors:
    for name in _QUIETED_LOGGERS:
        logger = logging.getLogger(name)
        if _quiet_filter not in logger.filters:
            logger.addFilter(_quiet_filter)
    return _quiet_filter


async def probe_database(url: str, settings: Settings) -> Exception | None:
    """Why a new connection to the database cannot be opened and used now (None: it can)."""
    try:
        connection = await psycopg.AsyncConnection.connect(
            libpq_url(url),
            connect_timeout=PROBE_TIMEOUT_SECONDS,
            options=connection_options(settings),
            autocommit=True,
        )
        async with connection:
            await connection.execute("SELECT 1")
    except (psycopg.Error, OSError) as error:
        return error
    return None


async def retry_stalled_jobs(stalled_seconds: float) -> int:
    """Put back in the queue the jobs of workers whose heartbeat is older than
    `stalled_seconds` (or that were pruned); returns how many.

    Another worker sweeping at the same moment makes this one return 0 at once.
    """
    connector = job_app.connector
    assert isinstance(connector, procrastinate.PsycopgConnector)
    manager = job_app.job_manager
    async with connector.pool.connection() as connection, connection.transaction():
        cursor = await connection.execute(
            "SELECT pg_try_advisory_xact_lock(%s)", (STALLED_SWEEP_LOCK_KEY,)
        )
        locked = await cursor.fetchone()
        if locked is None or not locked[0]:
            return 0
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds))
        retried = 0
        for job in stalled:
            try:
                await manager.retry_job(job)
            except procrastinate.exceptions.ConnectorException as error:
                # It finished between the two statements: nothing to retry.
                if is_connection_error(error):
                    raise
                log.warning("stalled_job_not_retried", job_id=job.id, error=str(error.__cause__))
                continue
            log.warning("stalled_job_retried", job_id=job.id, task=job.task_name)
            retried += 1
    return retried


@dataclass
class JobRuntime:
    """The job app connected to one database, and optionally a worker running on it."""

    database: Database
    settings: Settings
    # The procrastinate worker of the last `run_worker` (the supervisor reads its id).
    current_worker: procrastinate.worker.Worker | None = field(default=None, init=False)

    _pool: psycopg_pool.AsyncConnectionPool[Any] | None = field(default=None, init=False)

    async def _connect(self) -> psycopg_pool.AsyncConnectionPool[Any]:
        """A connection pool for procrastinate, opened (raises when the database is down)."""
        pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
            libpq_url(self.database.url),
            # No autocommit here: procrastinate adds it to its LISTEN connection itself, and
            # psycopg_pool commits each pooled block when it ends.
            kwargs={"options": connection_options(self.settings)},
            min_size=1,
            # The jobs' own queries use the SQLAlchemy engine; this pool serves fetching and
            # finishing jobs, heartbeats, the periodic deferrer and the stalled-job sweep.
            max_size=self.settings.worker_concurrency + 4,
            # After a database restart every pooled connection is dead: checking one before
            # handing it out replaces it instead of failing the worker's next query.
            check=psycopg_pool.AsyncConnectionPool.check_connection,
            # How long a query waits for a connection. Beyond a few seconds the database is
            # gone: failing then lets the worker stop (or finish stopping) and the supervisor
            # take over, instead of hanging in a pool that backs off for minutes.
            timeout=POOL_TIMEOUT_SECONDS,
            open=False,
        )
        try:
            await pool.open(wait=True)
        except BaseException:
            await pool.close()
            raise
        connector = procrastinate.PsycopgConnector()
        await connector.open_async(pool)
        # What `App.replace_connector` does; `open` restores the app's first connector.
        job_app.connector = connector
        job_app.job_manager.connector = connector
        self._pool = pool
        return pool

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[procrastinate.App]:
        global _database, _settings
        _quiet_database_errors()
        with job_app.replace_connector(job_app.connector):
            await self._connect()
            _database, _settings = self.database, self.settings
            try:
                yield job_app
            finally:
                _database = _settings = None
                if self._pool is not None:
                    await self._pool.close()
                    self._pool = None

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def renew_pool(self) -> None:
        """Replace procrastinate's connection pool with a new one, after a database outage.

        psycopg_pool reconnects in the background with a pause that doubles after each failed
        attempt (up to minutes), and a worker asking for a connection meanwhile waits for that
        attempt: once the database answers again, a new pool connects at once.
        """
        old = self._pool
        await self._connect()
        if old is not None:
            await old.close(timeout=PROBE_TIMEOUT_SECONDS)

    def worker_options(
        self,
        *,
        wait: bool = True,
        install_signal_handlers: bool = True,
        queues: list[str] | None = None,
    ) -> procrastinate.app.WorkerOptions:
        beat = heartbeat_seconds(self.settings)
        options: procrastinate.app.WorkerOptions = {
            "concurrency": self.settings.worker_concurrency,
            "wait": wait,
            "install_signal_handlers": install_signal_handlers,
            # Heartbeats tell a dead worker from a slow one (see HEARTBEATS_PER_THRESHOLD).
            "update_heartbeat_interval": beat,
            # A starting worker deletes the rows of workers silent this long; their jobs then
            # count as stalled at once.
            "stalled_worker_timeout": float(self.settings.stalled_job_seconds),
            "fetch_job_polling_interval": min(MAX_FETCH_POLLING_SECONDS, beat),
        }
        if queues:
            options["queues"] = queues
        return options

    async def run_worker(
        self,
        *,
        wait: bool = True,
        install_signal_handlers: bool = True,
        queues: list[str] | None = None,
    ) -> None:
        """Run a worker until stopped (or, with wait=False, until no job is due); all queues
        unless `queues` names some. Cancelling it stops the worker the graceful way: no new
        job is taken and the running ones finish."""
        options = self.worker_options(
            wait=wait, install_signal_handlers=install_signal_handlers, queues=queues
        )
        await self._run_one_worker(options)
        # procrastinate's wait=False stops at the first fetch that finds nothing, even while a
        # running job is about to defer a follow-up (a payout submission defers the delivery
        # of its webhook event). Run again until no job that a worker could take is due; the
        # bound keeps a job the worker could never take from spinning this for ever.
        for _ in range(UNTIL_IDLE_MAX_ROUNDS):
            if wait or not await self.jobs_due(queues):
                break
            await self._run_one_worker(options)

    async def _run_one_worker(self, options: procrastinate.app.WorkerOptions) -> None:
        # What `App.run_worker_async` does, keeping the worker object for its id.
        job_app.perform_import_paths()  # type: ignore[no-untyped-call]
        final: procrastinate.app.WorkerOptions = {**job_app.worker_defaults, **options}
        worker = procrastinate.worker.Worker(app=job_app, **final)
        self.current_worker = worker
        await worker.run()  # type: ignore[no-untyped-call]

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


class WorkerSupervisor:
    """Keeps one procrastinate worker running in this process until asked to stop.

    procrastinate stops its worker when a side task fails (the LISTEN connection or the
    heartbeat lose the database), waits for the running jobs and unregisters the worker, and
    its `run` then ends (with an error when the database is still gone). The supervisor starts
    a new worker: after a database outage once the database answers again (probing with a
    growing pause), after any other failure after a growing pause. Signals are not
    procrastinate's business here (its handlers, removed after the first signal, would be gone
    after the first restart): `request_stop()` (or cancelling `run`) stops the running worker
    the graceful way, waiting for its running jobs.
    """

    def __init__(
        self,
        runtime: JobRuntime,
        *,
        queues: list[str] | None = None,
        first_backoff: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.runtime = runtime
        self.queues = queues
        self.first_backoff = min(first_backoff, max_backoff)
        self.max_backoff = max_backoff
        self.workers_started = 0
        self.outages = 0
        self._stop = asyncio.Event()
        # Set by the log filter when the running worker's side task failed.
        self._side_task_failed = asyncio.Event()
        self._side_task_failure: BaseException | None = None
        # The outage was announced (logged) while the worker was still stopping.
        self._outage_announced = False
        # A worker that ended without unregistering (the database was gone): once the database
        # is back, deleting its row hands its unfinished jobs to the next sweep at once.
        self._unregistered_worker_id: int | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        self._stop.set()

    def _on_side_task_failure(self, record: logging.LogRecord, error: BaseException | None) -> None:
        worker = self.runtime.current_worker
        reported = getattr(record, "worker", None)
        # procrastinate's log records name their worker: only this supervisor's counts.
        if worker is None or not isinstance(reported, dict):
            return
        if reported.get("worker_id") != worker.worker_id:
            return
        self._side_task_failure = error
        self._side_task_failed.set()

    async def run(self) -> None:
        """Run workers one after another until `request_stop()` or cancellation."""
        quiet = _quiet_database_errors()
        quiet.listeners.append(self._on_side_task_failure)
        try:
            await self._run()
        finally:
            quiet.listeners.remove(self._on_side_task_failure)

    async def _run(self) -> None:
        backoff = self.first_backoff
        while not self.stopping:
            error = await self._run_worker()
            if self.stopping:
                return
            cause = error or self._side_task_failure
            if self._outage_announced or is_connection_error(cause):
                if not await self.wait_for_database(cause):
                    return
                backoff = self.first_backoff
                continue
            if cause is None:
                log.warning(f"worker stopped, restarting in {backoff:g} s")
            else:
                log.error(f"worker failed, restarting in {backoff:g} s", exc_info=cause)
            if await self._pause(backoff):
                return
            backoff = min(self.max_backoff, backoff * 2)

    async def run_standalone(self) -> None:
        """`creatorhub worker`: wait for the database, open the runtime, run until stopped."""
        while not self.stopping:
            if not await self.database_ready():
                return
            try:
                async with self.runtime.open():
                    await self.run()
                return
            except Exception as error:
                # The database went away between the probe and the pool's first connections.
                if not is_connection_error(error):
                    raise

    async def database_ready(self) -> bool:
        """True once the database answers (waiting and saying so if it does not yet); False
        when a stop was requested first."""
        # A wrong address or password looks the same from here: the line says which it is.
        problem = await probe_database(self.runtime.database.url, self.runtime.settings)
        if problem is None:
            return True
        return await self.wait_for_database(problem)

    def _announce_outage(self, cause: BaseException | None) -> None:
        self.outages += 1
        self._outage_announced = True
        log.warning(
            f"database unavailable, retrying in {self.first_backoff:g} s",
            error=describe_database_error(cause),
        )

    async def wait_for_database(self, cause: BaseException | None) -> bool:
        """Probe with a growing pause until the database answers: True then, False when a stop
        was requested first. One log line as the outage starts (unless the worker's failure
        announced it already) and one as it ends."""
        if not self._outage_announced:
            self._announce_outage(cause)
        delay = self.first_backoff
        while not await self._reconnect():
            if await self._pause(delay):
                return False
            delay = min(self.max_backoff, PROBE_MAX_INTERVAL_SECONDS, delay * 2)
        self._outage_announced = False
        log.info("reconnected")
        await self._release_unregistered_worker()
        return True

    async def _reconnect(self) -> bool:
        """Whether the database answers now; if so, and the runtime is open, with a new pool."""
        if await probe_database(self.runtime.database.url, self.runtime.settings) is not None:
            return False
        if not self.runtime.is_open:
            return True
        try:
            await self.runtime.renew_pool()
        except Exception as error:
            if not is_connection_error(error):
                raise
            return False
        return True

    async def _release_unregistered_worker(self) -> None:
        worker_id, self._unregistered_worker_id = self._unregistered_worker_id, None
        if worker_id is None:
            return
        # Its `run` has ended: none of its jobs is running any more, in this process or any.
        with contextlib.suppress(Exception):
            await job_app.job_manager.unregister_worker(worker_id)

    async def _pause(self, seconds: float) -> bool:
        """Sleep `seconds`; True when a stop was requested meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        return self.stopping

    async def _run_worker(self) -> BaseException | None:
        """Run one procrastinate worker until it stops by itself (returns its error, if any)
        or a stop is requested (the worker then stops gracefully)."""
        self.workers_started += 1
        self.runtime.current_worker = None
        self._side_task_failed.clear()
        self._side_task_failure = None
        run = asyncio.create_task(
            self.runtime.run_worker(install_signal_handlers=False, queues=self.queues),
            name="creatorhub-worker-run",
        )
        stop = asyncio.create_task(self._stop.wait(), name="creatorhub-worker-stop")
        failed = asyncio.create_task(self._side_task_failed.wait(), name="creatorhub-worker-lost")
        helpers = [
            asyncio.create_task(self._heartbeats(run), name="creatorhub-worker-heartbeat"),
            asyncio.create_task(self._sweeps(), name="creatorhub-stalled-sweep"),
        ]
        try:
            await asyncio.wait({run, stop, failed}, return_when=asyncio.FIRST_COMPLETED)
            if failed.done() and not run.done():
                # The worker is stopping (waiting for its jobs, then for the database to
                # unregister): say now that the database is gone, not once that is over.
                if is_connection_error(self._side_task_failure):
                    self._announce_outage(self._side_task_failure)
                await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done():
                # procrastinate's graceful stop: no new job, the running ones finish.
                run.cancel()
                await asyncio.wait({run})
        except asyncio.CancelledError:
            run.cancel()
            await asyncio.wait({run})
            raise
        finally:
            for task in [stop, failed, *helpers]:
                task.cancel()
            await asyncio.gather(stop, failed, *helpers, return_exceptions=True)
            worker = self.runtime.current_worker
            if worker is not None and worker.worker_id is not None:
                self._unregistered_worker_id = worker.worker_id
        if run.cancelled():
            return None
        return run.exception()

    async def _heartbeats(self, run: asyncio.Task[None]) -> None:
        """The worker's heartbeat, also while it stops.

        procrastinate stops its own heartbeat as soon as a stop begins, then waits for the
        running jobs: a long job would look stalled and be run a second time by another worker.
        Beating here until `run` ends keeps it alive as long as the process runs its jobs.
        """
        interval = heartbeat_seconds(self.runtime.settings)
        while not run.done():
            await asyncio.sleep(interval)
            worker = self.runtime.current_worker
            if worker is None or worker.worker_id is None:
                continue
            with contextlib.suppress(Exception):
                await job_app.job_manager.update_heartbeat(worker.worker_id)

    async def _sweeps(self) -> None:
        """Retry stalled jobs now and then every T/6 s, for as long as the worker runs."""
        settings = self.runtime.settings
        last_problem: str | None = None
        while True:
            try:
                await retry_stalled_jobs(settings.stalled_job_seconds)
                last_problem = None
            except Exception as error:
                problem = f"{type(error).__name__}: {error}"
                # An outage is the worker's to report; anything else once per kind of failure.
                if not is_connection_error(error) and problem != last_problem:
                    log.warning("stalled_job_sweep_failed", error=problem)
                last_problem = problem
            await asyncio.sleep(heartbeat_seconds(settings))

    @contextlib.contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        """SIGTERM or SIGINT stops the worker gracefully; a second one ends the process at once.

        As procrastinate's own handler does, the first signal restores the default action, so
        a second signal (an impatient Ctrl-C, a supervisor's last resort) kills the process:
        the jobs it was running stay `doing` until the stalled-job sweep puts them back.
        """
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.getsignal(sig) for sig in signals}
        installed = True

        def first_signal(signum: signal.Signals) -> None:
            nonlocal installed
            installed = False
            for sig in signals:
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_DFL)
            log.info(f"{signum.name} received, stopping the worker once its running jobs end")
            self.request_stop()

        for sig in signals:
            loop.add_signal_handler(sig, first_signal, sig)
        try:
            yield
        finally:
            for sig in signals:
                if installed:
                    loop.remove_signal_handler(sig)
                signal.signal(sig, previous[sig])


async def supervise_worker(
    runtime: JobRuntime, *, queues: list[str] | None = None, max_backoff: float = 30.0
) -> None:
    """Run a supervised worker until cancelled (the worker inside `serve`).

    A `serve` whose worker died would accept work that nothing ever runs; restarting (with a
    growing pause, so a persistent fault does not spin) keeps the one-command setup honest.
    """
    await WorkerSupervisor(runtime, queues=queues, max_backoff=max_backoff).run()


def start_worker_task(runtime: JobRuntime) -> asyncio.Task[None]:
    """A supervised worker as a task of the current event loop (the worker inside `serve`)."""
    return asyncio.create_task(supervise_worker(runtime), name="creatorhub-worker")
