"""A creatorhub job worker that also knows the test tasks of `slow_tasks`.

Run as `python -m job_worker` with this directory on PYTHONPATH and the configuration in the
environment (DATABASE_URL, CREATORHUB_STALLED_JOB_SECONDS, ...). It is `creatorhub worker`
(the same supervisor, signals and sweep) on the test queue only. Tests start it as a
subprocess so that they can kill it with SIGKILL, as a crashed machine would.
"""

from __future__ import annotations

import asyncio

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import JobRuntime, WorkerSupervisor, job_app
from creatorhub.observability import configure_logging

# The worker imports its `import_paths` when it starts (procrastinate's App API): adding the
# test module here is how a worker process learns tasks that no creatorhub module declares.
job_app.import_paths = [*job_app.import_paths, "slow_tasks"]


async def main() -> None:
    settings = Settings()
    if settings.database_url is None:
        raise SystemExit("DATABASE_URL is required")
    configure_logging(settings.log_level, settings.log_json)
    database = Database.connect(settings.database_url, settings)
    # Only the test queue: a periodic job it happened to hold when killed would be stalled
    # too, and the tests count stalled jobs exactly.
    supervisor = WorkerSupervisor(JobRuntime(database, settings), queues=["tests"])
    try:
        with supervisor.stop_on_signals():
            await supervisor.run_standalone()
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
