"""Keyset pagination cursors: an opaque token for the (time, id) of the last row of a page.

Lists are ordered newest first by (created_at, id); the next page is the rows strictly before
the cursor's position, so rows inserted meanwhile neither repeat nor shift a page.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from creatorhub.kit.errors import BadRequest


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor stands for; 400 `invalid_cursor` for anything not made here."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        when = datetime.fromisoformat(created_at)
        if when.tzinfo is None:
            raise ValueError("cursor time without zone")
        return when, uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(
            "the cursor is not valid", code="invalid_cursor", field="query.cursor"
        ) from None
