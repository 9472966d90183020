"""identity: users, profiles, sessions and tokens, login throttling.

Revision ID: 0001_identity
Revises:
Create Date: 2026-11-21

Written out in full rather than derived from the models, so that replaying this revision builds
the same tables whatever the models become later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from creatorhub.migrate import execute_script, load_sql

revision: str = "0001_identity"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "identity"
TOUCHED_TABLES = ("users", "creator_profiles", "brand_profiles")


def _timestamp(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column[datetime]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("now()") if now else None,
        nullable=nullable,
    )


def _text_array(name: str, default: str) -> sa.Column[list[str]]:
    return sa.Column(
        name, postgresql.ARRAY(sa.Text()), server_default=sa.text(default), nullable=False
    )


def upgrade() -> None:
    op.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))

    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        _timestamp("email_verified_at"),
        sa.Column("password_hash", sa.Text()),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("username", sa.String(30)),
        sa.Column("phone", sa.String(32)),
        sa.Column("bio", sa.Text()),
        sa.Column(
            "socials", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        _text_array("roles", "ARRAY['fan']::text[]"),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("status_reason", sa.Text()),
        _timestamp("status_changed_at"),
        _timestamp("deleted_at"),
        sa.Column("age_verification_method", sa.Text()),
        sa.Column("age_verification_result", sa.Text()),
        _timestamp("age_verified_at"),
        sa.Column("external_uid", sa.String(128)),
        _timestamp("created_at", nullable=False, now=True),
        _timestamp("updated_at", nullable=False, now=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("external_uid", name=op.f("uq_users_external_uid")),
        sa.CheckConstraint(
            "roles <@ ARRAY['fan', 'creator', 'brand', 'moderator', 'admin']::text[]",
            name=op.f("ck_users_roles_known"),
        ),
        sa.CheckConstraint("cardinality(roles) > 0", name=op.f("ck_users_roles_not_empty")),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'banned', 'deleted')",
            name=op.f("ck_users_status_known"),
        ),
        sa.CheckConstraint(
            "(status = 'deleted') = (deleted_at IS NOT NULL)",
            name=op.f("ck_users_deleted_at_iff_deleted"),
        ),
        sa.CheckConstraint(
            "length(email) BETWEEN 3 AND 254 AND position('@' in email) > 1",
            name=op.f("ck_users_email_shape"),
        ),
        sa.CheckConstraint(
            "(age_verification_method IS NULL) = (age_verification_result IS NULL)"
            " AND (age_verification_result IS NULL) = (age_verified_at IS NULL)",
            name=op.f("ck_users_age_verification_complete"),
        ),
        sa.CheckConstraint(
            "age_verification_result IS NULL OR age_verification_result IN ('passed', 'failed')",
            name=op.f("ck_users_age_verification_result_known"),
        ),
        sa.CheckConstraint(
            "username ~ '^[A-Za-z0-9_.]{3,30}$'", name=op.f("ck_users_username_shape")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True, schema=SCHEMA
    )
    op.create_index(
        "uq_users_username_lower",
        "users",
        [sa.text("lower(username)")],
        unique=True,
        schema=SCHEMA,
    )

    op.create_table(
        "creator_profiles",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("slug", sa.String(50), nullable=False),
        _text_array("categories", "'{}'::text[]"),
        sa.Column("photo_url", sa.String(2048)),
        sa.Column("min_budget_minor", sa.BigInteger()),
        sa.Column("max_budget_minor", sa.BigInteger()),
        sa.Column("budget_currency", sa.String(3)),
        _text_array("languages", "'{}'::text[]"),
        _text_array("skills", "'{}'::text[]"),
        _timestamp("created_at", nullable=False, now=True),
        _timestamp("updated_at", nullable=False, now=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_creator_profiles")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [f"{SCHEMA}.users.id"],
            name=op.f("fk_creator_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$'",
            name=op.f("ck_creator_profiles_slug_shape"),
        ),
        sa.CheckConstraint(
            "min_budget_minor IS NULL OR min_budget_minor >= 0",
            name=op.f("ck_creator_profiles_min_budget_nonneg"),
        ),
        sa.CheckConstraint(
            "min_budget_minor IS NULL OR max_budget_minor IS NULL"
            " OR min_budget_minor <= max_budget_minor",
            name=op.f("ck_creator_profiles_budget_range_ordered"),
        ),
        sa.CheckConstraint(
            "(min_budget_minor IS NULL AND max_budget_minor IS NULL)"
            " OR budget_currency IS NOT NULL",
            name=op.f("ck_creator_profiles_budget_has_currency"),
        ),
        sa.CheckConstraint(
            "budget_currency ~ '^[A-Z]{3}$'", name=op.f("ck_creator_profiles_budget_currency_iso")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_creator_profiles_slug_lower",
        "creator_profiles",
        [sa.text("lower(slug)")],
        unique=True,
        schema=SCHEMA,
    )

    op.create_table(
        "follower_estimates",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("followers", sa.BigInteger(), nullable=False),
        _timestamp("updated_at", nullable=False, now=True),
        sa.PrimaryKeyConstraint("user_id", "platform", name=op.f("pk_follower_estimates")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [f"{SCHEMA}.creator_profiles.user_id"],
            name=op.f("fk_follower_estimates_user_id_creator_profiles"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("followers >= 0", name=op.f("ck_follower_estimates_followers_nonneg")),
        sa.CheckConstraint(
            "platform ~ '^[a-z0-9_]{2,30}$'", name=op.f("ck_follower_estimates_platform_shape")
        ),
        schema=SCHEMA,
    )

    op.create_table(
        "brand_profiles",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("company_name", sa.String(200), nullable=False),
        sa.Column("website", sa.String(2048)),
        sa.Column("verification_status", sa.Text(), server_default="unverified", nullable=False),
        _text_array("business_categories", "'{}'::text[]"),
        _timestamp("created_at", nullable=False, now=True),
        _timestamp("updated_at", nullable=False, now=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_brand_profiles")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [f"{SCHEMA}.users.id"],
            name=op.f("fk_brand_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "verification_status IN ('unverified', 'pending', 'verified', 'rejected')",
            name=op.f("ck_brand_profiles_verification_known"),
        ),
        schema=SCHEMA,
    )

    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        _timestamp("created_at", nullable=False, now=True),
        _timestamp("last_refreshed_at"),
        _timestamp("revoked_at"),
        sa.Column("revoked_reason", sa.Text()),
        sa.Column("ip", postgresql.INET()),
        sa.Column("user_agent", sa.String(512)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [f"{SCHEMA}.users.id"],
            name=op.f("fk_auth_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_auth_sessions_user_id_active",
        "auth_sessions",
        ["user_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )

    op.create_table(
        "auth_tokens",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        _timestamp("created_at", nullable=False, now=True),
        _timestamp("expires_at", nullable=False),
        _timestamp("used_at"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_auth_tokens")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            [f"{SCHEMA}.auth_sessions.id"],
            name=op.f("fk_auth_tokens_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("kind IN ('access', 'refresh')", name=op.f("ck_auth_tokens_kind_known")),
        sa.CheckConstraint(
            "kind = 'refresh' OR used_at IS NULL", name=op.f("ck_auth_tokens_only_refresh_is_used")
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_auth_tokens_session_id", "auth_tokens", ["session_id"], schema=SCHEMA)
    op.create_index("ix_auth_tokens_expires_at", "auth_tokens", ["expires_at"], schema=SCHEMA)

    op.create_table(
        "email_tokens",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("new_email", sa.String(254)),
        _timestamp("created_at", nullable=False, now=True),
        _timestamp("expires_at", nullable=False),
        _timestamp("used_at"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_email_tokens")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [f"{SCHEMA}.users.id"],
            name=op.f("fk_email_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "purpose IN ('verify_email', 'reset_password', 'change_email')",
            name=op.f("ck_email_tokens_purpose_known"),
        ),
        sa.CheckConstraint(
            "(purpose = 'change_email') = (new_email IS NOT NULL)",
            name=op.f("ck_email_tokens_new_email_iff_change"),
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_email_tokens_user_id", "email_tokens", ["user_id"], schema=SCHEMA)

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.Text(), nullable=False),
        _timestamp("window_start", nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_login_throttle")),
        sa.CheckConstraint("attempts > 0", name=op.f("ck_login_throttle_attempts_positive")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_login_throttle_window_start", "login_throttle", ["window_start"], schema=SCHEMA
    )

    execute_script(op.get_bind(), load_sql("creatorhub.identity", "identity_001_functions.sql"))
    for table in TOUCHED_TABLES:
        op.execute(
            sa.text(
                f"CREATE TRIGGER {table}_touch_updated_at BEFORE UPDATE ON {SCHEMA}.{table}"
                f" FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.touch_updated_at()"
            )
        )


def downgrade() -> None:
    # Named drops and a RESTRICT schema drop: an object another module hung on these tables
    # makes the downgrade fail instead of vanishing with them.
    for table in (
        "login_throttle",
        "email_tokens",
        "auth_tokens",
        "auth_sessions",
        "brand_profiles",
        "follower_estimates",
        "creator_profiles",
        "users",
    ):
        op.drop_table(table, schema=SCHEMA)
    op.execute(sa.text(f"DROP FUNCTION {SCHEMA}.touch_updated_at()"))
    op.execute(sa.text(f"DROP SCHEMA {SCHEMA}"))
