"""The giveaway pages over HTTP (seed 003): a host buys credits, keeps a blacklist, creates a
draw on the form, imports a CSV of comments (a bad file first: refused whole, each problem with
its line), commits it (drawn at once: no beacon), replaces a winner and cancels another draw,
every form with its CSRF token; the public pages (the draw with its certificate embedded as
signed, the host's history, an entrant's self-check) answer without a sign-in; someone else's
manage page is a 404 page. The ledger's invariants are checked after each test."""

from __future__ import annotations

import json
import re
import uuid

import httpx
from fastapi import FastAPI

from creatorhub.giveaways.proof.merkle import verify_proof
from creatorhub.giveaways.proof.verify import verify_certificate
from creatorhub.web.giveaway_view import embedded_json
from draw_helpers import comments, csv_of
from helpers import account
from money_fixtures import ledger_verified
from payment_helpers import fund_wallet
from web_helpers import csrf_of, signed_in_browser

__all__ = ["ledger_verified"]

DRAW_FORM = {
    "title": "Winter giveaway",
    "platform": "instagram",
    "post_url": "https://instagram.example/p/winter",
    "winners_count": "2",
    "alternates_count": "3",
    "entries_per_user": "one",
    "min_followers": "",
    "exclude_suspicious": "yes",
    "require_comment": "yes",
    "require_like": "yes",
    "comment_keywords": "",
    "min_mentions": "0",
    "window_start": "",
    "window_end": "",
    "exclude_replies": "yes",
}


def draw_ids(html: str) -> list[str]:
    return re.findall(r'id="draw-([0-9a-f-]{36})"', html)


def embedded(html: str, element: str) -> str:
    match = re.search(rf'<script type="application/json" id="{element}">(.*?)</script>', html, re.S)
    assert match, f"no {element} in the page"
    return match.group(1)


def unescaped(text: str) -> str:
    """verify.js's `embeddedText`: each `\\u003c` escape inside a string back to `<`."""
    out, in_string, i = [], False, 0
    while i < len(text):
        ch = text[i]
        if in_string and ch == "\\":
            if text.startswith("u003c", i + 1):
                out.append("<")
                i += 6
            else:
                out.append(text[i : i + 2])
                i += 2
            continue
        if ch == '"':
            in_string = not in_string
        out.append(ch)
        i += 1
    return "".join(out)


def test_the_embedding_gives_the_exact_bytes_back() -> None:
    text = json.dumps(
        {"a": "</script><!-- \\u003c <", "b": ['\\"<', "\\\\u003c"]},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    shown = str(embedded_json(text))
    assert "<" not in shown and json.loads(shown) == json.loads(text)
    assert unescaped(shown) == text


async def create_on_the_form(browser: httpx.AsyncClient, token: str, **fields: str) -> str:
    """A draw created on the form; its id (from the redirect to its manage page)."""
    created = await browser.post(
        "/giveaways/draws", data={"csrf_token": token, **DRAW_FORM, **fields}
    )
    assert created.status_code == 303, created.text[:2000]
    location = created.headers["location"]
    assert re.fullmatch(r"/giveaways/draws/[0-9a-f-]{36}/manage", location), location
    return location.split("/")[3]


async def test_a_host_runs_a_draw_on_the_pages(app: FastAPI, client: httpx.AsyncClient) -> None:
    host = await account(client)
    await fund_wallet(client, host.headers, 20_00)
    async with signed_in_browser(app, host.email) as browser:
        page = await browser.get("/giveaways")
        assert page.status_code == 200, page.text
        assert 'href="/giveaways" aria-current="page"' in page.text  # in the navigation
        assert 'id="no-draws"' in page.text and 'id="credits-balance">0<' in page.text
        token = csrf_of(page.text)
        key = re.search(r'name="request_key" value="([^"]+)"', page.text)
        assert key
        refused = await browser.post("/giveaways/credits/purchases", data={"pack": "single"})
        assert refused.status_code == 403  # no CSRF token: nothing is bought
        form = {"csrf_token": token, "pack": "five", "request_key": key.group(1)}
        for _ in range(2):  # a second click of the same form buys once
            bought = await browser.post("/giveaways/credits/purchases", data=form)
            assert bought.status_code == 303, bought.text[:2000]
        page = await browser.get("/giveaways")
        assert 'id="credits-balance">5<' in page.text and "The credits are yours" in page.text
        wallet = (await client.get("/v1/wallet", headers=host.headers)).json()
        assert wallet["available"] == 20_00 - 12_99

        # A config the rules refuse comes back with its message and what was typed.
        bad = await browser.post(
            "/giveaways/draws",
            data={
                "csrf_token": token,
                **DRAW_FORM,
                "window_start": "2026-11-05T00:00",
                "window_end": "2026-11-01T00:00",
            },
        )
        assert bad.status_code == 422, bad.text[:2000]
        assert 'id="draw-error"' in bad.text and "must be after window_start" in bad.text
        assert 'value="Winter giveaway"' in bad.text

        draw_id = await create_on_the_form(browser, token)
        manage = await browser.get(f"/giveaways/draws/{draw_id}/manage")
        assert manage.status_code == 200 and "The draw is created" in manage.text
        assert "Import the comments" in manage.text

        # A bad file: refused whole, each problem with its line; nothing imported.
        broken = csv_of(comments(5)).replace(b"2026-11-03T10:00:00Z", b"someday")
        broken += b"c9999,,id-x,no author,2026-11-01T10:00:00Z,1,\n"
        refused_file = await browser.post(
            f"/giveaways/draws/{draw_id}/entries",
            data={"csrf_token": token},
            files={"file": ("comments.csv", broken, "text/csv")},
        )
        assert refused_file.status_code == 422, refused_file.text[:2000]
        assert 'id="import-problems"' in refused_file.text
        lines = re.findall(r'data-line="(\d+)"', refused_file.text)
        assert lines == ["4", "7"], lines
        assert "Line 4" in refused_file.text
        assert (await client.get(f"/v1/giveaways/draws/{draw_id}")).json()["entries_count"] == 0

        imported = await browser.post(
            f"/giveaways/draws/{draw_id}/entries",
            data={"csrf_token": token},
            files={"file": ("comments.csv", csv_of(comments(30)), "text/csv")},
        )
        assert imported.status_code == 200, imported.text[:2000]
        assert 'id="import-added">30<' in imported.text
        again = await browser.post(
            f"/giveaways/draws/{draw_id}/entries",
            data={"csrf_token": token},
            files={"file": ("comments.csv", csv_of(comments(32)), "text/csv")},
        )
        assert 'id="import-added">2<' in again.text and 'id="import-duplicates">30<' in again.text

        committed = await browser.post(
            f"/giveaways/draws/{draw_id}/commit", data={"csrf_token": token}
        )
        assert committed.status_code == 303, committed.text[:2000]
        manage = await browser.get(f"/giveaways/draws/{draw_id}/manage")
        assert "the draw is made" in manage.text and 'id="winner-2"' in manage.text
        made = (await client.get(f"/v1/giveaways/draws/{draw_id}")).json()
        assert made["status"] == "completed" and made["entries_count"] == 32
        entries = await browser.get(f"/giveaways/draws/{draw_id}/entries.jsonl")
        assert entries.status_code == 200
        assert entries.headers["content-type"].startswith("application/jsonl")
        assert entries.content.count(b"\n") == 32

        first = made["winners"][0]["username"]
        rerolled = await browser.post(
            f"/giveaways/draws/{draw_id}/rerolls",
            data={"csrf_token": token, "rank": "1", "reason": "did not answer"},
        )
        assert rerolled.status_code == 303, rerolled.text[:2000]
        after = (await client.get(f"/v1/giveaways/draws/{draw_id}")).json()
        assert after["winners"][0]["username"] != first
        assert after["certificate_hash"] != made["certificate_hash"]
        no_reason = await browser.post(
            f"/giveaways/draws/{draw_id}/rerolls",
            data={"csrf_token": token, "rank": "1", "reason": " "},
        )
        assert no_reason.status_code == 422 and 'id="reroll-error"' in no_reason.text
        # A completed draw cannot be cancelled: the page says so, with the 409.
        late = await browser.post(f"/giveaways/draws/{draw_id}/cancel", data={"csrf_token": token})
        assert late.status_code == 409 and 'id="cancel-error"' in late.text
        assert "cannot be cancelled" in late.text

        other = await create_on_the_form(browser, token, title="A rehearsal", is_test="yes")
        cancelled = await browser.post(
            f"/giveaways/draws/{other}/cancel", data={"csrf_token": token, "reason": "wrong post"}
        )
        assert cancelled.status_code == 303
        again_cancelled = await browser.post(
            f"/giveaways/draws/{other}/cancel", data={"csrf_token": token}
        )
        assert again_cancelled.status_code == 409
        assert "already cancelled" in again_cancelled.text

        page = await browser.get("/giveaways")
        assert draw_ids(page.text) == [other, draw_id]  # newest first
        # The welcome bonus (3) and the pack (5); one used, the cancelled one's back.
        assert 'id="credits-balance">7<' in page.text
        assert 'id="credits-reserved">0<' in page.text

    # Public: the draw with its certificate as signed, which verifies.
    public = await client.get(f"/giveaways/draws/{draw_id}")
    assert public.status_code == 200, public.text
    assert "Sign in" in public.text  # no session: the public header
    certificate = (
        await client.get(f"/v1/giveaways/certificates/{after['certificate_hash']}")
    ).content
    shown = embedded(public.text, "certificate")
    assert "<" not in shown
    assert unescaped(shown).encode() == certificate
    keys = json.loads(embedded(public.text, "platform-keys"))
    assert verify_certificate(certificate, entries.content, {k["public_key"] for k in keys}).ok
    assert f"/v1/giveaways/certificates/{after['certificate_hash']}" in public.text
    assert "self-declared" in public.text  # require_like's attestation
    assert 'id="rerolls"' in public.text and "did not answer" in public.text
    assert "/static/giveaways/verify.js" in public.text
    script = await client.get("/static/giveaways/verify.js")
    assert script.status_code == 200 and "crypto.subtle" in script.text

    history = await client.get(f"/giveaways/hosts/{host.id}")
    assert history.status_code == 200
    assert draw_ids(history.text) == [other, draw_id]
    assert 'id="host-tests">1<' in history.text and "Cancelled" in history.text

    # Rank 2 was never replaced; rank 1's holder now is the first alternate.
    winner = after["winners"][1]["username"]
    check = await client.get(f"/giveaways/draws/{draw_id}/check", params={"username": winner})
    assert check.status_code == 200, check.text
    found = json.loads(unescaped(embedded(check.text, "inclusion")))
    (item,) = found["entries"]
    assert item["status"] == "winner:2" and "Winner (rank 2)" in check.text
    assert verify_proof(
        item["line"].encode(),
        item["index"],
        found["entries_count"],
        item["proof"],
        found["entries_root"],
    )
    nobody = await client.get(f"/giveaways/draws/{draw_id}/check", params={"username": "nobody"})
    assert nobody.status_code == 404 and 'id="check-message"' in nobody.text
    for weird_name in ("a b", "x@y"):
        weird = await client.get(
            f"/giveaways/draws/{draw_id}/check", params={"username": weird_name}
        )
        assert weird.status_code in (404, 422) and 'id="check-message"' in weird.text
    form_only = await client.get(f"/giveaways/draws/{draw_id}/check")
    assert form_only.status_code == 200 and 'id="check-username"' in form_only.text
    pending = await client.get(f"/giveaways/draws/{other}/check", params={"username": "fan001"})
    assert pending.status_code == 409  # cancelled before its commitment: nothing to check


async def test_the_blacklist_page(app: FastAPI, client: httpx.AsyncClient) -> None:
    host = await account(client)
    async with signed_in_browser(app, host.email) as browser:
        page = await browser.get("/giveaways/blacklist")
        assert page.status_code == 200 and 'id="blacklist-empty"' in page.text
        token = csrf_of(page.text)
        added = await browser.post(
            "/giveaways/blacklist",
            data={"csrf_token": token, "platform": "all", "username": "@Spammer", "reason": "bot"},
        )
        assert added.status_code == 303, added.text[:2000]
        twice = await browser.post(
            "/giveaways/blacklist",
            data={"csrf_token": token, "platform": "all", "username": "spammer"},
        )
        assert twice.status_code == 409 and 'id="add-error"' in twice.text
        assert "already on your blacklist" in twice.text
        invalid = await browser.post(
            "/giveaways/blacklist",
            data={"csrf_token": token, "platform": "instagram", "username": "no@way"},
        )
        assert invalid.status_code == 422 and 'value="no@way"' in invalid.text
        page = await browser.get("/giveaways/blacklist")
        (entry_id,) = re.findall(r'id="blacklist-([0-9a-f-]{36})" data-active="yes"', page.text)
        off = await browser.post(
            f"/giveaways/blacklist/{entry_id}/deactivate", data={"csrf_token": token}
        )
        assert off.status_code == 303
        page = await browser.get("/giveaways/blacklist")
        assert f'id="blacklist-{entry_id}" data-active="no"' in page.text
        listed = (await client.get("/v1/giveaways/blacklist", headers=host.headers)).json()
        assert [(i["username"], i["is_active"]) for i in listed["items"]] == [("spammer", False)]
        unknown = await browser.post(
            f"/giveaways/blacklist/{uuid.uuid4()}/deactivate", data={"csrf_token": token}
        )
        assert unknown.status_code == 404


async def test_refusals_and_other_hosts(app: FastAPI, client: httpx.AsyncClient) -> None:
    host = await account(client)
    stranger = await account(client)
    async with signed_in_browser(app, host.email) as browser:
        token = csrf_of((await browser.get("/giveaways")).text)
        # Nothing in the wallet: the pack is not bought, the page says why.
        poor = await browser.post(
            "/giveaways/credits/purchases",
            data={"csrf_token": token, "pack": "single", "request_key": str(uuid.uuid4())},
        )
        assert poor.status_code == 409 and 'id="credits-error"' in poor.text
        assert "add funds first" in poor.text
        draw_id = await create_on_the_form(browser, token)
        empty = await browser.post(f"/giveaways/draws/{draw_id}/commit", data={"csrf_token": token})
        assert empty.status_code == 409 and 'id="commit-error"' in empty.text
        no_file = await browser.post(
            f"/giveaways/draws/{draw_id}/entries",
            data={"csrf_token": token},
            files={"file": ("empty.csv", b"", "text/csv")},
        )
        assert no_file.status_code == 422 and 'id="import-problems"' in no_file.text
        # Over the general body limit (1 MB): this path takes files up to the upload limit.
        big = b'author,text,created_at\nfan,"' + b"x" * 1_500_000 + b'",2026-11-01T10:00:00Z\n'
        large = await browser.post(
            f"/giveaways/draws/{draw_id}/entries",
            data={"csrf_token": token},
            files={"file": ("big.csv", big, "text/csv")},
        )
        assert large.status_code == 422 and 'data-line="2"' in large.text, large.text[:2000]
        # Three drafts use the welcome credits: the fourth is refused on the form.
        for _ in range(2):
            await create_on_the_form(browser, token)
        short = await browser.post("/giveaways/draws", data={"csrf_token": token, **DRAW_FORM})
        assert short.status_code == 409 and "credit" in short.text
        assert 'id="draw-error"' in short.text

    async with signed_in_browser(app, stranger.email, address=("203.0.113.31", 40031)) as other:
        foreign = await other.get(f"/giveaways/draws/{draw_id}/manage")
        assert foreign.status_code == 404 and "Page not found" in foreign.text
        token = csrf_of((await other.get("/giveaways")).text)
        for path in ("commit", "cancel"):
            denied = await other.post(
                f"/giveaways/draws/{draw_id}/{path}", data={"csrf_token": token}
            )
            assert denied.status_code == 404
        upload = await other.post(
            f"/giveaways/draws/{draw_id}/entries",
            data={"csrf_token": token},
            files={"file": ("comments.csv", csv_of(comments(3)), "text/csv")},
        )
        assert upload.status_code == 404
        download = await other.get(f"/giveaways/draws/{draw_id}/entries.jsonl")
        assert download.status_code == 404

    signed_out = await client.get("/giveaways", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")
    public = await client.get(f"/giveaways/draws/{draw_id}")
    assert public.status_code == 200 and "not yet: the entries are still open" in public.text
    assert 'id="certificate"' not in public.text and 'id="pasted-certificate"' in public.text
    missing = await client.get(f"/giveaways/draws/{uuid.uuid4()}")
    assert missing.status_code == 404
