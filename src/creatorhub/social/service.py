"""Connected platform accounts: what other modules may ask of `social`.

The OAuth flow, token storage and refresh live in this module's other files; this is the read
side the portfolio and the giveaway tool use.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from creatorhub.social.models import ConnectionStatus, Credential


def active_platforms_of(user_id: ColumnElement[uuid.UUID]) -> ScalarSelect[Any]:
    """The user's active connections (a disconnected account or one waiting to be reconnected
    is no current proof) as a JSON array of {platform, username, follower_count,
    follower_count_at}, by platform name, as SQL correlated to `user_id`: for a page that reads
    them in its own statement. Never their tokens."""
    connection = func.json_build_object(
        "platform",
        Credential.platform,
        "username",
        Credential.username,
        "follower_count",
        Credential.follower_count,
        "follower_count_at",
        Credential.follower_count_at,
    )
    return (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(connection, Credential.platform)),
                literal_column("'[]'::json"),
            )
        )
        .where(Credential.user_id == user_id, Credential.status == ConnectionStatus.ACTIVE.value)
        .scalar_subquery()
    )
