"""jobs: procrastinate's tables and functions, in schema `procrastinate`.

Revision ID: 0004_jobs
Revises: 0003_mail
Create Date: 2026-11-21

procrastinate's SQL names its objects without a schema. It is run here with `procrastinate` as
the only schema of the search path, so everything lands there; at run time every connection
has `search_path=public,procrastinate` (creatorhub.db.connection_options), which finds them.

The schema text comes from the installed package, so this revision is tied to the procrastinate
version it was written for (pinned in pyproject.toml). Moving to another version takes a new
revision that applies procrastinate's own migrations for the versions in between; fresh
databases then still start from the schema of the version below.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager

from creatorhub.db import JOBS_SCHEMA
from creatorhub.migrate import execute_script

revision: str = "0004_jobs"
down_revision: str | None = "0003_mail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCRASTINATE_SERIES = "3.10."


def upgrade() -> None:
    installed = version("procrastinate")
    if not installed.startswith(PROCRASTINATE_SERIES):
        raise RuntimeError(
            f"revision {revision} installs procrastinate {PROCRASTINATE_SERIES}x's schema, but "
            f"procrastinate {installed} is installed: a fresh database would get another schema "
            "than the migrated ones. Pin procrastinate back, or add a revision for the upgrade "
            "and make this one install the old schema."
        )
    op.execute(sa.text(f"CREATE SCHEMA {JOBS_SCHEMA}"))
    # SET LOCAL ends with the migration transaction at the latest; it is reset explicitly so the
    # revisions after this one run with the usual path.
    op.execute(sa.text(f"SET LOCAL search_path TO {JOBS_SCHEMA}"))
    execute_script(op.get_bind(), SchemaManager.get_schema())
    op.execute(sa.text(f"SET LOCAL search_path TO public, {JOBS_SCHEMA}"))


def downgrade() -> None:
    op.execute(sa.text(f"DROP SCHEMA {JOBS_SCHEMA} CASCADE"))
