"""mail and social: claims with a deadline, so no network call waits inside a transaction.

Revision ID: 0013_provider_call_leases
Revises: 0012_review_links_by_shoot
Create Date: 2026-12-07

Sending an e-mail and refreshing a platform token used to hold the row's lock (`FOR UPDATE
SKIP LOCKED`) for the whole SMTP conversation or HTTP call. They now claim the row in a short
committed transaction, call out holding nothing, and record the outcome in another:

* `mail.outbox`: a message being sent is `sending` until `claimed_until`; the claim is set only
  while it is (`ck_outbox_claimed_iff_sending`). A claim that outlived its deadline belongs to
  an attempt whose worker died: `requeue_stalled_mail` finds it through `ix_outbox_sending`.
* `social.credentials.refresh_leased_until`: a refresh in flight; another run leaves the
  connection alone until then, and the outcome is written only under the same lease.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_provider_call_leases"
down_revision: str | None = "0012_review_links_by_shoot"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAIL, SOCIAL = "mail", "social"
STATUSES_BEFORE = "status IN ('pending', 'sent', 'logged', 'failed')"
STATUSES_AFTER = "status IN ('pending', 'sending', 'sent', 'logged', 'failed')"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_until", sa.DateTime(timezone=True)), schema=MAIL)
    op.drop_constraint(op.f("ck_outbox_status_known"), "outbox", schema=MAIL, type_="check")
    op.create_check_constraint(
        op.f("ck_outbox_status_known"), "outbox", STATUSES_AFTER, schema=MAIL
    )
    op.create_check_constraint(
        op.f("ck_outbox_claimed_iff_sending"),
        "outbox",
        "(status = 'sending') = (claimed_until IS NOT NULL)",
        schema=MAIL,
    )
    op.create_index(
        "ix_outbox_sending",
        "outbox",
        ["claimed_until"],
        schema=MAIL,
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.add_column(
        "credentials",
        sa.Column("refresh_leased_until", sa.DateTime(timezone=True)),
        schema=SOCIAL,
    )


def downgrade() -> None:
    op.drop_column("credentials", "refresh_leased_until", schema=SOCIAL)
    op.drop_index("ix_outbox_sending", table_name="outbox", schema=MAIL)
    op.drop_constraint(op.f("ck_outbox_claimed_iff_sending"), "outbox", schema=MAIL, type_="check")
    # A message caught mid-send goes back to the queue its job still serves.
    op.execute(sa.text(f"UPDATE {MAIL}.outbox SET status = 'pending' WHERE status = 'sending'"))
    op.drop_constraint(op.f("ck_outbox_status_known"), "outbox", schema=MAIL, type_="check")
    op.create_check_constraint(
        op.f("ck_outbox_status_known"), "outbox", STATUSES_BEFORE, schema=MAIL
    )
    op.drop_column("outbox", "claimed_until", schema=MAIL)
