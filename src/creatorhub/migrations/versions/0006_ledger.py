"""ledger: accounts, holds, immutable transfers and their entries (the balance chain).

Revision ID: 0006_ledger
Revises: 0005_idempotency
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from creatorhub.migrate import execute_script, load_sql

revision: str = "0006_ledger"
down_revision: str | None = "0005_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ledger"
CURRENCY_CHECK = "currency ~ '^[A-Z]{3}$' OR currency = 'CREDIT'"


def _uuid_pk() -> sa.Column[object]:
    return sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False)


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    op.create_table(
        "accounts",
        _uuid_pk(),
        sa.Column("owner_type", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("allow_negative", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pending_debits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pending_credits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint(
            "owner_type", "owner_id", "kind", "currency", "shard",
            name=op.f("uq_accounts_owner_type_owner_id_kind_currency_shard"),
        ),
        sa.CheckConstraint(CURRENCY_CHECK, name=op.f("ck_accounts_currency_format")),
        sa.CheckConstraint(
            "owner_type IN ('user', 'job', 'campaign', 'giveaway', 'platform')",
            name=op.f("ck_accounts_owner_type_known"),
        ),
        sa.CheckConstraint("shard >= 0", name=op.f("ck_accounts_shard_nonneg")),
        sa.CheckConstraint("pending_debits >= 0", name=op.f("ck_accounts_pending_debits_nonneg")),
        sa.CheckConstraint(
            "pending_credits >= 0", name=op.f("ck_accounts_pending_credits_nonneg")
        ),
        sa.CheckConstraint("version >= 0", name=op.f("ck_accounts_version_nonneg")),
        sa.CheckConstraint(
            "allow_negative OR balance - pending_debits >= 0",
            name=op.f("ck_accounts_not_overdrawn"),
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "holds",
        _uuid_pk(),
        sa.Column("debit_account_id", sa.UUID(), nullable=False),
        sa.Column("credit_account_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("reference_type", sa.Text()),
        sa.Column("reference_id", sa.Text()),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("posted_amount", sa.BigInteger()),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("metadata", postgresql.JSONB()),
        _created_at(),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sa.ForeignKeyConstraint(
            ["debit_account_id"], [f"{SCHEMA}.accounts.id"],
            name=op.f("fk_holds_debit_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"], [f"{SCHEMA}.accounts.id"],
            name=op.f("fk_holds_credit_account_id_accounts"),
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_holds_idempotency_key")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_holds_amount_positive")),
        sa.CheckConstraint(CURRENCY_CHECK, name=op.f("ck_holds_currency_format")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_holds_distinct_accounts")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'voided', 'expired')",
            name=op.f("ck_holds_status_known"),
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (resolved_at IS NULL)", name=op.f("ck_holds_resolved_iff_done")
        ),
        sa.CheckConstraint(
            "(status = 'posted') = (posted_amount IS NOT NULL)",
            name=op.f("ck_holds_posted_amount_iff_posted"),
        ),
        sa.CheckConstraint(
            "posted_amount IS NULL OR (posted_amount > 0 AND posted_amount <= amount)",
            name=op.f("ck_holds_posted_within_amount"),
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_holds_pending_expiry", "holds", ["expires_at"], schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending' AND expires_at IS NOT NULL"),
    )
    op.create_index(
        "ix_holds_debit_account_id_pending", "holds", ["debit_account_id"], schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_holds_reference", "holds", ["reference_type", "reference_id"], schema=SCHEMA
    )
    op.create_table(
        "transfers",
        _uuid_pk(),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("debit_account_id", sa.UUID(), nullable=False),
        sa.Column("credit_account_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("reference_type", sa.Text()),
        sa.Column("reference_id", sa.Text()),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("hold_id", sa.UUID()),
        sa.Column("metadata", postgresql.JSONB()),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.ForeignKeyConstraint(
            ["debit_account_id"], [f"{SCHEMA}.accounts.id"],
            name=op.f("fk_transfers_debit_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"], [f"{SCHEMA}.accounts.id"],
            name=op.f("fk_transfers_credit_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], [f"{SCHEMA}.holds.id"], name=op.f("fk_transfers_hold_id_holds")
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_transfers_idempotency_key")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_transfers_amount_positive")),
        sa.CheckConstraint(CURRENCY_CHECK, name=op.f("ck_transfers_currency_format")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_transfers_distinct_accounts")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_transfers_reference", "transfers", ["reference_type", "reference_id"], schema=SCHEMA
    )
    op.create_index("ix_transfers_group_id", "transfers", ["group_id"], schema=SCHEMA)
    op.create_index(
        "ix_transfers_hold_id", "transfers", ["hold_id"], schema=SCHEMA,
        postgresql_where=sa.text("hold_id IS NOT NULL"),
    )
    op.create_table(
        "entries",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("account_version", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("previous_balance", sa.BigInteger(), nullable=False),
        sa.Column("new_balance", sa.BigInteger(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("account_id", "account_version", name=op.f("pk_entries")),
        sa.ForeignKeyConstraint(
            ["account_id"], [f"{SCHEMA}.accounts.id"], name=op.f("fk_entries_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], [f"{SCHEMA}.transfers.id"],
            name=op.f("fk_entries_transfer_id_transfers"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_entries_amount_nonzero")),
        sa.CheckConstraint("account_version > 0", name=op.f("ck_entries_version_positive")),
        sa.CheckConstraint(
            "new_balance = previous_balance + amount", name=op.f("ck_entries_balance_adds_up")
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_entries_transfer_id", "entries", ["transfer_id"], schema=SCHEMA)
    execute_script(op.get_bind(), load_sql("creatorhub.ledger", "ledger_001_functions.sql"))


def downgrade() -> None:
    op.execute(sa.text(f"DROP SCHEMA {SCHEMA} CASCADE"))
