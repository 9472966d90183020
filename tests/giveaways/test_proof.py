"""The verifiable draw engine (`creatorhub.giveaways.proof`), pure Python: no database.

The golden example pins the draw's outcome as literal values: it depends only on SHA-256,
HMAC-SHA256, Ed25519 and the documented canonical bytes, so it must never change (another
implementation, a JavaScript verifier, can use these values as its test vectors).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from creatorhub.giveaways.cli import draw_cli
from creatorhub.giveaways.proof.beacon import (
    QUICKNET,
    BeaconReveal,
    check_beacon,
    choose_round,
    commitment_beacon,
    randomness_of,
    round_at,
    time_of_round,
)
from creatorhub.giveaways.proof.canonical import (
    Entry,
    EntryError,
    canonical_json,
    entry_line,
    normalize_entry,
    sort_entries,
)
from creatorhub.giveaways.proof.certificate import (
    build_certificate,
    certificate_bytes,
    certificate_hash,
    public_key_hex,
    sign_certificate,
)
from creatorhub.giveaways.proof.draw import (
    Commitment,
    DrawResult,
    NoAlternatesLeft,
    NotEnoughEligible,
    UnknownRank,
    make_commitment,
    reroll,
    run_draw,
)
from creatorhub.giveaways.proof.drbg import Drbg, draw_randomness, shuffled
from creatorhub.giveaways.proof.inclusion import inclusion_proof, verify_inclusion
from creatorhub.giveaways.proof.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    merkle_proof,
    merkle_root,
    node_hash,
    verify_proof,
)
from creatorhub.giveaways.proof.rules import (
    ConfigError,
    DrawConfig,
    evaluate,
    is_suspicious,
    parse_blacklist,
    parse_config,
)
from creatorhub.giveaways.proof.table import EntryTable, parse_entries
from creatorhub.giveaways.proof.verify import STEPS, verify_certificate

SEED = bytes(range(32))
SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"golden signing key").digest())
COMMITTED_AT = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
ISSUED_AT = datetime(2026, 3, 3, 12, 5, tzinfo=UTC)
# A stand-in for a quicknet round's BLS signature (48 bytes): its randomness is SHA-256 of it.
BEACON_SIGNATURE = hashlib.sha256(b"beacon").hexdigest() + hashlib.sha256(b"!").hexdigest()[:32]
BEACON_ROUND = choose_round(COMMITTED_AT.timestamp(), 30, QUICKNET.genesis_time, QUICKNET.period)


def raw(comment_id: str, username: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "platform": "instagram",
        "comment_id": comment_id,
        "platform_user_id": f"id-{username}",
        "username": username,
        "text": "I want to win! @bob",
        "created_at": "2026-03-02T10:00:00Z",
        "followers": 500,
        "likes": 1,
        "is_business": False,
        "is_verified": False,
    }
    values.update(fields)
    return values


# Twelve comments, each exclusion code once, two eligible users.
GOLDEN_RAW = [
    raw("c01", "Alice", created_at="2026-03-01T09:15:00+01:00"),
    raw("c02", "@Spammer", text="win @a @b"),
    raw("c03", "carol", created_at="2026-02-28T23:59:59Z"),
    raw("c04", "dave", parent_id="c01"),
    raw("c05", "erin", text="nice post @bob"),
    raw("c06", "frank", text="win win win"),
    raw("c07", "gina", followers=None),
    raw("c08", "hank", followers=10),
    raw("c09", "shop.co", is_business=True),
    raw("c10", "lucky_1234567"),
    raw("c11", "alice", created_at="2026-03-02T11:00:00Z", platform_user_id="id-Alice"),
    raw("c12", "Ivan", text="WIN it for @bob and @carol 🎉", platform="tiktok"),
]
GOLDEN_CONFIG = {
    "winners_count": 1,
    "alternates_count": 1,
    "filters": {"min_followers": 50, "exclude_suspicious": True, "exclude_businesses": True},
    "rules": {
        "require_like": True,
        "require_comment": True,
        "require_follow": True,
        "comment_keywords": ["Win"],
        "min_mentions": 1,
        "window_start": "2026-03-01T00:00:00Z",
        "window_end": "2026-03-03T00:00:00Z",
    },
}
GOLDEN_BLACKLIST = [{"platform": "all", "username": "spammer"}]


def make_table(raws: list[dict[str, Any]]) -> EntryTable:
    return EntryTable.from_entries(normalize_entry(r) for r in raws)


def committed(
    table: EntryTable,
    config: DrawConfig,
    blacklist: Any,
    *,
    seed: bytes = SEED,
    beacon: bool = True,
) -> tuple[Commitment, BeaconReveal | None]:
    commitment = make_commitment(
        draw_id="golden",
        platform="instagram",
        post_ref="https://www.instagram.com/p/golden/",
        host_username="@Host",
        entries=table,
        config=config,
        blacklist=blacklist,
        seed=seed,
        beacon=commitment_beacon(QUICKNET, BEACON_ROUND) if beacon else None,
        committed_at=COMMITTED_AT,
    )
    reveal = (
        BeaconReveal(BEACON_ROUND, randomness_of(BEACON_SIGNATURE), BEACON_SIGNATURE)
        if beacon
        else None
    )
    return commitment, reveal


def certify(
    table: EntryTable,
    raw_config: Mapping[str, Any],
    raw_blacklist: list[dict[str, str]],
    *,
    seed: bytes = SEED,
    beacon: bool = True,
    rerolls: int = 0,
    key: Ed25519PrivateKey = SIGNING_KEY,
) -> tuple[dict[str, Any], DrawResult]:
    """Commit, draw (then `rerolls` rerolls of rank 1) and sign: the signed certificate."""
    config, blacklist = parse_config(raw_config), parse_blacklist(raw_blacklist)
    commitment, reveal = committed(table, config, blacklist, seed=seed, beacon=beacon)
    result = run_draw(
        table, config, blacklist, seed, commitment, reveal.randomness_bytes if reveal else None
    )
    for _ in range(rerolls):
        result = reroll(result, 1, "did not answer within 48 hours", ISSUED_AT)
    body = build_certificate(
        commitment=commitment,
        seed=seed,
        beacon=reveal,
        config=config,
        blacklist=blacklist,
        result=result,
        issued_at=ISSUED_AT,
    )
    return sign_certificate(body, key, "golden-key"), result


def resign(cert: dict[str, Any], key: Ed25519PrivateKey = SIGNING_KEY) -> bytes:
    """`cert` changed by a test, signed again: only the step that checks the change fails."""
    body = {k: v for k, v in cert.items() if k != "signature"}
    return certificate_bytes(sign_certificate(body, key, "golden-key"))


def failed(cert: bytes, entries: bytes | None = None, keys: set[str] | None = None) -> list[str]:
    return verify_certificate(cert, entries, keys).failed()


@pytest.fixture(scope="module")
def golden() -> tuple[EntryTable, dict[str, Any], DrawResult]:
    table = make_table(GOLDEN_RAW)
    cert, result = certify(table, GOLDEN_CONFIG, GOLDEN_BLACKLIST)
    return table, cert, result


# --- golden -------------------------------------------------------------------------------


def test_golden_canonical_lines_and_hashes(golden: Any) -> None:
    table, cert, _ = golden
    assert table.lines[0] == (
        b'{"comment_id":"c01","created_at":"2026-03-01T08:15:00Z","followers":500,'
        b'"is_business":false,"is_verified":false,"likes":1,"mentions":["bob"],'
        b'"parent_id":null,"platform":"instagram","platform_user_id":"id-Alice",'
        b'"text":"I want to win! @bob","username":"alice"}'
    )
    assert (
        table.lines[-1]
        .decode()
        .endswith(
            '"mentions":["bob","carol"],"parent_id":null,"platform":"tiktok",'
            '"platform_user_id":"id-Ivan","text":"WIN it for @bob and @carol 🎉","username":"ivan"}'
        )
    )
    commitment = cert["commitment"]
    assert commitment["entries_count"] == 12
    assert commitment["entries_root"] == GOLDEN["entries_root"]
    assert commitment["entries_sha256"] == GOLDEN["entries_sha256"]
    assert commitment["config_sha256"] == GOLDEN["config_sha256"]
    assert commitment["seed_sha256"] == hashlib.sha256(SEED).hexdigest()
    assert cert["commitment_hash"] == GOLDEN["commitment_hash"]
    assert certificate_hash(cert) == GOLDEN["certificate_hash"]


def test_golden_exclusions_and_winners(golden: Any) -> None:
    _, cert, result = golden
    assert cert["excluded"] == [
        [1, "blacklisted"],
        [2, "outside_window"],
        [3, "reply"],
        [4, "missing_keyword"],
        [5, "too_few_mentions"],
        [6, "followers_unknown"],
        [7, "below_min_followers"],
        [8, "business_account"],
        [9, "suspicious"],
        [10, "duplicate_user"],
    ]
    assert cert["counts"]["eligible"] == result.eligible_count == 2
    assert cert["winners"] == GOLDEN["winners"]
    assert cert["alternates"] == GOLDEN["alternates"]
    assert cert["attestations"] == [
        {"rule": "require_comment", "status": "verified_by_entry"},
        {"rule": "require_like", "status": "self_declared_checked_by_host"},
        {"rule": "require_follow", "status": "self_declared_checked_by_host"},
    ]
    assert cert["beacon"]["signature_checked"] is False


def test_golden_per_comment_draw_with_skips() -> None:
    # The same comments, no filter, a user may comment several times: alice has two entries.
    table = make_table(GOLDEN_RAW)
    config = {"winners_count": 3, "alternates_count": 20, "entries_per_user": "per_comment"}
    cert, result = certify(table, {**config, "rules": {"exclude_replies": False}}, [])
    assert [p["index"] for p in cert["winners"]] == GOLDEN["per_comment_winners"]
    assert [p["index"] for p in cert["alternates"]] == GOLDEN["per_comment_alternates"]
    assert cert["skipped"] == GOLDEN["per_comment_skipped"]
    # Eleven users for 23 places: every user drawn once, the other entry of alice skipped.
    assert len(result.winners) + len(result.alternates) == 11
    assert verify_certificate(certificate_bytes(cert), table.file_bytes).ok
    assert verify_certificate(certificate_bytes(cert)).ok


def test_drbg_vectors() -> None:
    randomness = draw_randomness(bytes(32), bytes(32), None)
    assert randomness.hex() == GOLDEN["drbg_randomness"]
    # The specification, step by step (drbg's docstring), checked against the module.
    message = b"creatorhub-draw-v1" + bytes(32)
    assert randomness == hmac.new(bytes(32), message, hashlib.sha256).digest()
    block0 = hmac.new(randomness, (0).to_bytes(8, "big"), hashlib.sha256).digest()
    block1 = hmac.new(randomness, (1).to_bytes(8, "big"), hashlib.sha256).digest()
    expected = [int.from_bytes(block0[i : i + 8], "big") for i in range(0, 32, 8)]
    assert GOLDEN["drbg_u64"] == [*expected, int.from_bytes(block1[:8], "big")]
    stream = Drbg(randomness)
    assert [stream.next_u64() for _ in range(5)] == GOLDEN["drbg_u64"]
    with_beacon = draw_randomness(bytes(32), bytes(32), b"\xff" * 32)
    assert with_beacon != randomness
    assert list(shuffled(range(10), randomness)) == GOLDEN["drbg_shuffle"]
    # uniform(n) never reaches n, and uniform(1) is 0 (reading one integer all the same).
    stream = Drbg(randomness)
    assert all(0 <= stream.uniform(n) < n for n in range(1, 200))
    assert Drbg(randomness).uniform(1) == 0


def test_golden_verifies(golden: Any) -> None:
    table, cert, _ = golden
    data = certificate_bytes(cert)
    report = verify_certificate(data, table.file_bytes, {public_key_hex(SIGNING_KEY)})
    assert [step.name for step in report.steps] == list(STEPS)
    assert report.ok, report.steps
    assert all(step.status == "pass" for step in report.steps)
    light = verify_certificate(data)
    assert light.ok
    assert light.step("entries").status == "skipped"
    assert light.step("exclusions").status == "skipped"
    assert light.step("selection").status == "pass"


# --- tampering ----------------------------------------------------------------------------


def test_changed_winner_fails_selection(golden: Any) -> None:
    table, cert, _ = golden
    changed = json.loads(certificate_bytes(cert))
    changed["winners"][0], changed["alternates"][0] = (
        {**changed["alternates"][0], "rank": 1},
        {**changed["winners"][0], "rank": 1},
    )
    assert failed(resign(changed), table.file_bytes) == ["selection"]
    assert failed(resign(changed)) == ["selection"]
    # Unsigned again, the signature fails as well.
    assert "signature" in failed(certificate_bytes(changed))


def test_changed_seed_fails_seed(golden: Any) -> None:
    _, cert, _ = golden
    changed = json.loads(certificate_bytes(cert))
    changed["reveal"]["seed"] = "00" * 32
    assert failed(resign(changed))[:1] == ["seed"]


def test_dropped_entry_fails_entries(golden: Any) -> None:
    table, cert, _ = golden
    dropped = b"".join(line + b"\n" for i, line in enumerate(table.lines) if i != 4)
    assert "entries" in failed(certificate_bytes(cert), dropped)
    report = verify_certificate(certificate_bytes(cert), dropped)
    assert "11 entries, 12 committed" in report.step("entries").message


def test_changed_config_fails_config_hash(golden: Any) -> None:
    _, cert, _ = golden
    changed = json.loads(certificate_bytes(cert))
    changed["config"]["filters"]["min_followers"] = 5
    assert "config_hash" in failed(resign(changed))
    changed = json.loads(certificate_bytes(cert))
    changed["blacklist"] = []
    assert "config_hash" in failed(resign(changed))


def test_wrong_key_fails_signature(golden: Any) -> None:
    table, cert, _ = golden
    other = Ed25519PrivateKey.from_private_bytes(bytes(32))
    forged = resign(json.loads(certificate_bytes(cert)), other)
    trusted = {public_key_hex(SIGNING_KEY)}
    assert failed(forged, table.file_bytes, trusted) == ["signature"]
    # Without trusted keys, the signature only shows the certificate is intact.
    assert verify_certificate(forged).ok
    # The key's name is signed too.
    renamed = json.loads(certificate_bytes(cert))
    renamed["signature"]["key_id"] = "another"
    assert failed(certificate_bytes(renamed)) == ["signature"]


def test_changed_commitment_and_beacon(golden: Any) -> None:
    _, cert, _ = golden
    changed = json.loads(certificate_bytes(cert))
    changed["commitment_hash"] = "ab" * 32
    assert failed(resign(changed)) == ["commitment_hash"]
    changed = json.loads(certificate_bytes(cert))
    changed["beacon"]["signature"] = "cd" * 48
    assert failed(resign(changed))[:1] == ["beacon"]
    changed = json.loads(certificate_bytes(cert))
    changed["beacon"]["round"] -= 1
    assert "beacon" in failed(resign(changed))


def test_excluded_entry_made_eligible_fails_exclusions(golden: Any) -> None:
    table, cert, _ = golden
    changed = json.loads(certificate_bytes(cert))
    del changed["excluded"][0]
    changed["counts"]["eligible"] += 1
    changed["counts"]["excluded"]["blacklisted"] -= 1
    assert "exclusions" in failed(resign(changed), table.file_bytes)


def test_not_json_fails_parse_and_skips_the_rest(golden: Any) -> None:
    report = verify_certificate(b"{not json")
    assert report.failed() == ["parse"]
    assert all(step.status == "skipped" for step in report.steps[1:])
    spaced = json.dumps(golden[1]).encode()  # valid JSON, not canonical
    assert failed(spaced) == ["parse"]


def test_rerolls_are_checked(golden: Any) -> None:
    table = make_table(GOLDEN_RAW)
    config = {"winners_count": 2, "alternates_count": 3, "rules": {"exclude_replies": False}}
    cert, result = certify(table, config, [], rerolls=2)
    assert [r["alternate_index"] for r in cert["rerolls"]] == [
        p.index for p in result.alternates[:2]
    ]
    assert cert["rerolls"][1]["replaced_index"] == result.alternates[0].index
    assert verify_certificate(certificate_bytes(cert), table.file_bytes).ok
    changed = json.loads(certificate_bytes(cert))
    changed["rerolls"][1]["alternate_index"] = result.alternates[2].index
    assert failed(resign(changed)) == ["rerolls"]


# --- draw ---------------------------------------------------------------------------------


def test_reroll_uses_the_alternates_in_order_then_runs_out() -> None:
    table = make_table(GOLDEN_RAW)
    config = {"winners_count": 2, "alternates_count": 1, "rules": {"exclude_replies": False}}
    _, result = certify(table, config, [])
    first = reroll(result, 2, "no answer", ISSUED_AT)
    assert first.rerolls[0].replaced_index == result.winners[1].index
    assert first.final_winners()[1].index == result.alternates[0].index
    assert first.final_winners()[1].rank == 2
    assert first.final_winners()[0] == result.winners[0]
    with pytest.raises(NoAlternatesLeft):
        reroll(first, 1, "no answer", ISSUED_AT)
    with pytest.raises(UnknownRank):
        reroll(result, 3, "no answer", ISSUED_AT)
    with pytest.raises(ValueError, match="reason"):
        reroll(result, 1, " ", ISSUED_AT)


def test_not_enough_eligible_users() -> None:
    table = make_table(GOLDEN_RAW)
    config = parse_config({**GOLDEN_CONFIG, "winners_count": 3})
    blacklist = parse_blacklist(GOLDEN_BLACKLIST)
    commitment, reveal = committed(table, config, blacklist)
    assert reveal is not None
    with pytest.raises(NotEnoughEligible) as caught:
        run_draw(table, config, blacklist, SEED, commitment, reveal.randomness_bytes)
    assert caught.value.eligible_users == 2
    assert caught.value.winners_count == 3


def test_draw_refuses_what_was_not_committed() -> None:
    table = make_table(GOLDEN_RAW)
    config, blacklist = parse_config(GOLDEN_CONFIG), parse_blacklist(GOLDEN_BLACKLIST)
    commitment, reveal = committed(table, config, blacklist)
    assert reveal is not None
    with pytest.raises(ValueError, match="seed_sha256"):
        run_draw(table, config, blacklist, bytes(32), commitment, reveal.randomness_bytes)
    with pytest.raises(ValueError, match="config_sha256"):
        run_draw(table, config, (), SEED, commitment, reveal.randomness_bytes)
    smaller = make_table(GOLDEN_RAW[:-1])
    with pytest.raises(ValueError, match="entries_count"):
        run_draw(smaller, config, blacklist, SEED, commitment, reveal.randomness_bytes)
    with pytest.raises(ValueError, match="beacon"):
        run_draw(table, config, blacklist, SEED, commitment, None)


def test_draw_without_beacon_verifies() -> None:
    table = make_table(GOLDEN_RAW)
    cert, _ = certify(table, {"winners_count": 2}, [], beacon=False)
    report = verify_certificate(certificate_bytes(cert), table.file_bytes)
    assert report.ok
    assert report.step("beacon").status == "skipped"


# --- entries ------------------------------------------------------------------------------


def test_normalize_entry() -> None:
    entry = normalize_entry(
        raw("1", " @ÉlodieX ", text="Cafe\u0301 @Bob. @alice_ & me@mail.com @bob", likes=0)
    )
    assert entry.username == "élodiex"
    assert entry.text == "Café @Bob. @alice_ & me@mail.com @bob"
    assert entry.mentions == ("alice_", "bob")
    assert normalize_entry(raw("1", "x", mentions=["@B", "a", "b"])).mentions == ("a", "b")
    assert normalize_entry({**raw("1", "x"), "comment_id": 17}).comment_id == "17"
    for field, bad in [
        ("platform", {"platform": "myspace"}),
        ("username", {"username": " @ "}),
        ("username", {"username": "two words"}),
        ("created_at", {"created_at": "2026-03-02T10:00:00"}),
        ("created_at", {"created_at": "yesterday"}),
        ("likes", {"likes": -1}),
        ("likes", {"likes": 1.5}),
        ("followers", {"followers": True}),
        ("is_business", {"is_business": "yes"}),
        ("comment_id", {"comment_id": ""}),
        ("colour", {"colour": "red"}),
    ]:
        with pytest.raises(EntryError) as caught:
            normalize_entry({**raw("1", "x"), **bad})
        assert caught.value.field == field


def test_entry_line_is_canonical_json() -> None:
    entry = normalize_entry(raw("1", "x", text='quote " back \\ tab \t nl \n ctl \x01 é 🎉'))
    document = {name: getattr(entry, name) for name in Entry.__slots__}
    assert entry_line(entry) == canonical_json({**document, "mentions": list(entry.mentions)})
    assert b"\\u0001" in entry_line(entry)
    assert "é 🎉".encode() in entry_line(entry)


def test_canonical_json_refuses_floats_and_unsafe_integers() -> None:
    assert canonical_json({"b": [1, None], "a": "é"}) == '{"a":"é","b":[1,null]}'.encode()
    for bad in (1.5, {"a": [0.0]}, 2**53, {1: "a"}, {"a": {1, 2}}):
        with pytest.raises(ValueError, match=r"float|integer|keys|set"):
            canonical_json(bad)


def test_sort_and_parse_round_trip() -> None:
    entries = [normalize_entry(r) for r in reversed(GOLDEN_RAW)]
    ordered = sort_entries(entries)
    assert [e.comment_id for e in ordered] == [f"c{i:02d}" for i in range(1, 13)]
    table = EntryTable.from_entries(entries)
    again = parse_entries(table.file_bytes)
    assert again.lines == table.lines
    assert [again.entry(i) for i in range(len(again))] == ordered
    assert parse_entries(b"").lines == []
    assert EntryTable.from_entries([]).root == EMPTY_ROOT == hashlib.sha256(b"").digest()
    with pytest.raises(EntryError, match="twice"):
        sort_entries([entries[0], entries[0]])


def test_rows_in_any_order_give_the_same_table() -> None:
    entries = [normalize_entry(r) for r in GOLDEN_RAW]
    entries += [normalize_entry({**r, "platform": "facebook"}) for r in GOLDEN_RAW[:5]]
    reference = EntryTable.from_entries(entries)
    assert [reference.platform[i] for i in (0, 5, 16)] == ["facebook", "instagram", "tiktok"]
    for seed in range(5):
        rows = [e.row() for e in entries]
        random.Random(seed).shuffle(rows)
        assert EntryTable.from_rows(rows).lines == reference.lines
    with pytest.raises(EntryError, match="order or repeated"):
        EntryTable.from_rows([e.row() for e in entries] + [entries[3].row()])
    with pytest.raises(EntryError, match="values"):
        EntryTable.from_rows([entries[0].row()[:5]])


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda line: line.replace(b'"likes":1', b'"likes": 1'), "canonical"),
        (lambda line: line.replace(b'"likes":1', b'"likes":1.0'), "likes"),
        (lambda line: line.replace(b'"text":"I', b'"text":"\\u0049'), "canonical"),
        (lambda line: line.replace(b'{"comment_id"', b'{"x":1,"comment_id"'), "canonical"),
        (lambda line: line.replace(b',"likes":1', b"") + b"", "likes"),
        (lambda line: line.replace(b'"username":"carol"', b'"username":"Carol"'), "username"),
        (lambda line: line + b"," + line, "one JSON object"),
        (lambda line: line[:-1], "JSON"),
    ],
)
def test_parse_refuses_non_canonical_lines(change: Any, problem: str) -> None:
    table = make_table(GOLDEN_RAW)
    lines = list(table.lines)
    lines[2] = change(lines[2])
    with pytest.raises(EntryError, match=problem):
        parse_entries(b"".join(line + b"\n" for line in lines))


def test_parse_refuses_bad_files() -> None:
    data = make_table(GOLDEN_RAW).file_bytes
    lines = data.splitlines(keepends=True)
    with pytest.raises(EntryError, match="newline"):
        parse_entries(data[:-1])
    with pytest.raises(EntryError, match="empty"):
        parse_entries(data + b"\n")
    with pytest.raises(EntryError, match="order"):
        parse_entries(lines[1] + lines[0] + b"".join(lines[2:]))
    with pytest.raises(EntryError, match="order"):
        parse_entries(lines[0] + lines[0])
    with pytest.raises(EntryError):
        parse_entries(b"\xff\n")


# --- rules --------------------------------------------------------------------------------


def test_config_canonical_form_and_errors() -> None:
    config = parse_config({"winners_count": 1, "rules": {"comment_keywords": ["B", " a", "b"]}})
    assert config.canonical()["rules"]["comment_keywords"] == ["a", "b"]
    assert config.canonical()["alternates_count"] == 3
    assert config.canonical()["rules"]["exclude_replies"] is True
    assert parse_config(config.canonical()) == config
    for field, bad in [
        ("winners_count", {"winners_count": 0}),
        ("winners_count", {"winners_count": True}),
        ("entries_per_user", {"winners_count": 1, "entries_per_user": "two"}),
        ("rules.window_end", {"winners_count": 1, "rules": {"window_end": "nope"}}),
        ("filters.colour", {"winners_count": 1, "filters": {"colour": 1}}),
        ("rules_version", {"winners_count": 1, "rules_version": 2}),
        ("rules.comment_keywords", {"winners_count": 1, "rules": {"comment_keywords": [""]}}),
    ]:
        with pytest.raises(ConfigError) as caught:
            parse_config(bad)
        assert caught.value.field == field
    with pytest.raises(ConfigError):
        parse_blacklist([{"platform": "myspace", "username": "x"}])
    assert parse_blacklist([{"platform": "all", "username": "@X"}] * 2)[0].username == "x"


def test_suspicious_rule() -> None:
    assert is_suspicious("giveaway1234567", "hello", 300, False)
    assert is_suspicious("win_123456", "hello", None, None)
    assert not is_suspicious("win_12345", "hello", None, None)
    assert not is_suspicious("giveaway1234567", "hello", 300, True)  # verified
    assert is_suspicious("paul", "@a @b 🎉🎉 !!", 0, False)  # no followers, no words
    assert not is_suspicious("paul", "@a @b 🎉🎉 !!", 1, False)
    assert not is_suspicious("paul", "@a yes", 0, False)
    assert not is_suspicious("paul", "@a 一", 0, None)  # a letter of any script counts


def test_window_bounds_and_own_mention() -> None:
    table = make_table(
        [
            raw("1", "a", created_at="2026-03-01T00:00:00Z"),  # at the start: in
            raw("2", "b", created_at="2026-03-03T00:00:00Z"),  # at the end: out
            raw("3", "c", text="win @c"),  # mentions only themself
        ]
    )
    config = parse_config(
        {
            "winners_count": 1,
            "rules": {
                "window_start": "2026-03-01T00:00:00Z",
                "window_end": "2026-03-03T00:00:00Z",
                "min_mentions": 1,
            },
        }
    )
    assert evaluate(table, config, ()).excluded == [(1, "outside_window"), (2, "too_few_mentions")]


# --- merkle -------------------------------------------------------------------------------


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962's MTH, by its recursive definition (split at the largest power of two)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:split]), reference_root(leaves[split:]))


@pytest.mark.parametrize("size", range(1, 18))
def test_merkle_proofs(size: int) -> None:
    lines = [f"line {i}".encode() for i in range(size)]
    root = merkle_root(lines)
    assert root == reference_root(lines) == MerkleTree(lines).root
    for index, line in enumerate(lines):
        proof = merkle_proof(lines, index)
        assert verify_proof(line, index, size, proof, root)
        assert verify_proof(line, index, size, [list(s) for s in proof], root.hex())
        assert not verify_proof(line + b"!", index, size, proof, root)
        if size > 1:
            other = (index + 1) % size
            assert not verify_proof(line, other, size, proof, root)
            assert not verify_proof(lines[other], index, size, proof, root)
            assert not verify_proof(line, index, size, proof[:-1], root)


def test_inclusion_proof(golden: Any) -> None:
    table, cert, _ = golden
    items = inclusion_proof(table.file_bytes, "@ALICE", cert)
    assert [(item["index"], item["status"]) for item in items] == [
        (0, GOLDEN["alice_status"]),
        (10, "excluded:duplicate_user"),
    ]
    assert all(verify_inclusion(item, cert) for item in items)
    forged = {**items[1], "status": "eligible"}
    assert not verify_inclusion(forged, cert)
    moved = {**items[0], "index": 1}
    assert not verify_inclusion(moved, cert)
    assert inclusion_proof(table, "nobody", cert) == []


# --- beacon -------------------------------------------------------------------------------


def test_drand_rounds() -> None:
    genesis, period = QUICKNET.genesis_time, QUICKNET.period
    assert round_at(genesis, genesis, period) == 1
    assert round_at(genesis + 2.9, genesis, period) == 1
    assert round_at(genesis + 3, genesis, period) == 2
    assert round_at(genesis - 1, genesis, period) == 0
    assert time_of_round(2, genesis, period) == genesis + 3
    chosen = choose_round(genesis + 10, 5, genesis, period)
    assert time_of_round(chosen, genesis, period) > genesis + 15
    assert time_of_round(chosen - 1, genesis, period) <= genesis + 15
    # Exactly at a round's time, that round is not "strictly after".
    assert choose_round(genesis + 3, 0, genesis, period) == 3


def test_check_beacon() -> None:
    signature = "aa" * 48
    assert check_beacon(randomness_of(signature), signature)
    assert check_beacon(randomness_of(signature).upper(), signature)
    assert not check_beacon("00" * 32, signature)
    assert not check_beacon("zz", signature)


# --- cli ----------------------------------------------------------------------------------


def test_cli_verify(golden: Any, tmp_path: Path) -> None:
    table, cert, _ = golden
    cert_file, entries_file = tmp_path / "cert.json", tmp_path / "entries.jsonl"
    cert_file.write_bytes(certificate_bytes(cert))
    entries_file.write_bytes(table.file_bytes)
    runner = CliRunner()
    key = public_key_hex(SIGNING_KEY)
    ok = runner.invoke(draw_cli, ["verify", str(cert_file), str(entries_file), "--trust-key", key])
    assert ok.exit_code == 0, ok.output
    assert all(name in ok.output for name in STEPS)
    assert "the certificate verifies" in ok.output

    wrong_key = "11" * 32
    bad = runner.invoke(draw_cli, ["verify", str(cert_file), "--trust-key", wrong_key])
    assert bad.exit_code == 1
    assert "FAIL  signature" in bad.output

    entries_file.write_bytes(table.file_bytes.replace(b"alice", b"alicf", 1))
    bad = runner.invoke(draw_cli, ["verify", str(cert_file), str(entries_file)])
    assert bad.exit_code == 1
    assert "FAIL  entries" in bad.output

    missing = runner.invoke(draw_cli, ["verify", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2


# The pinned values of the golden example (see the module docstring).
GOLDEN: dict[str, Any] = {
    "entries_root": "dc1113f0031da575133798fa121c37d2a7e849958a4060691229255557b1bf13",
    "entries_sha256": "89ab1fcbc2e97593860e415fc3b1066646b125565d42d47de8751c2e67aa70c3",
    "config_sha256": "e5fb042030f7606108e2b2d3bd865ca58d0b5e1b7194c0cf6d67649ca6e6f6bd",
    "commitment_hash": "27583a7831a4ff2d3cfb410860a14e524f62da81a29f9d2c1f235e1e2f311fba",
    "certificate_hash": "48876d4a37dcd9ca40fcdb5431eb4d1c167706a7865f9606cd9f1a25e40a7769",
    "winners": [
        {
            "rank": 1,
            "index": 11,
            "platform": "tiktok",
            "username": "ivan",
            "platform_user_id": "id-Ivan",
            "comment_id": "c12",
        }
    ],
    "alternates": [
        {
            "rank": 1,
            "index": 0,
            "platform": "instagram",
            "username": "alice",
            "platform_user_id": "id-Alice",
            "comment_id": "c01",
        }
    ],
    "alice_status": "alternate:1",
    "per_comment_winners": [2, 8, 9],
    "per_comment_alternates": [1, 3, 11, 7, 6, 5, 10, 4],
    "per_comment_skipped": [[0, 10]],
    "drbg_randomness": "6f4b0190f91e37710392a413d97a262ea2c5812a089d7daeb3137c07cffeddba",
    "drbg_u64": [
        6186247539875324331,
        16079119164196211935,
        9844196142069071190,
        11179140114963845335,
        5271799854100390331,
    ],
    "drbg_shuffle": [1, 2, 8, 6, 9, 4, 5, 7, 3, 0],
}
