"""identity: a third kind of token, the cookie of a signed-in browser (`page`).

Revision ID: 0014_page_session_tokens
Revises: 0013_provider_call_leases
Create Date: 2026-12-07

The web app's pages sign people in with the same login sessions as the API; the browser holds
one opaque token of its session in an HttpOnly cookie. It is a kind of its own so that it is
never accepted as a Bearer access token, and an access token never as a cookie.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_page_session_tokens"
down_revision: str | None = "0013_provider_call_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_auth_tokens_kind_known"


def upgrade() -> None:
    op.drop_constraint(op.f(NAME), "auth_tokens", schema="identity", type_="check")
    op.create_check_constraint(
        op.f(NAME), "auth_tokens", "kind IN ('access', 'refresh', 'page')", schema="identity"
    )


def downgrade() -> None:
    op.execute("DELETE FROM identity.auth_tokens WHERE kind = 'page'")
    op.drop_constraint(op.f(NAME), "auth_tokens", schema="identity", type_="check")
    op.create_check_constraint(
        op.f(NAME), "auth_tokens", "kind IN ('access', 'refresh')", schema="identity"
    )
