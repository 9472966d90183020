"""The round-trip scenarios of giveaways (issue 16): one successful request per operation,
counted by tests/platform/test_round_trips.py in a world of its own ("giveaways"): a host
buys credits, keeps a blacklist, creates a draw, imports its comments, commits it (drawn at
once: no beacon), rerolls a winner and cancels another draw; anyone reads the draw, its
certificate and its replay video, the host's history, an entrant's inclusion and the signing
keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from creatorhub.jobs import JobRuntime
from draw_helpers import CONFIG, comments, create_draw, csv_of
from helpers import Account, account
from payment_helpers import fund_wallet, idem


async def world(w: Any) -> None:
    rec, client = w.rec, w.client
    host = await account(client)
    admin = await w.admin()
    await fund_wallet(client, host.headers, 20_00)
    await rec.call(
        "POST",
        "/v1/giveaways/credits/purchases",
        json={"pack": "single"},
        headers={**host.headers, **idem()},
    )
    await rec.call(
        "POST",
        "/v1/admin/giveaways/credit-grants",
        json={"user_id": host.id, "amount": 2, "reason": "round trips"},
        headers={**admin.headers, **idem()},
    )
    await rec.call("GET", "/v1/giveaways/credits", headers=host.headers)
    listed = (
        await rec.call(
            "POST",
            "/v1/giveaways/blacklist",
            json={"platform": "all", "username": "spammer"},
            headers=host.headers,
        )
    ).json()
    await rec.call("GET", "/v1/giveaways/blacklist", headers=host.headers)
    await rec.call(
        "DELETE",
        "/v1/giveaways/blacklist/{entry_id}",
        at={"entry_id": listed["id"]},
        headers=host.headers,
    )

    config = {**CONFIG, "winners_count": 1, "alternates_count": 2}
    draw = (
        await rec.call(
            "POST",
            "/v1/giveaways/draws",
            json={"title": "Round trips", "platform": "instagram", "config": config},
            headers=host.headers,
        )
    ).json()
    at = {"draw_id": draw["id"]}
    await rec.call(
        "POST",
        "/v1/giveaways/draws/{draw_id}/entries",
        at=at,
        files={"file": ("comments.csv", csv_of(comments(30)), "text/csv")},
        headers=host.headers,
    )
    made = (
        await rec.call("POST", "/v1/giveaways/draws/{draw_id}/commit", at=at, headers=host.headers)
    ).json()
    await rec.call(
        "POST",
        "/v1/giveaways/draws/{draw_id}/rerolls",
        at=at,
        json={"rank": 1, "reason": "unreachable"},
        headers=host.headers,
    )
    await rec.call("GET", "/v1/giveaways/draws/{draw_id}", at=at)
    await rec.call("GET", "/v1/giveaways/draws", headers=host.headers)
    await rec.call(
        "GET", "/v1/giveaways/draws/{draw_id}/entries.jsonl", at=at, headers=host.headers
    )
    await rec.call(
        "GET",
        "/v1/giveaways/draws/{draw_id}/inclusion",
        at=at,
        params={"username": made["winners"][0]["username"]},
    )
    await rec.call(
        "GET",
        "/v1/giveaways/certificates/{certificate_hash}",
        at={"certificate_hash": made["certificate_hash"]},
    )
    # The replay videos of the draw's certificates, rendered by their jobs (not counted).
    await JobRuntime(w.database, w.app.state.settings).run_worker(
        queues=["media"], wait=False, install_signal_handlers=False
    )
    await rec.call(
        "GET",
        "/v1/giveaways/videos/{certificate_hash}.mp4",
        at={"certificate_hash": made["certificate_hash"]},
        status=200,
    )
    await rec.call("GET", "/v1/giveaways/hosts/{host_id}/draws", at={"host_id": host.id})
    await rec.call("GET", "/v1/giveaways/signing-keys")
    await rec.call("GET", "/v1/giveaways/credits/history", headers=host.headers)
    today = datetime.now(UTC).date().isoformat()
    await rec.call(
        "POST",
        "/v1/admin/giveaways/system-metrics/{day}",
        at={"day": today},
        headers=admin.headers,
    )
    await rec.call(
        "GET",
        "/v1/admin/giveaways/system-metrics",
        params={"from": today, "to": today},
        headers=admin.headers,
    )
    # Comments imported from the host's connected Instagram account (the job is not run here).
    creator = await account(client, roles=["creator"])
    await connect_instagram(w, creator)
    imported = await create_draw(client, creator)
    at_import = {"draw_id": imported["id"]}
    started = (
        await rec.call(
            "POST",
            "/v1/giveaways/draws/{draw_id}/imports",
            at=at_import,
            json={"platform": "instagram", "media_id": "17900000000000001"},
            headers=creator.headers,
            status=202,
        )
    ).json()
    await rec.call(
        "GET",
        "/v1/giveaways/draws/{draw_id}/imports/{import_id}",
        at={**at_import, "import_id": started["id"]},
        headers=creator.headers,
    )
    other = await create_draw(client, host)
    await rec.call(
        "POST",
        "/v1/giveaways/draws/{draw_id}/cancel",
        at={"draw_id": other["id"]},
        json={"reason": "round trips"},
        headers=host.headers,
    )


async def connect_instagram(w: Any, host: Account) -> None:
    """The host's Instagram account connected through the fake platform (not counted)."""
    w.fake.reset()
    started = await w.client.post(
        "/v1/social/connections/instagram/authorize", headers=host.headers
    )
    assert started.status_code == 200, started.text
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(started.json()["authorization_url"])
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    callback = await w.client.get(f"{back.path}?{back.query}")
    assert callback.status_code == 200, callback.text
