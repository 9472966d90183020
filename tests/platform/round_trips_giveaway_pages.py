"""The round-trip scenarios of the giveaway pages (seed 003): one successful request per page
route, counted by tests/platform/test_round_trips.py in a world of its own ("web_giveaways"):
a host, signed in on the pages, buys a credit pack, keeps a blacklist, creates a draw on the
form, imports its comments, commits it (drawn at once: no beacon), replaces a winner, downloads
the entries file and cancels another draw; anyone opens the draw's public page, the host's
history and an entrant's self-check."""

from __future__ import annotations

from typing import Any

from draw_helpers import comments, csv_of
from helpers import account
from payment_helpers import fund_wallet

DRAW_FORM = {
    "title": "Round trips",
    "platform": "instagram",
    "winners_count": "1",
    "alternates_count": "2",
    "entries_per_user": "one",
    "exclude_suspicious": "yes",
    "require_comment": "yes",
    "require_like": "yes",
    "min_mentions": "0",
    "exclude_replies": "yes",
}


async def world(w: Any) -> None:
    from web_helpers import csrf_of, recording_in, signed_in_browser

    rec, client = w.rec, w.client
    host = await account(client)
    await fund_wallet(client, host.headers, 20_00)
    async with signed_in_browser(w.app, host.email) as browser:
        with recording_in(rec, browser):
            home = await rec.call("GET", "/giveaways")
            form = {"csrf_token": csrf_of(home.text)}
            await rec.call(
                "POST",
                "/giveaways/credits/purchases",
                data={**form, "pack": "single", "request_key": "round-trips"},
                status=303,
            )
            listed = await rec.call("GET", "/giveaways/blacklist")
            assert "blacklist-empty" in listed.text
            await rec.call(
                "POST",
                "/giveaways/blacklist",
                data={**form, "platform": "all", "username": "spammer"},
                status=303,
            )
            entry_id = (await client.get("/v1/giveaways/blacklist", headers=host.headers)).json()[
                "items"
            ][0]["id"]
            await rec.call(
                "POST",
                "/giveaways/blacklist/{entry_id}/deactivate",
                at={"entry_id": entry_id},
                data=form,
                status=303,
            )
            created = await rec.call(
                "POST", "/giveaways/draws", data={**form, **DRAW_FORM}, status=303
            )
            draw_id = created.headers["location"].split("/")[3]
            at = {"draw_id": draw_id}
            await rec.call("GET", "/giveaways/draws/{draw_id}/manage", at=at)
            await rec.call(
                "POST",
                "/giveaways/draws/{draw_id}/entries",
                at=at,
                data=form,
                files={"file": ("comments.csv", csv_of(comments(30)), "text/csv")},
            )
            await rec.call(
                "POST", "/giveaways/draws/{draw_id}/commit", at=at, data=form, status=303
            )
            await rec.call(
                "POST",
                "/giveaways/draws/{draw_id}/rerolls",
                at=at,
                data={**form, "rank": "1", "reason": "unreachable"},
                status=303,
            )
            await rec.call("GET", "/giveaways/draws/{draw_id}/entries.jsonl", at=at)
            other = await browser.post("/giveaways/draws", data={**form, **DRAW_FORM})
            assert other.status_code == 303, other.text[:800]
            await rec.call(
                "POST",
                "/giveaways/draws/{draw_id}/cancel",
                at={"draw_id": other.headers["location"].split("/")[3]},
                data={**form, "reason": "round trips"},
                status=303,
            )
    winner = (await client.get(f"/v1/giveaways/draws/{draw_id}")).json()["winners"][0]
    await rec.call("GET", "/giveaways/draws/{draw_id}", at=at)
    await rec.call(
        "GET", "/giveaways/draws/{draw_id}/check", at=at, params={"username": winner["username"]}
    )
    await rec.call("GET", "/giveaways/hosts/{host_id}", at={"host_id": host.id})
