"""The round-trip scenarios of the settings pages (issue 13): one successful request per page
operation, counted in a world of its own ("web_settings") by tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client, recorder `w.rec`, database); a page is called
through a signed-in browser: `async with signed_in_browser(w.app, who.email) as browser:` and
`with recording_in(w.rec, browser): await w.rec.call("GET", "/path", status=200)`.
"""

from __future__ import annotations

from typing import Any

from helpers import PASSWORD, account, unique_email
from web_helpers import csrf_of, recording_in, signed_in_browser

NEW_PASSWORD = "another horse battery 9"


async def world(w: Any) -> None:
    """An account with both profile roles saves each form once, changes its address and its
    password, then deletes itself."""
    rec = w.rec
    who = await account(w.client, roles=["brand", "creator"])
    async with signed_in_browser(w.app, who.email) as browser:
        token = csrf_of((await browser.get("/settings")).text)
        with recording_in(rec, browser):
            await rec.call(
                "POST",
                "/settings/profile",
                data={
                    "csrf_token": token,
                    "display_name": "Settings Person",
                    "username": "settings.person",
                    "phone": "",
                    "bio": "Reels",
                    "socials": "instagram: https://instagram.com/settings",
                },
                status=303,
            )
            await rec.call(
                "POST",
                "/settings/brand-profile",
                data={
                    "csrf_token": token,
                    "company_name": "Settings Records",
                    "website": "https://settings.example",
                    "business_categories": "Music",
                },
                status=303,
            )
            await rec.call(
                "POST",
                "/settings/creator-profile",
                data={
                    "csrf_token": token,
                    "slug": "rt-settings-page",
                    "categories": "Music",
                    "photo_url": "",
                    "min_budget": "100",
                    "max_budget": "500",
                    "budget_currency": "USD",
                    "languages": "en",
                    "skills": "Editing",
                    "follower_estimates": "instagram: 900",
                },
                status=303,
            )
            # With both profiles saved: the page reads them.
            await rec.call("GET", "/settings")
            await rec.call(
                "POST",
                "/settings/email",
                data={
                    "csrf_token": token,
                    "new_email": unique_email("rt-settings-new"),
                    "email_password": PASSWORD,
                },
                status=303,
            )
            await rec.call(
                "POST",
                "/settings/password",
                data={
                    "csrf_token": token,
                    "current_password": PASSWORD,
                    "new_password": NEW_PASSWORD,
                },
                status=303,
            )
            await rec.call("GET", "/settings/delete")
            await rec.call(
                "POST",
                "/settings/delete",
                data={"csrf_token": token, "current_password": NEW_PASSWORD},
                status=303,
            )
