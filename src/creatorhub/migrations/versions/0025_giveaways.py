"""giveaways (seed 003, "Cleack"): draws with their entries, commitments and certificates,
their history (append-only), the hosts' blacklists, the platform's signing keys, the daily system
metrics; the seed's `credits` and `social_accounts` as views of the ledger and of `social`.

* `credits`: one row per ledger transfer on a user's `credits` account (currency CREDIT): the
  seed's amount (signed), the balance after it (the balance chain's), its transaction type
  (`purchase`, `usage`, `refund`, `bonus`, from the transfer's kind) and metadata;
* `social_accounts`: the seed's connected accounts are `social.credentials` (tokens sealed
  there); the view shows the seed's columns without the tokens;
* `draw_history` refuses updates, and deletes other than a cascade from its draw or user.

Revision ID: 0025_giveaways
Revises: 0024_payment_methods
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025_giveaways"
down_revision: str | None = "0024_payment_methods"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY_TRIGGER = """
CREATE FUNCTION giveaways.forbid_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A cascade (the draw or the user deleted) runs inside the foreign key's own trigger:
    -- depth 2 here. A statement of its own on the history is depth 1 and refused.
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'giveaways.draw_history is append-only: % of a row is not allowed', TG_OP
        USING ERRCODE = 'P0001';
END;
$$;
CREATE TRIGGER draw_history_append_only BEFORE UPDATE OR DELETE ON giveaways.draw_history
    FOR EACH ROW EXECUTE FUNCTION giveaways.forbid_history_change();
"""

CREDITS_VIEW = """
CREATE VIEW giveaways.credits AS
SELECT t.id, a.owner_id AS user_id,
       CASE WHEN t.credit_account_id = a.id THEN t.amount ELSE -t.amount END AS amount,
       CASE WHEN t.credit_account_id = a.id THEN t.credit_new_balance
            ELSE t.debit_new_balance END AS balance,
       CASE t.kind WHEN 'giveaway_credit_purchase' THEN 'purchase'
                   WHEN 'giveaway_draw' THEN 'usage'
                   WHEN 'giveaway_credit_refund' THEN 'refund'
                   ELSE 'bonus' END AS transaction_type,
       t.kind, t.reference_type, t.reference_id, coalesce(t.metadata, '{}'::jsonb) AS metadata,
       t.created_at
  FROM ledger.accounts a
  JOIN ledger.transfers t ON t.credit_account_id = a.id OR t.debit_account_id = a.id
 WHERE a.owner_type = 'user' AND a.kind = 'credits' AND a.currency = 'CREDIT'
"""

SOCIAL_ACCOUNTS_VIEW = """
CREATE VIEW giveaways.social_accounts AS
SELECT c.id, c.user_id, c.platform, c.platform_user_id, c.username,
       c.expires_at AS token_expires_at, c.status = 'active' AS is_active,
       c.follower_count, c.created_at, coalesce(c.refreshed_at, c.created_at) AS updated_at
  FROM social.credentials c
"""


def upgrade() -> None:
    op.execute(sa.text("CREATE SCHEMA giveaways"))
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("private_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("sealing_key_id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "public_key ~ '^[0-9a-f]{64}$'", name=op.f("ck_signing_keys_public_key_hex")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("public_key", name=op.f("uq_signing_keys_public_key")),
        schema="giveaways",
    )
    op.create_index(
        "uq_signing_keys_active",
        "signing_keys",
        [sa.literal_column("(true)")],
        unique=True,
        schema="giveaways",
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.create_table(
        "system_metrics",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("metric_type", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.Text(), server_default="", nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(metric_type = 'revenue') = (currency <> '')",
            name=op.f("ck_system_metrics_currency_only_for_revenue"),
        ),
        sa.CheckConstraint(
            "metric_type IN ('daily_draws', 'user_signups', 'revenue',"
            " 'avg_participants_per_draw', 'error_rate')",
            name=op.f("ck_system_metrics_metric_type_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_metrics")),
        sa.UniqueConstraint("metric_type", "day", "currency", name="uq_system_metrics_day"),
        schema="giveaways",
    )
    op.create_index(
        "ix_system_metrics_day", "system_metrics", ["day"], unique=False, schema="giveaways"
    )
    op.create_table(
        "blacklist",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "platform IN ('instagram', 'facebook', 'tiktok', 'twitter', 'all')",
            name=op.f("ck_blacklist_platform_known"),
        ),
        sa.CheckConstraint(
            "char_length(username) BETWEEN 1 AND 100 AND username !~ '[[:space:]@[:cntrl:]]'",
            name=op.f("ck_blacklist_username_normalized"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_blacklist_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blacklist")),
        sa.UniqueConstraint("user_id", "username", "platform", name="uq_blacklist_user_username"),
        schema="giveaways",
    )
    op.create_index(
        "ix_blacklist_platform", "blacklist", ["platform"], unique=False, schema="giveaways"
    )
    op.create_index(
        "ix_blacklist_username", "blacklist", ["username"], unique=False, schema="giveaways"
    )
    op.create_table(
        "draws",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("post_url", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("is_test", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("winners_count", sa.Integer(), nullable=False),
        sa.Column("alternates_count", sa.Integer(), nullable=False),
        sa.Column("entries_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("credits_used", sa.Integer(), server_default="0", nullable=False),
        sa.Column("credit_hold_id", sa.UUID(), nullable=True),
        sa.Column("seed_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("seed_key_id", sa.Text(), nullable=False),
        sa.Column("seed_sha256", sa.Text(), nullable=False),
        sa.Column("blacklist", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("commitment", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("commitment_hash", sa.Text(), nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("beacon_round", sa.BigInteger(), nullable=True),
        sa.Column("beacon_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("winners", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("certificate_hash", sa.Text(), nullable=True),
        sa.Column("video_url", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)",
            name=op.f("ck_draws_cancelled_at"),
        ),
        sa.CheckConstraint(
            "(status = 'completed') = (certificate_hash IS NOT NULL AND executed_at IS NOT NULL)",
            name=op.f("ck_draws_certificate_when_completed"),
        ),
        sa.CheckConstraint(
            "(status = 'failed') = (failure_reason IS NOT NULL)",
            name=op.f("ck_draws_failure_reason"),
        ),
        sa.CheckConstraint(
            "platform IN ('instagram', 'facebook', 'tiktok', 'twitter', 'file')",
            name=op.f("ck_draws_platform_known"),
        ),
        sa.CheckConstraint("seed_sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_draws_seed_sha256_hex")),
        sa.CheckConstraint(
            "status = 'pending' OR status = 'cancelled' OR status = 'failed'"
            " OR (commitment IS NOT NULL AND commitment_hash IS NOT NULL)",
            name=op.f("ck_draws_committed_when_drawn"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_draws_status_known"),
        ),
        sa.CheckConstraint(
            "alternates_count BETWEEN 0 AND 100", name=op.f("ck_draws_alternates_count_range")
        ),
        sa.CheckConstraint("credits_used >= 0", name=op.f("ck_draws_credits_used_nonneg")),
        sa.CheckConstraint("entries_count >= 0", name=op.f("ck_draws_entries_count_nonneg")),
        sa.CheckConstraint(
            "winners_count BETWEEN 1 AND 1000", name=op.f("ck_draws_winners_count_range")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_draws_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draws")),
        sa.UniqueConstraint("certificate_hash", name=op.f("uq_draws_certificate_hash")),
        schema="giveaways",
    )
    op.create_index(
        "ix_draws_beacon_due",
        "draws",
        ["beacon_due_at"],
        unique=False,
        schema="giveaways",
        postgresql_where=sa.text("status = 'processing'"),
    )
    op.create_index(
        "ix_draws_executed_at", "draws", ["executed_at"], unique=False, schema="giveaways"
    )
    op.create_index("ix_draws_platform", "draws", ["platform"], unique=False, schema="giveaways")
    op.create_index("ix_draws_status", "draws", ["status"], unique=False, schema="giveaways")
    op.create_index(
        "ix_draws_user_id_created_at",
        "draws",
        ["user_id", "created_at"],
        unique=False,
        schema="giveaways",
    )
    op.create_table(
        "certificates",
        sa.Column("certificate_hash", sa.Text(), nullable=False),
        sa.Column("draw_id", sa.UUID(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "certificate_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_certificates_certificate_hash_hex")
        ),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["giveaways.draws.id"],
            name=op.f("fk_certificates_draw_id_draws"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("certificate_hash", name=op.f("pk_certificates")),
        schema="giveaways",
    )
    op.create_index(
        "ix_certificates_draw_id",
        "certificates",
        ["draw_id", "issued_at"],
        unique=False,
        schema="giveaways",
    )
    op.create_table(
        "draw_history",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "seq",
            sa.BigInteger(),
            sa.Identity(always=True),
            nullable=False,
        ),
        sa.Column("draw_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "action IN ('created', 'started', 'completed', 'failed', 'cancelled', 'retried',"
            " 'imported', 'rerolled')",
            name=op.f("ck_draw_history_action_known"),
        ),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["giveaways.draws.id"],
            name=op.f("fk_draw_history_draw_id_draws"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_draw_history_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draw_history")),
        schema="giveaways",
    )
    op.create_index(
        "ix_draw_history_action", "draw_history", ["action"], unique=False, schema="giveaways"
    )
    op.create_index(
        "ix_draw_history_created_at",
        "draw_history",
        ["created_at"],
        unique=False,
        schema="giveaways",
    )
    op.create_index(
        "ix_draw_history_draw_id",
        "draw_history",
        ["draw_id", "seq"],
        unique=False,
        schema="giveaways",
    )
    op.create_index(
        "ix_draw_history_user_id", "draw_history", ["user_id"], unique=False, schema="giveaways"
    )
    op.create_table(
        "entries",
        sa.Column("draw_id", sa.UUID(), nullable=False),
        sa.Column("entry_platform", sa.Text(), nullable=False),
        sa.Column("comment_id", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["giveaways.draws.id"],
            name=op.f("fk_entries_draw_id_draws"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("draw_id", "entry_platform", "comment_id", name=op.f("pk_entries")),
        schema="giveaways",
    )
    op.create_index(
        "ix_entries_draw_username",
        "entries",
        ["draw_id", "username"],
        unique=False,
        schema="giveaways",
    )

    op.execute(sa.text(HISTORY_TRIGGER))
    op.execute(sa.text(CREDITS_VIEW))
    op.execute(sa.text(SOCIAL_ACCOUNTS_VIEW))


def downgrade() -> None:
    op.execute(sa.text("DROP VIEW giveaways.social_accounts"))
    op.execute(sa.text("DROP VIEW giveaways.credits"))
    op.drop_index("ix_entries_draw_username", table_name="entries", schema="giveaways")
    op.drop_table("entries", schema="giveaways")
    op.drop_index("ix_draw_history_user_id", table_name="draw_history", schema="giveaways")
    op.drop_index("ix_draw_history_draw_id", table_name="draw_history", schema="giveaways")
    op.drop_index("ix_draw_history_created_at", table_name="draw_history", schema="giveaways")
    op.drop_index("ix_draw_history_action", table_name="draw_history", schema="giveaways")
    op.drop_table("draw_history", schema="giveaways")
    op.drop_index("ix_certificates_draw_id", table_name="certificates", schema="giveaways")
    op.drop_table("certificates", schema="giveaways")
    op.drop_index("ix_draws_user_id_created_at", table_name="draws", schema="giveaways")
    op.drop_index("ix_draws_status", table_name="draws", schema="giveaways")
    op.drop_index("ix_draws_platform", table_name="draws", schema="giveaways")
    op.drop_index("ix_draws_executed_at", table_name="draws", schema="giveaways")
    op.drop_index(
        "ix_draws_beacon_due",
        table_name="draws",
        schema="giveaways",
        postgresql_where=sa.text("status = 'processing'"),
    )
    op.drop_table("draws", schema="giveaways")
    op.drop_index("ix_blacklist_username", table_name="blacklist", schema="giveaways")
    op.drop_index("ix_blacklist_platform", table_name="blacklist", schema="giveaways")
    op.drop_table("blacklist", schema="giveaways")
    op.drop_index("ix_system_metrics_day", table_name="system_metrics", schema="giveaways")
    op.drop_table("system_metrics", schema="giveaways")
    op.drop_index(
        "uq_signing_keys_active",
        table_name="signing_keys",
        schema="giveaways",
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.drop_table("signing_keys", schema="giveaways")
    op.execute(sa.text("DROP FUNCTION giveaways.forbid_history_change()"))
    op.execute(sa.text("DROP SCHEMA giveaways"))
