"""Giveaway draws through HTTP (issue 16): credits reserved at creation and used on
completion, comments imported from a file, the commitment, the certificate verified offline
from what the API gives, rerolls, cancellation, the host's public history and an entrant's
self-check. Exact integers; every test ends with the ledger verified."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sqlalchemy import text

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.giveaways.proof.merkle import verify_proof
from creatorhub.giveaways.proof.verify import verify_certificate
from draw_helpers import (
    CONFIG,
    comments,
    create_draw,
    credits_of,
    csv_of,
    import_csv,
    made_draw,
)
from helpers import account, assert_problem, scalar
from money_fixtures import ledger_verified
from payment_helpers import fund_wallet, idem, wallet

pytestmark = pytest.mark.usefixtures("ledger_verified")
__all__ = ["ledger_verified"]


async def certificate_and_entries(
    client: httpx.AsyncClient, host_headers: dict[str, str], draw: dict[str, object]
) -> tuple[bytes, bytes]:
    cert = await client.get(f"/v1/giveaways/certificates/{draw['certificate_hash']}")
    assert cert.status_code == 200, cert.text
    entries = await client.get(
        f"/v1/giveaways/draws/{draw['id']}/entries.jsonl", headers=host_headers
    )
    assert entries.status_code == 200, entries.text
    return cert.content, entries.content


async def test_a_draw_from_file_to_certificate(client: httpx.AsyncClient) -> None:
    host = await account(client)
    draw = await create_draw(client, host)
    assert draw["status"] == "pending" and len(draw["seed_sha256"]) == 64
    # The welcome bonus (3), one reserved by the draw.
    assert await credits_of(client, host) == {
        **(await credits_of(client, host)),
        "balance": 3,
        "reserved": 1,
        "available": 2,
    }
    imported = await import_csv(client, host, draw["id"], csv_of(comments(40)))
    assert imported.json() == {"added": 40, "duplicates": 0, "entries_count": 40, "format": "csv"}
    again = await import_csv(client, host, draw["id"], csv_of(comments(42)))
    assert again.json()["added"] == 2 and again.json()["duplicates"] == 40

    committed = await client.post(f"/v1/giveaways/draws/{draw['id']}/commit", headers=host.headers)
    assert committed.status_code == 200, committed.text
    made = committed.json()
    assert made["status"] == "completed"
    assert made["commitment"]["entries_count"] == 42
    assert made["commitment"]["seed_sha256"] == draw["seed_sha256"]
    assert [w["rank"] for w in made["winners"]] == [1, 2]
    assert [h["action"] for h in made["history"]] == [
        "created",
        "imported",
        "imported",
        "started",
        "completed",
    ]
    # The credit was used: 2 left, none reserved.
    figures = await credits_of(client, host)
    assert (figures["balance"], figures["reserved"], figures["available"]) == (2, 0, 2)
    rows = (await client.get("/v1/giveaways/credits/history", headers=host.headers)).json()
    assert [(r["transaction_type"], r["amount"], r["balance"]) for r in rows["items"]] == [
        ("usage", -1, 2),
        ("bonus", 3, 3),
    ]

    # Anyone re-computes the draw offline from the certificate and the entries file.
    cert, entries = await certificate_and_entries(client, host.headers, made)
    keys = (await client.get("/v1/giveaways/signing-keys")).json()["items"]
    report = verify_certificate(cert, entries, {keys[0]["public_key"]})
    assert report.ok, report
    document = json.loads(cert)
    assert document["beacon"] is None
    assert {a["rule"]: a["status"] for a in document["attestations"]}["require_like"] == (
        "self_declared_checked_by_host"
    )
    winners = [w["username"] for w in document["winners"]]
    assert winners == [w["username"] for w in made["winners"]]
    # A tampered certificate fails, naming the step.
    tampered = cert.replace(winners[0].encode(), b"someone", 1)
    assert not verify_certificate(tampered, entries).ok

    # An entrant checks their own entry against the committed root, without the list.
    check = await client.get(
        f"/v1/giveaways/draws/{made['id']}/inclusion", params={"username": "@" + winners[0]}
    )
    assert check.status_code == 200, check.text
    (item,) = check.json()["entries"]
    assert item["status"] == "winner:1"
    assert verify_proof(
        item["line"].encode(),
        item["index"],
        made["commitment"]["entries_count"],
        item["proof"],
        made["commitment"]["entries_root"],
    )
    nobody = await client.get(
        f"/v1/giveaways/draws/{made['id']}/inclusion", params={"username": "nobody"}
    )
    assert_problem(nobody, 404, "entrant_not_found")
    malformed = await client.get(
        f"/v1/giveaways/draws/{made['id']}/inclusion", params={"username": "a@b"}
    )
    assert_problem(malformed, 422, "invalid_username", field="query.username")
    # The entries file is the host's: others see the root and their own line only.
    stranger = await account(client)
    denied = await client.get(
        f"/v1/giveaways/draws/{made['id']}/entries.jsonl", headers=stranger.headers
    )
    assert_problem(denied, 404, "draw_not_found")


async def test_credits_run_out_and_come_back(client: httpx.AsyncClient, database: Database) -> None:
    host = await account(client)
    drafts = [await create_draw(client, host) for _ in range(3)]
    refused = await client.post(
        "/v1/giveaways/draws",
        json={"title": "One too many", "platform": "instagram", "config": CONFIG},
        headers=host.headers,
    )
    assert_problem(refused, 409, "insufficient_credits")
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM giveaways.draws WHERE user_id = CAST(:id AS uuid)",
            id=host.id,
        )
        == 3
    )
    cancelled = await client.post(
        f"/v1/giveaways/draws/{drafts[0]['id']}/cancel",
        json={"reason": "wrong post"},
        headers=host.headers,
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await credits_of(client, host))["available"] == 1
    again = await client.post(
        f"/v1/giveaways/draws/{drafts[0]['id']}/cancel", json={}, headers=host.headers
    )
    assert_problem(again, 409, "draw_finished")
    await create_draw(client, host)
    # The host's public history shows every draw, the cancelled one included.
    history = (await client.get(f"/v1/giveaways/hosts/{host.id}/draws")).json()["items"]
    assert sorted(d["status"] for d in history) == ["cancelled", "pending", "pending", "pending"]


async def test_a_pack_bought_from_the_wallet(client: httpx.AsyncClient) -> None:
    buyer = await account(client)
    await fund_wallet(client, buyer.headers, 2_000)
    key = idem()
    bought = await client.post(
        "/v1/giveaways/credits/purchases", json={"pack": "five"}, headers={**buyer.headers, **key}
    )
    assert bought.status_code == 201, bought.text
    assert bought.json()["credits"]["balance"] == 5
    replay = await client.post(
        "/v1/giveaways/credits/purchases", json={"pack": "five"}, headers={**buyer.headers, **key}
    )
    assert replay.status_code == 201 and replay.json() == bought.json()
    assert (await wallet(client, buyer.headers))["available"] == 2_000 - 1_299
    short = await client.post(
        "/v1/giveaways/credits/purchases",
        json={"pack": "twenty"},
        headers={**buyer.headers, **idem()},
    )
    assert_problem(short, 409, "insufficient_funds")
    unknown = await client.post(
        "/v1/giveaways/credits/purchases",
        json={"pack": "huge"},
        headers={**buyer.headers, **idem()},
    )
    assert_problem(unknown, 404, "credit_pack_not_found")
    assert (await credits_of(client, buyer))["balance"] == 5
    assert (await wallet(client, buyer.headers))["available"] == 2_000 - 1_299


async def test_bad_input_changes_nothing(client: httpx.AsyncClient, database: Database) -> None:
    host = await account(client)
    zero = await client.post(
        "/v1/giveaways/draws",
        json={"title": "x", "platform": "instagram", "config": {**CONFIG, "winners_count": 0}},
        headers=host.headers,
    )
    assert_problem(zero, 422, "invalid_draw_config", field="body.config.winners_count")
    draw = await create_draw(client, host)
    empty = await client.post(f"/v1/giveaways/draws/{draw['id']}/commit", headers=host.headers)
    assert_problem(empty, 409, "draw_has_no_entries")
    broken = await import_csv(
        client,
        host,
        draw["id"],
        b"author,text,created_at,likes\nann,hi,2026-11-01T10:00:00Z,3\nbob,yo,not a date,2\n",
    )
    body = assert_problem(broken, 422, "invalid_entries_file")
    assert any("line 3" in error["field"] for error in body["errors"]), body
    assert await scalar(database, "SELECT count(*) FROM giveaways.entries") == 0

    # More winners than eligible users: the draw fails, says how many, credits come back.
    await import_csv(client, host, draw["id"], csv_of(comments(1)))
    failed = await client.post(f"/v1/giveaways/draws/{draw['id']}/commit", headers=host.headers)
    assert failed.status_code == 200
    assert failed.json()["status"] == "failed"
    assert failed.json()["failure_reason"].startswith("1 eligible user(s)")
    assert (await credits_of(client, host))["reserved"] == 0
    late = await import_csv(client, host, draw["id"], csv_of(comments(5)))
    assert_problem(late, 409, "draw_not_pending")

    made = await made_draw(client, host, comments(10))
    cancel = await client.post(
        f"/v1/giveaways/draws/{made['id']}/cancel", json={}, headers=host.headers
    )
    assert_problem(cancel, 409, "draw_completed")
    stranger = await account(client)
    foreign = await client.post(
        f"/v1/giveaways/draws/{made['id']}/cancel", json={}, headers=stranger.headers
    )
    assert_problem(foreign, 404, "draw_not_found")


async def test_blacklist_excludes_and_refuses_duplicates(client: httpx.AsyncClient) -> None:
    host = await account(client)
    added = await client.post(
        "/v1/giveaways/blacklist",
        json={"platform": "all", "username": "@Fan001", "reason": "the host's cousin"},
        headers=host.headers,
    )
    assert added.status_code == 201 and added.json()["username"] == "fan001"
    duplicate = await client.post(
        "/v1/giveaways/blacklist",
        json={"platform": "all", "username": "fan001"},
        headers=host.headers,
    )
    assert_problem(duplicate, 409, "blacklist_duplicate")
    made = await made_draw(client, host, comments(6))
    cert = json.loads(
        (await client.get(f"/v1/giveaways/certificates/{made['certificate_hash']}")).content
    )
    assert cert["blacklist"] == [{"platform": "all", "username": "fan001"}]
    assert cert["counts"]["excluded"]["blacklisted"] == 1
    assert "fan001" not in [w["username"] for w in made["winners"]]
    removed = await client.delete(
        f"/v1/giveaways/blacklist/{added.json()['id']}", headers=host.headers
    )
    assert removed.status_code == 204
    listed = (await client.get("/v1/giveaways/blacklist", headers=host.headers)).json()["items"]
    assert [(e["username"], e["is_active"]) for e in listed] == [("fan001", False)]


async def test_reroll_takes_the_next_alternate(client: httpx.AsyncClient) -> None:
    host = await account(client)
    config = {**CONFIG, "winners_count": 1, "alternates_count": 1}
    made = await made_draw(client, host, comments(8), config=config)
    first = json.loads(
        (await client.get(f"/v1/giveaways/certificates/{made['certificate_hash']}")).content
    )
    rerolled = await client.post(
        f"/v1/giveaways/draws/{made['id']}/rerolls",
        json={"rank": 1, "reason": "did not answer in 48 hours"},
        headers=host.headers,
    )
    assert rerolled.status_code == 200, rerolled.text
    body = rerolled.json()
    assert body["certificate_hash"] != made["certificate_hash"]
    assert body["winners"][0]["username"] == first["alternates"][0]["username"]
    cert, entries = await certificate_and_entries(client, host.headers, body)
    report = verify_certificate(cert, entries)
    assert report.ok, report
    assert json.loads(cert)["rerolls"][0]["reason"] == "did not answer in 48 hours"
    # The old certificate stays published.
    old = await client.get(f"/v1/giveaways/certificates/{made['certificate_hash']}")
    assert old.status_code == 200
    none_left = await client.post(
        f"/v1/giveaways/draws/{made['id']}/rerolls",
        json={"rank": 1, "reason": "again"},
        headers=host.headers,
    )
    assert_problem(none_left, 409, "no_alternate_left")
    unknown = await client.post(
        f"/v1/giveaways/draws/{made['id']}/rerolls",
        json={"rank": 2, "reason": "x"},
        headers=host.headers,
    )
    assert_problem(unknown, 422, "unknown_winner_rank")


async def test_concurrent_creates_never_overspend_credits(
    client: httpx.AsyncClient, database: Database
) -> None:
    host = await account(client)
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/giveaways/draws",
                json={"title": f"race {n}", "platform": "instagram", "config": CONFIG},
                headers=host.headers,
            )
            for n in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [409] * 7, [r.text for r in responses]
    figures = await credits_of(client, host)
    assert (figures["balance"], figures["reserved"], figures["available"]) == (3, 3, 0)


async def test_history_is_append_only(client: httpx.AsyncClient, database: Database) -> None:
    host = await account(client)
    await create_draw(client, host)
    with pytest.raises(Exception, match="append-only"):
        async with database.session_scope() as session:
            await session.execute(text("UPDATE giveaways.draw_history SET action = 'completed'"))
    with pytest.raises(Exception, match="append-only"):
        async with database.session_scope() as session:
            await session.execute(text("DELETE FROM giveaways.draw_history"))
    # A cascade from the draw's deletion is allowed (an account erased).
    async with database.session_scope() as session:
        await session.execute(text("DELETE FROM giveaways.draws"))
    assert await scalar(database, "SELECT count(*) FROM giveaways.draw_history") == 0


async def test_admin_grant(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    from helpers import grant_roles

    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    user = await account(client)
    granted = await client.post(
        "/v1/admin/giveaways/credit-grants",
        json={"user_id": user.id, "amount": 7, "reason": "contest prize"},
        headers={**admin.headers, **idem()},
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["balance"] == 7
    refused = await client.post(
        "/v1/admin/giveaways/credit-grants",
        json={"user_id": user.id, "amount": 7, "reason": "x"},
        headers={**user.headers, **idem()},
    )
    assert refused.status_code == 403


async def test_more_refusals(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from creatorhub.giveaways.service import drawing

    host = await account(client)
    draw = await create_draw(client, host)
    missing = await client.get("/v1/giveaways/certificates/" + "ab" * 32)
    assert_problem(missing, 404, "certificate_not_found")
    open_entries = await client.get(
        f"/v1/giveaways/draws/{draw['id']}/inclusion", params={"username": "fan001"}
    )
    assert_problem(open_entries, 409, "draw_not_committed")
    early = await client.post(
        f"/v1/giveaways/draws/{draw['id']}/rerolls",
        json={"rank": 1, "reason": "too early"},
        headers=host.headers,
    )
    assert_problem(early, 409, "draw_not_completed")
    bad_name = await client.post(
        "/v1/giveaways/blacklist",
        json={"platform": "instagram", "username": "a@b"},
        headers=host.headers,
    )
    assert_problem(bad_name, 422, "invalid_username", field="body.username")
    gone = await client.delete(
        "/v1/giveaways/blacklist/00000000-0000-4000-8000-000000000000", headers=host.headers
    )
    assert_problem(gone, 404, "blacklist_entry_not_found")
    monkeypatch.setattr(drawing, "MAX_ENTRIES", 5)
    too_many = await import_csv(client, host, draw["id"], csv_of(comments(6)))
    assert_problem(too_many, 422, "too_many_entries")
    monkeypatch.setattr(drawing, "MAX_ENTRIES", 100)
    # A username the proof cannot carry ('@' inside) is refused before anything is kept; a
    # display name's spaces become '_'.
    odd = await import_csv(
        client, host, draw["id"], b"author,text,created_at\nx@y,hi,2026-11-01T10:00:00Z\n"
    )
    assert_problem(odd, 422, "invalid_entry")
    spaced = await import_csv(
        client, host, draw["id"], b"author,text,created_at\nAnn Lee,hi,2026-11-01T10:00:00Z\n"
    )
    assert spaced.status_code == 200, spaced.text
    check = await client.get(f"/v1/giveaways/draws/{draw['id']}", headers=host.headers)
    assert check.json()["entries_count"] == 1


async def test_system_metrics_of_a_day(client: httpx.AsyncClient, database: Database) -> None:
    from datetime import UTC, datetime

    from helpers import grant_roles

    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    host = await account(client)
    await fund_wallet(client, host.headers, 50_00)
    bought = await client.post(
        "/v1/giveaways/credits/purchases", json={"pack": "five"}, headers={**host.headers, **idem()}
    )
    assert bought.status_code == 201
    await made_draw(client, host, comments(10))
    await made_draw(client, host, comments(20))
    failing = await create_draw(client, host)
    await import_csv(client, host, failing["id"], csv_of(comments(1)))
    await client.post(f"/v1/giveaways/draws/{failing['id']}/commit", headers=host.headers)
    today = datetime.now(UTC).date().isoformat()
    first = await client.post(f"/v1/admin/giveaways/system-metrics/{today}", headers=admin.headers)
    assert first.status_code == 200, first.text
    figures = {(m["metric_type"], m["currency"]): m["value"] for m in first.json()["items"]}
    users_today = await scalar(
        database,
        "SELECT count(*) FROM identity.users"
        " WHERE created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    )
    assert figures == {
        ("daily_draws", ""): 2,
        ("avg_participants_per_draw", ""): 15,
        ("error_rate", ""): 3_333,  # 1 failed of 3 finished, in basis points (rounded down)
        ("user_signups", ""): users_today,
        ("revenue", "USD"): 1_299,
    }
    again = await client.post(f"/v1/admin/giveaways/system-metrics/{today}", headers=admin.headers)
    assert [(m["metric_type"], m["value"]) for m in again.json()["items"]] == [
        (m["metric_type"], m["value"]) for m in first.json()["items"]
    ]
    listed = await client.get(
        "/v1/admin/giveaways/system-metrics",
        params={"from": today, "to": today},
        headers=admin.headers,
    )
    assert len(listed.json()["items"]) == 5
    backwards = await client.get(
        "/v1/admin/giveaways/system-metrics",
        params={"from": today, "to": "2020-01-01"},
        headers=admin.headers,
    )
    assert_problem(backwards, 422, "invalid_metrics_period", field="query.to")
    refused = await client.get(
        "/v1/admin/giveaways/system-metrics",
        params={"from": today, "to": today},
        headers=host.headers,
    )
    assert refused.status_code == 403
