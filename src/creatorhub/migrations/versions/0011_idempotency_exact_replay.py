"""idempotency: stored answers keep their text, so a replay is byte-for-byte the first answer.

Revision ID: 0011_idempotency_exact_replay
Revises: 0010_ledger_chain
Create Date: 2026-12-06

`jsonb` reorders object keys (shorter keys first), so a replay used to carry the same values as
the first answer in another order. `json` keeps the text as written; the rows already stored
keep jsonb's order (their original text is gone).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_idempotency_exact_replay"
down_revision: str | None = "0010_ledger_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "ALTER TABLE api.idempotency_keys"
            " ALTER COLUMN response_body TYPE json USING response_body::json"
        )
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "ALTER TABLE api.idempotency_keys"
            " ALTER COLUMN response_body TYPE jsonb USING response_body::jsonb"
        )
    )
