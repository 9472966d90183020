"""Periodic upkeep of the audit schema: monthly partitions exist before rows need them."""

from __future__ import annotations

from sqlalchemy import text

from creatorhub.jobs import job_app, task_database

PARTITIONED_TABLES = ("audit.audit_logs", "audit.system_logs")


@job_app.periodic(cron="17 3 * * *", periodic_id="ensure_audit_partitions")
@job_app.task(queue="maintenance", queueing_lock="ensure_audit_partitions")
async def ensure_audit_partitions(timestamp: int) -> int:
    """Create this month's and the next two months' partitions (rows never land in default)."""
    created = 0
    async with task_database().session_scope() as session:
        for table in PARTITIONED_TABLES:
            created += int(
                (
                    await session.execute(
                        text(
                            "SELECT audit.ensure_monthly_partitions("
                            "CAST(:table AS regclass), CAST(date_trunc('month', now()) AS date), 3)"
                        ),
                        {"table": table},
                    )
                ).scalar_one()
            )
    return created
