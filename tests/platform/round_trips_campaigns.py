"""The round-trip scenarios of the campaigns operations (issue 14): one successful request per
operation, counted in a world of its own ("campaigns") by tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client `w.client`, recorder `w.rec`, database); an
operation is called once with `await w.rec.call(method, template, at={...}, json=..., headers=...)`.
"""

from __future__ import annotations

from typing import Any


async def world(w: Any) -> None:
    """Nothing yet."""
