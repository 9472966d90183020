"""The giveaway pages in a real headless Chromium (seed 003), end to end on a live server:

1. a host, at phone width, opens Giveaways from the navigation, buys a credit pack from the
   wallet, creates a draw on the form, imports a CSV of comments, closes the entries and draws,
   replaces a winner, and keeps a blacklist;
2. the draw's public page verifies the certificate in the browser (`static/giveaways/verify.js`:
   WebCrypto, no call to the server): every step passes for the real certificate, with the
   ENTRIES file added too; a pasted certificate with an edited winner shows its failing step;
3. an entrant's self-check page verifies their Merkle proof against the committed root;
4. JavaScript against Python: certificates of random draws (made through the API and by the
   proof module offline: other configs, beacons, rerolls, Unicode, tampered copies) give the
   same outcome for every step in the page as `verify_certificate`.

Every page is checked as test_roles_browser.py checks them (its `Person`): screenshots at
desktop and phone width (`tests/output/screenshots/roles/giveaway_*`), no sideways scrolling,
no Content Security Policy violation or script error, axe-core's accessibility checks (when
installed) and the shell's own. Skipped without /usr/bin/chromium, a failure in CI.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from creatorhub.giveaways.proof import (
    EntryTable,
    NoAlternatesLeft,
    NotEnoughEligible,
    build_certificate,
    canonical_json,
    certificate_bytes,
    make_commitment,
    normalize_entry,
    parse_blacklist,
    parse_config,
    reroll,
    run_draw,
    sign_certificate,
    sort_entries,
    verify_certificate,
)
from creatorhub.giveaways.proof.beacon import QUICKNET, BeaconReveal, commitment_beacon
from creatorhub.giveaways.proof.certificate import public_key_hex
from draw_helpers import CONFIG, comments, csv_of, import_csv
from helpers import Account, account
from money_fixtures import ledger_verified
from payment_helpers import fund_wallet
from web import test_browser as shared
from web.test_browser import DESKTOP, PHONE, LiveServer
from web.test_roles_browser import Person, live_server

browser, chromium_path = shared.browser, shared.chromium_path
__all__ = ["browser", "chromium_path", "ledger_verified", "live_server"]

# verifyCertificate in the page, on bytes given as lists of numbers: each step's outcome.
VERIFY_IN_PAGE = """async ([certificate, entries, keys]) => {
  const steps = await window.creatorhubVerify.verifyCertificate(
    new Uint8Array(certificate), entries === null ? null : new Uint8Array(entries), keys);
  return steps.map((step) => [step.name, step.status]);
}"""


async def at_phone_width(person: Person) -> None:
    await person.page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})


async def look(person: Person, name: str) -> None:
    """The shared checks (at desktop width, then at phone width), then back to the phone."""
    await person.page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
    await person.check(name)
    await at_phone_width(person)


async def steps_shown(page: Any) -> dict[str, str]:
    shown: dict[str, str] = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#verify-steps li')]"
        ".map((li) => [li.dataset.step, li.dataset.status]))"
    )
    return shown


async def host_runs_a_draw(chromium: Any, server: LiveServer, who: Account) -> tuple[Person, str]:
    """The host's part, clicked at phone width; answers the host and the draw's id."""
    from playwright.async_api import expect

    host = await Person.signed_in(chromium, server, "giveaway_host", who)
    page = host.page
    await at_phone_width(host)
    await host.goto("/account")
    await host.click_link("Giveaways")
    await expect(page.get_by_role("heading", name="Giveaways", exact=True)).to_be_visible()
    await expect(page.locator("#credits-balance")).to_have_text("0")
    await look(host, "home_empty")

    await host.click_button("Buy 5 credits for USD 12.99")
    await expect(page.get_by_role("status").first).to_contain_text("The credits are yours")
    await expect(page.locator("#credits-balance")).to_have_text("5")

    await page.get_by_label("Title", exact=True).fill("Winter giveaway")
    await page.get_by_label("Address of the post").fill("https://instagram.example/p/winter")
    await page.get_by_label("Winners", exact=True).fill("2")
    await page.get_by_label("Alternates", exact=True).fill("2")
    await page.get_by_label("Like the post (self-declared: you check it)").check()
    await look(host, "new_draw")
    await host.click_button(re.compile("^Create the draw"))
    await expect(page.get_by_role("status").first).to_contain_text("The draw is created")
    assert re.fullmatch(r"/giveaways/draws/[0-9a-f-]{36}/manage", host.path), host.path
    draw_id = host.path.split("/")[3]
    await look(host, "manage_pending")

    await page.get_by_label("File of the post's comments").set_input_files(
        files=[{"name": "comments.csv", "mimeType": "text/csv", "buffer": b"author,text\nx,y\n"}]
    )
    await host.click_button("Import the comments")
    await expect(page.locator("#import-problems")).to_contain_text("Line")
    await look(host, "import_refused")
    await page.get_by_label("File of the post's comments").set_input_files(
        files=[{"name": "comments.csv", "mimeType": "text/csv", "buffer": csv_of(comments(30))}]
    )
    await host.click_button("Import the comments")
    await expect(page.locator("#import-added")).to_have_text("30")
    await look(host, "imported")

    await host.click_button("Close entries and draw")
    await expect(page.locator("#draw-status")).to_have_text("Drawn")
    await expect(page.locator("#winner-2")).to_be_visible()
    await look(host, "drawn")
    await page.get_by_label("Winner to replace").select_option("1")
    await page.get_by_label("Reason (published)").fill("did not answer within a week")
    await host.click_button("Replace the winner")
    await expect(page.get_by_role("status").first).to_contain_text("replaced by the next")
    await expect(page.locator("#rerolls")).to_contain_text("did not answer within a week")
    await look(host, "rerolled")

    await host.goto("/giveaways/blacklist")
    await page.get_by_label("Username", exact=True).fill("@Spammer")
    await page.get_by_label("Reason (for you)").fill("a bot")
    await host.click_button("Add to the blacklist")
    await expect(page.locator("#blacklist")).to_contain_text("@spammer")
    await look(host, "blacklist")
    await host.click_button("Deactivate @spammer")
    await expect(page.locator("#blacklist")).to_contain_text("inactive")

    await host.goto(f"/giveaways/hosts/{who.id}")
    await expect(page.locator("#host-draws")).to_have_text("1")
    await look(host, "history")
    return host, draw_id


async def test_a_giveaway_from_the_form_to_its_verification_in_chromium(
    browser: Any, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    from playwright.async_api import expect

    who = await account(client)
    await fund_wallet(client, who.headers, 20_00)
    host, draw_id = await host_runs_a_draw(browser, live_server, who)
    page = host.page

    # The public page (linked from the host's history) checks the certificate as it opens.
    await host.click_link("Winter giveaway")
    assert host.path == f"/giveaways/draws/{draw_id}", host.path
    await expect(page.locator("#verify-result")).to_have_attribute("data-result", "pass")
    shown = await steps_shown(page)
    assert shown == {
        "parse": "pass",
        "signature": "pass",
        "commitment_hash": "pass",
        "seed": "pass",
        "beacon": "skipped",  # no beacon configured: the seed alone keys the draw
        "config_hash": "pass",
        "entries": "skipped",
        "exclusions": "skipped",
        "selection": "pass",
        "rerolls": "pass",
    }, shown
    await expect(page.locator("#verify-result")).to_contain_text("verifies")
    await look(host, "public_verified")

    # With the ENTRIES file the host hands out: entries and exclusions pass too.
    entries = await client.get(f"/v1/giveaways/draws/{draw_id}/entries.jsonl", headers=who.headers)
    await page.get_by_label("Entries file (optional)").set_input_files(
        files=[
            {"name": "entries.jsonl", "mimeType": "application/jsonl", "buffer": entries.content}
        ]
    )
    await expect(page.locator('#verify-steps li[data-step="exclusions"]')).to_have_attribute(
        "data-status", "pass"
    )
    shown = await steps_shown(page)
    assert shown["entries"] == "pass" and "fail" not in shown.values(), shown
    await page.get_by_label("Entries file (optional)").set_input_files(files=[])

    # A certificate with an edited winner, pasted: its signature fails, and the page says so.
    made = (await client.get(f"/v1/giveaways/draws/{draw_id}")).json()
    certificate = (
        await client.get(f"/v1/giveaways/certificates/{made['certificate_hash']}")
    ).content
    document = json.loads(certificate)
    document["winners"][1]["username"] = "a_friend_of_the_host"
    await page.get_by_label("Certificate (its JSON, exactly as published)").fill(
        canonical_json(document).decode()
    )
    await page.get_by_role("button", name="Verify the pasted certificate").click()
    await expect(page.locator("#verify-result")).to_have_attribute("data-result", "fail")
    await expect(page.locator("#verify-result")).to_contain_text("failed at signature")
    await expect(page.locator('#verify-steps li[data-step="signature"]')).to_have_attribute(
        "data-status", "fail"
    )
    await look(host, "public_tampered")
    # An edited pick index: the replay of the draw fails too.
    document = json.loads(certificate)
    document["winners"][0]["index"] = (document["winners"][0]["index"] + 1) % 30
    await page.get_by_label("Certificate (its JSON, exactly as published)").fill(
        canonical_json(document).decode()
    )
    await page.get_by_role("button", name="Verify the pasted certificate").click()
    await expect(page.locator('#verify-steps li[data-step="selection"]')).to_have_attribute(
        "data-status", "fail"
    )

    # An entrant checks their own entry.
    winner = made["winners"][1]["username"]
    await host.goto(f"/giveaways/draws/{draw_id}")
    await host.click_link("Did you enter? Check your own entry")
    await page.get_by_label("Your username").fill("@" + winner)
    await host.click_button("Check")
    await expect(page.locator("#inclusion-result")).to_have_attribute("data-result", "pass")
    await expect(page.locator(".proof-result").first).to_contain_text("verified by your browser")
    await look(host, "self_check")
    await host.close()


# --- JavaScript against Python -----------------------------------------------------------------


def offline_certificate(number: int) -> tuple[bytes, bytes, str] | None:
    """A certificate made by the proof module alone (no database): random entries (Unicode,
    replies, unknown counts, users with several comments), config, blacklist, beacon and
    rerolls; None when too few entries are eligible. (certificate, ENTRIES, public key)."""
    rng = random.Random(number)
    texts = ["I want it! @a @b", "🎉🎉", "</script> <!-- x", "ΣΑΣ", "\u2028sep", 'q "x" \\', "ok"]
    raw = []
    for i in range(rng.randrange(8, 80)):
        user = rng.randrange(30)
        raw.append(
            normalize_entry(
                {
                    "platform": rng.choice(["instagram", "file"]),
                    "comment_id": rng.choice([f"c{i}", f"𝒳{i}", f"\ue000{i}"]),
                    "platform_user_id": f"id{user}",
                    "username": rng.choice([f"fan{user}", f"user{user:07d}", f"ü{user}"]),
                    "text": rng.choice(texts) + rng.choice(["", " @friend1 @friend2"]),
                    "created_at": datetime(2026, 11, 1, tzinfo=UTC)
                    + timedelta(minutes=rng.randrange(5000)),
                    "likes": rng.randrange(10),
                    "followers": rng.choice([None, 0, 500]),
                    "is_business": rng.choice([None, True, False]),
                    "is_verified": rng.choice([None, True, False]),
                    "parent_id": rng.choice([None, None, "c0"]),
                }
            )
        )
    table = EntryTable.from_entries(sort_entries(raw))
    config = parse_config(
        {
            "winners_count": rng.randrange(1, 4),
            "alternates_count": rng.randrange(0, 4),
            "entries_per_user": rng.choice(["one", "per_comment"]),
            "filters": {
                "min_followers": rng.choice([None, 10]),
                "exclude_suspicious": rng.random() < 0.5,
                "exclude_businesses": rng.random() < 0.5,
            },
            "rules": {
                "require_like": rng.random() < 0.5,
                "require_follow": rng.random() < 0.5,
                "comment_keywords": rng.choice([[], ["want", "Ok"]]),
                "min_mentions": rng.choice([0, 1]),
                "window_start": rng.choice([None, "2026-11-01T12:00:00Z"]),
                "exclude_replies": rng.random() < 0.7,
            },
        }
    )
    blacklist = parse_blacklist(rng.choice([[], [{"platform": "all", "username": "fan1"}]]))
    seed = rng.randbytes(32)
    committed_at = datetime(2026, 11, 5, tzinfo=UTC)
    beacon = reveal = None
    if rng.random() < 0.5:
        round_number = (int(committed_at.timestamp()) - QUICKNET.genesis_time) // 3 + 5
        beacon = commitment_beacon(QUICKNET, round_number)
        signature = rng.randbytes(48).hex()
        randomness = hashlib.sha256(bytes.fromhex(signature)).hexdigest()
        reveal = BeaconReveal(round_number, randomness, signature)
    commitment = make_commitment(
        draw_id=f"offline-{number}",
        platform="instagram",
        post_ref="p",
        host_username="host",
        entries=table,
        config=config,
        blacklist=blacklist,
        seed=seed,
        beacon=beacon,
        committed_at=committed_at,
    )
    try:
        beacon_randomness = None if reveal is None else reveal.randomness_bytes
        result = run_draw(table, config, blacklist, seed, commitment, beacon_randomness)
    except NotEnoughEligible:
        return None
    for _ in range(rng.randrange(3)):
        try:
            result = reroll(result, 1, "gone", committed_at + timedelta(days=1))
        except NoAlternatesLeft:
            break
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    body = build_certificate(
        commitment=commitment,
        seed=seed,
        beacon=reveal,
        config=config,
        blacklist=blacklist,
        result=result,
        issued_at=committed_at + timedelta(days=1),
    )
    signed = sign_certificate(body, key, "offline")
    return certificate_bytes(signed), table.file_bytes, public_key_hex(key)


def tampered(certificate: bytes, how: int) -> bytes:
    document = json.loads(certificate)
    if how == 0:
        document["winners"][0]["username"] += "x"
    elif how == 1:
        document["winners"][0]["index"] += 1
    elif how == 2 and document["excluded"]:
        document["excluded"].pop()
    elif how == 3:
        document["config"]["rules"]["min_mentions"] += 1
    else:
        return certificate.replace(b'"version":1', b'"version":1.0', 1)
    return canonical_json(document)


async def api_draws(client: httpx.AsyncClient, host: Account) -> list[tuple[bytes, bytes]]:
    """Draws made through the API: other configs, users with several comments, a reroll."""
    made = []
    configs = [
        {**CONFIG, "winners_count": 1, "alternates_count": 2},
        {**CONFIG, "entries_per_user": "per_comment", "alternates_count": 4},
        {
            **CONFIG,
            "filters": {"min_followers": None, "exclude_suspicious": False},
            "rules": {"comment_keywords": ["want"], "min_mentions": 1, "exclude_replies": False},
        },
    ]
    for number, config in enumerate(configs):
        rows = [
            (
                f"fan{i % 9:03d}",
                f"I want it! @friend{i % 4}",
                f"2026-11-0{1 + i % 5}T10:{i:02d}:00Z",
            )
            for i in range(24 + number)
        ]
        draw = await client.post(
            "/v1/giveaways/draws",
            json={"title": f"Cross-check {number}", "platform": "instagram", "config": config},
            headers=host.headers,
        )
        assert draw.status_code == 201, draw.text
        draw_id = draw.json()["id"]
        imported = await import_csv(client, host, draw_id, csv_of(rows))
        assert imported.status_code == 200, imported.text
        done = await client.post(f"/v1/giveaways/draws/{draw_id}/commit", headers=host.headers)
        assert done.status_code == 200 and done.json()["status"] == "completed", done.text
        rerolled = await client.post(
            f"/v1/giveaways/draws/{draw_id}/rerolls",
            json={"rank": 1, "reason": "unreachable"},
            headers=host.headers,
        )
        assert rerolled.status_code == 200, rerolled.text
        cert_hash = rerolled.json()["certificate_hash"]
        cert = (await client.get(f"/v1/giveaways/certificates/{cert_hash}")).content
        entries = await client.get(
            f"/v1/giveaways/draws/{draw_id}/entries.jsonl", headers=host.headers
        )
        made.append((cert, entries.content))
    return made


async def test_the_page_verifier_agrees_with_python(
    browser: Any, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    host = await account(client)
    await fund_wallet(client, host.headers, 20_00)
    buy = await client.post(
        "/v1/giveaways/credits/purchases",
        json={"pack": "five"},
        headers={**host.headers, "Idempotency-Key": "cross-check"},
    )
    assert buy.status_code == 201, buy.text
    cases = []
    drawn = await api_draws(client, host)
    keys = (await client.get("/v1/giveaways/signing-keys")).json()["items"]
    for cert, entries in drawn:
        cases.append((cert, entries, [key["public_key"] for key in keys]))
    for number in range(12):
        made = offline_certificate(number)
        if made is not None:
            cases.append((made[0], made[1], [made[2]]))
    assert len(cases) >= 10

    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = await page.goto(f"{live_server.url}/giveaways/hosts/{host.id}")
    assert response is not None and response.status == 200
    # verify.js on a page of the app (under its CSP), loaded to call it directly.
    await page.add_script_tag(url="/static/giveaways/verify.js")
    compared = 0
    for index, (cert, entries, keys) in enumerate(cases):
        variants = [cert, *(tampered(cert, how) for how in range(5))]
        for variant in variants:
            for with_entries in (True, False):
                given = entries if with_entries else None
                python = verify_certificate(variant, given, set(keys))
                expected = [[step.name, step.status] for step in python.steps]
                found = await page.evaluate(
                    VERIFY_IN_PAGE, [list(variant), None if given is None else list(given), keys]
                )
                assert found == expected, (index, with_entries, variant[:200], python.steps)
                compared += 1
        # The real certificate verifies in both; each tampered copy fails in both.
        assert verify_certificate(cert, entries, set(keys)).ok
    assert compared >= 100 and errors == []
    await context.close()
