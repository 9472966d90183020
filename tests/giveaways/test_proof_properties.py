"""Properties of the draw engine over random entrants and configs (Hypothesis).

* a draw's certificate verifies, with and without the ENTRIES file;
* any single-byte change of the certificate or of the ENTRIES file makes it fail, and a
  change that breaks the JSON fails at `parse`;
* the fast line formatter writes exactly `canonical_json` of the entry, which parses back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creatorhub.giveaways.proof.canonical import (
    Entry,
    EntryError,
    canonical_json,
    entry_line,
    normalize_entry,
)
from creatorhub.giveaways.proof.certificate import certificate_bytes
from creatorhub.giveaways.proof.draw import NotEnoughEligible
from creatorhub.giveaways.proof.table import EntryTable, parse_entries
from creatorhub.giveaways.proof.verify import verify_certificate

from .test_proof import certify

PROPERTY_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
USERS = ["ann", "bob", "cy", "dee", "eve", "fay", "guy", "hal", "win_1234567", "zoë"]
TEXTS = [
    "I want to win @bob",
    "count me in @cy @dee 🎉",
    'she said "win" \\ back\tslash',
    "@eve",
    "🎉🎉",
    "line\nbreak win @ann",
    "ctrl \x01 char WIN",
    "",
]
START = datetime(2026, 3, 1, tzinfo=UTC)


@st.composite
def entrants(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=3, max_value=25))
    raws = []
    for number in range(count):
        user = draw(st.sampled_from(USERS))
        # Now and then the same person under another id (a second account).
        user_id = f"id-{user}" if draw(st.booleans()) or number == 0 else f"id-{user}-{number}"
        raws.append(
            {
                "platform": draw(st.sampled_from(["instagram", "tiktok"])),
                "comment_id": f"{draw(st.integers(0, 10**6)):07d}-{number}",
                "platform_user_id": user_id,
                "username": user,
                "text": draw(st.sampled_from(TEXTS)),
                "created_at": START + timedelta(minutes=draw(st.integers(0, 4 * 24 * 60))),
                "likes": draw(st.integers(0, 50)),
                "followers": draw(st.none() | st.integers(0, 300)),
                "is_business": draw(st.none() | st.booleans()),
                "is_verified": draw(st.none() | st.booleans()),
                "parent_id": None if number == 0 or draw(st.booleans()) else f"{number - 1}",
            }
        )
    return raws


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    def sometimes(strategy: st.SearchStrategy[Any], otherwise: Any) -> Any:
        # Each filter in one draw of four: with all of them often on, few draws would have
        # enough eligible entrants to draw anything.
        return draw(strategy) if draw(st.integers(0, 3)) == 0 else otherwise

    window = sometimes(st.booleans(), False)
    return {
        "winners_count": draw(st.integers(1, 3)),
        "alternates_count": draw(st.integers(0, 4)),
        "entries_per_user": draw(st.sampled_from(["one", "per_comment"])),
        "filters": {
            "min_followers": sometimes(st.integers(0, 100), None),
            "exclude_suspicious": sometimes(st.booleans(), False),
            "exclude_businesses": sometimes(st.booleans(), False),
        },
        "rules": {
            "require_like": draw(st.booleans()),
            "comment_keywords": sometimes(st.lists(st.sampled_from(["win", "🎉", "count"])), []),
            "min_mentions": sometimes(st.integers(0, 2), 0),
            "window_start": "2026-03-01T12:00:00Z" if window else None,
            "window_end": "2026-03-04T12:00:00Z" if window else None,
            "exclude_replies": sometimes(st.booleans(), False),
        },
    }


def flip(data: bytes, position: int, value: int) -> bytes:
    return data[:position] + bytes([value]) + data[position + 1 :]


def drawn(
    raws: list[dict[str, Any]], config: dict[str, Any], banned: list[str], beacon: bool
) -> tuple[EntryTable, bytes] | None:
    table = EntryTable.from_entries(normalize_entry(r) for r in raws)
    blacklist = [{"platform": "all", "username": name} for name in banned]
    try:
        cert, _ = certify(table, config, blacklist, beacon=beacon)
    except NotEnoughEligible as error:
        short = error.eligible_users < config["winners_count"]
        assert short, error  # noqa: PT017 - an outcome of the draw, not the test's subject
        return None
    return table, certificate_bytes(cert)


@PROPERTY_SETTINGS
@given(
    raws=entrants(),
    config=configs(),
    banned=st.lists(st.sampled_from(USERS), max_size=2),
    beacon=st.booleans(),
    data=st.data(),
)
def test_certificates_verify_and_any_byte_change_fails(
    raws: list[dict[str, Any]],
    config: dict[str, Any],
    banned: list[str],
    beacon: bool,
    data: st.DataObject,
) -> None:
    outcome = drawn(raws, config, banned, beacon)
    if outcome is None:
        return
    table, cert = outcome
    entries = table.file_bytes
    report = verify_certificate(cert, entries)
    assert report.ok, [s for s in report.steps if s.status == "fail"]
    assert verify_certificate(cert).ok

    position = data.draw(st.integers(0, len(cert) - 1), label="certificate byte")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != cert[position]), label="value")
    changed = flip(cert, position, value)
    for with_entries in (entries, None):
        failed = verify_certificate(changed, with_entries).failed()
        assert failed, f"byte {position} -> {value:#x} went unnoticed"
        try:
            json.loads(changed)
        except ValueError:
            assert failed == ["parse"]

    position = data.draw(st.integers(0, len(entries) - 1), label="entries byte")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != entries[position]), label="v")
    failed = verify_certificate(cert, flip(entries, position, value)).failed()
    assert "entries" in failed


@PROPERTY_SETTINGS
@given(
    username=st.text(min_size=1, max_size=12),
    text=st.text(max_size=40),
    followers=st.none() | st.integers(0, 2**53 - 1),
    mentions=st.none() | st.lists(st.from_regex(r"[a-z0-9._]{1,8}", fullmatch=True)),
)
def test_fast_lines_are_canonical_json(
    username: str, text: str, followers: int | None, mentions: list[str] | None
) -> None:
    raw = {
        "platform": "file",
        "comment_id": "1",
        "platform_user_id": username,
        "username": username,
        "text": text,
        "created_at": "2026-03-01T00:00:00Z",
        "followers": followers,
        "mentions": mentions,
    }
    try:
        entry = normalize_entry(raw)
    except EntryError:
        return  # not a username once normalized (only spaces, '@'...)
    document = {name: getattr(entry, name) for name in Entry.__slots__}
    line = entry_line(entry)
    assert line == canonical_json({**document, "mentions": list(entry.mentions)})
    table = parse_entries(line + b"\n")
    assert table.entry(0) == entry
    assert normalize_entry({**raw, "username": entry.username, "text": entry.text}) == entry
