"""Test-only job tasks, registered on creatorhub's `job_app` when this module is imported.

They carry explicit names, so a worker finds them whatever the module is called on its
`sys.path`: the test process imports this file as `slow_tasks` (pytest puts tests/platform on
the path), and the worker subprocess of `job_worker.py` adds it through `job_app.import_paths`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import procrastinate

from creatorhub.jobs import defer, job_app, task_database

HOLD_SECONDS = 300.0


def _append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(f"{line}\n")


@job_app.task(name="tests.hold_until_retried", queue="tests", pass_context=True)
async def hold_until_retried(context: procrastinate.JobContext, marker: str) -> str:
    """Append the pid of the running process to `marker`; the first attempt then hangs.

    A test kills the worker during that first attempt; the retry (attempts > 0) finishes at
    once, so the marker ends up naming the killed worker and the one that completed the job.
    """
    await asyncio.to_thread(_append_line, Path(marker), str(os.getpid()))
    if context.job.attempts == 0:
        await asyncio.sleep(HOLD_SECONDS)
    return "done"


@job_app.task(name="tests.work_for", queue="tests", pass_context=True)
async def work_for(context: procrastinate.JobContext, seconds: float, marker: str) -> str:
    """A slow job: appends "<pid> start <attempt>" to `marker`, works `seconds`, appends
    "<pid> end"."""
    pid = os.getpid()
    await asyncio.to_thread(_append_line, Path(marker), f"{pid} start {context.job.attempts}")
    await asyncio.sleep(seconds)
    await asyncio.to_thread(_append_line, Path(marker), f"{pid} end")
    return "done"


@job_app.task(name="tests.noop", queue="tests")
async def noop(value: int) -> int:
    """A task that does nothing, for tests about deferring."""
    return value


@job_app.task(name="tests.defer_follow_up", queue="tests")
async def defer_follow_up(value: int) -> int:
    """Defer `noop(value)` after a pause, as a payout submission defers its webhook delivery."""
    await asyncio.sleep(0.3)
    async with task_database().session_scope() as session:
        return await defer(session, noop, value=value)
