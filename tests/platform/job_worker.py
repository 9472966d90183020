"""A creatorhub job worker that also knows the test tasks of `slow_tasks`.

Run as `python -m job_worker` with this directory on PYTHONPATH and the configuration in the
environment (DATABASE_URL, CREATORHUB_STALLED_JOB_SECONDS, ...). Tests start it as a
subprocess so that they can kill it with SIGKILL, as a crashed machine would.
"""

from __future__ import annotations

import asyncio

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import JobRuntime, job_app

# The worker imports its `import_paths` when it starts (procrastinate's App API): adding the
# test module here is how a worker process learns tasks that no creatorhub module declares.
job_app.import_paths = [*job_app.import_paths, "slow_tasks"]


async def main() -> None:
    settings = Settings()
    if settings.database_url is None:
        raise SystemExit("DATABASE_URL is required")
    database = Database.connect(settings.database_url, settings)
    try:
        runtime = JobRuntime(database, settings)
        async with runtime.open():
            # Only the test queue: a periodic job it happened to hold when killed would be
            # stalled too, and the test counts stalled jobs exactly.
            await runtime.run_worker(install_signal_handlers=True, queues=["tests"])
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
