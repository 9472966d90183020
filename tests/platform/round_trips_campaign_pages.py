"""The round-trip scenarios of the campaign pages (issue 14): one successful request per page
operation, counted in a world of its own ("web_campaigns") by tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client, recorder `w.rec`, database); a page is called
through a signed-in browser: `async with signed_in_browser(w.app, who.email) as browser:` and
`with recording_in(w.rec, browser): await w.rec.call("GET", "/path", status=200)`.
"""

from __future__ import annotations

from typing import Any


async def world(w: Any) -> None:
    """No campaign page yet."""
