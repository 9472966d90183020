"""Offline verification of a certificate, with or without the ENTRIES file.

`verify_certificate` runs every step, whatever failed before (a later step that cannot run
for lack of what an earlier one should have given is `skipped`, with the reason), and the
certificate verifies only if no step failed:

* `parse`: UTF-8 JSON in canonical form with the certificate's shape;
* `signature`: Ed25519 over `certificate.signed_message`, by a trusted key when keys are
  given (without them it shows the certificate is intact, not who issued it);
* `commitment_hash`: SHA-256 of the canonical commitment;
* `seed`: SHA-256 of the revealed seed is the committed `seed_sha256`;
* `beacon`: the committed round, randomness = SHA-256(signature), published after the
  commitment for a known chain (its BLS signature is not checked: see `beacon`);
* `config_hash`: the config and blacklist are valid, canonical and hash to `config_sha256`;
* `entries` (needs ENTRIES): the count, SHA-256 and Merkle root committed, canonical lines in
  order;
* `exclusions` (needs ENTRIES): the rules recomputed exclude exactly what the certificate says;
* `selection`: the eligible positions (every index but the excluded ones) shuffled with the
  DRBG give exactly the winners, alternates and skips, in order; with ENTRIES also the
  winners' names and ids, and that every skip is another entry of a user already drawn;
* `rerolls`: each reroll gave the next unused alternate to the rank's current holder.
"""

from __future__ import annotations

import hashlib
import json
import operator
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import filterfalse, islice
from operator import itemgetter
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from creatorhub.giveaways.proof.beacon import KNOWN_CHAINS, check_beacon, time_of_round
from creatorhub.giveaways.proof.canonical import TIMESTAMP, canonical_json, gc_paused
from creatorhub.giveaways.proof.certificate import ALGORITHM, CERTIFICATE_VERSION, signed_message
from creatorhub.giveaways.proof.draw import commitment_hash, select
from creatorhub.giveaways.proof.drbg import draw_randomness, shuffled
from creatorhub.giveaways.proof.rules import (
    REASONS,
    attestations,
    canonical_blacklist,
    config_sha256,
    evaluate,
    parse_blacklist,
    parse_config,
)
from creatorhub.giveaways.proof.schema import CERTIFICATE, SchemaError, check_shape
from creatorhub.giveaways.proof.table import EntryTable, parse_entries

Status = Literal["pass", "fail", "skipped"]
STEPS: Final = (
    "parse",
    "signature",
    "commitment_hash",
    "seed",
    "beacon",
    "config_hash",
    "entries",
    "exclusions",
    "selection",
    "rerolls",
)


@dataclass(frozen=True)
class Step:
    name: str
    status: Status
    message: str
    seconds: float = 0.0  # how long the step took


@dataclass
class VerifyReport:
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.status != "fail" for step in self.steps)

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)

    def failed(self) -> list[str]:
        return [step.name for step in self.steps if step.status == "fail"]


class _Fail(Exception):
    pass


class _Skip(Exception):
    pass


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise _Fail(message)


def _refuse_number(text: str) -> Any:
    raise ValueError(f"{text} is not an integer (certificates have no floats)")


class _Verifier:
    def __init__(self, data: bytes, entries: bytes | None, trusted: set[str] | None) -> None:
        self.data = data
        self.entries_bytes = entries
        self.trusted = None if trusted is None else {key.lower() for key in trusted}
        self.cert: dict[str, Any] | None = None
        self.table: EntryTable | None = None
        self.report = VerifyReport()

    def run(self) -> VerifyReport:
        for name in STEPS:
            check: Callable[[], str] = getattr(self, f"_{name}")
            started = time.perf_counter()
            try:
                if name != "parse" and self.cert is None:
                    raise _Skip("the certificate did not parse")
                status, message = "pass", check()
            except _Skip as skip:
                status, message = "skipped", str(skip)
            except _Fail as failure:
                status, message = "fail", str(failure)
            except Exception as error:  # a malformed value the shape allowed: still a failure
                status, message = "fail", f"{type(error).__name__}: {error}"
            elapsed = time.perf_counter() - started
            self.report.steps.append(Step(name, status, message, elapsed))  # type: ignore[arg-type]
        return self.report

    @property
    def c(self) -> dict[str, Any]:
        assert self.cert is not None
        return self.cert

    def _parse(self) -> str:
        try:
            document = json.loads(
                self.data.decode("utf-8"),
                parse_float=_refuse_number,
                parse_constant=_refuse_number,
            )
        except (UnicodeDecodeError, ValueError) as error:
            raise _Fail(f"not JSON: {error}") from None
        try:
            check_shape(document, CERTIFICATE, "certificate")
        except SchemaError as error:
            raise _Fail(str(error)) from None
        # Canonical bytes only: no two spellings of one certificate, none unsigned.
        _expect(canonical_json(document) == self.data, "not in canonical JSON form")
        _expect(document["version"] == CERTIFICATE_VERSION, "unknown certificate version")
        self.cert = document
        return f"certificate of draw {document['commitment']['draw_id']}"

    def _signature(self) -> str:
        signature = self.c["signature"]
        _expect(signature["alg"] == ALGORITHM, f"algorithm {signature['alg']!r} is not Ed25519")
        public_key = signature["public_key"]
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
            key.verify(bytes.fromhex(signature["value"]), signed_message(self.c))
        except (ValueError, InvalidSignature):
            raise _Fail("the signature does not match the certificate") from None
        who = f"key {signature['key_id']} ({public_key})"
        if self.trusted is None:
            return f"signed by {who}; no trusted key given: intact, issuer not checked"
        _expect(public_key in self.trusted, f"signed by {who}, which is not a trusted key")
        return f"signed by trusted {who}"

    def _commitment_hash(self) -> str:
        computed = commitment_hash(self.c["commitment"])
        _expect(computed == self.c["commitment_hash"], f"the commitment hashes to {computed}")
        return computed

    def _seed(self) -> str:
        seed = bytes.fromhex(self.c["reveal"]["seed"])
        committed = self.c["commitment"]["seed_sha256"]
        _expect(hashlib.sha256(seed).hexdigest() == committed, "SHA-256(seed) != seed_sha256")
        return "SHA-256 of the revealed seed is the committed seed_sha256"

    def _beacon(self) -> str:
        committed = self.c["commitment"]["beacon"]
        revealed = self.c["beacon"]
        if committed is None:
            _expect(revealed is None, "a beacon is revealed but none was committed")
            raise _Skip("no beacon was committed: the seed alone keys the draw")
        _expect(revealed is not None, f"beacon round {committed['round']} is not revealed")
        _expect(committed["kind"] == "drand", f"unknown beacon kind {committed['kind']!r}")
        for key in ("kind", "chain_hash", "round", "url"):
            _expect(revealed[key] == committed[key], f"beacon {key} differs from the committed")
        _expect(
            check_beacon(revealed["randomness"], revealed["signature"]),
            "the randomness is not SHA-256 of the signature",
        )
        _expect(revealed["signature_checked"] is False, "signature_checked must be false")
        chain = KNOWN_CHAINS.get(committed["chain_hash"])
        when = ""
        if chain is not None:
            published = time_of_round(committed["round"], chain.genesis_time, chain.period)
            committed_at = _seconds(self.c["commitment"]["committed_at"])
            _expect(published > committed_at, "the round was out before the commitment")
            when = f", published {published - committed_at} s after the commitment"
        return (
            f"round {committed['round']}{when}; randomness = SHA-256(signature);"
            " BLS signature not checked"
        )

    def _config_hash(self) -> str:
        config = parse_config(self.c["config"])
        blacklist = parse_blacklist(self.c["blacklist"])
        _expect(config.canonical() == self.c["config"], "the config is not in canonical form")
        _expect(canonical_blacklist(blacklist) == self.c["blacklist"], "blacklist not canonical")
        computed = config_sha256(config, blacklist)
        _expect(
            computed == self.c["commitment"]["config_sha256"],
            f"config and blacklist hash to {computed}, not the committed config_sha256",
        )
        _expect(self.c["attestations"] == attestations(config), "attestations do not match")
        return f"{computed} ({len(blacklist)} blacklisted)"

    def _entries(self) -> str:
        if self.entries_bytes is None:
            raise _Skip("no ENTRIES file given")
        data = self.entries_bytes
        commitment = self.c["commitment"]
        # SHA-256 of the whole file in a thread: hashlib lets go of the GIL for large buffers,
        # so it runs on another core while this one parses.
        digest: list[str] = []
        worker = threading.Thread(target=lambda: digest.append(hashlib.sha256(data).hexdigest()))
        worker.start()
        try:
            self.table = parse_entries(data)
        except ValueError as error:
            raise _Fail(f"not a valid ENTRIES file: {error}") from None
        finally:
            worker.join()
        problems = []
        if len(self.table) != commitment["entries_count"]:
            problems.append(f"{len(self.table)} entries, {commitment['entries_count']} committed")
        if digest[0] != commitment["entries_sha256"]:
            problems.append("its SHA-256 is not the committed entries_sha256")
        if self.table.root.hex() != commitment["entries_root"]:
            problems.append("its Merkle root is not the committed entries_root")
        _expect(not problems, "; ".join(problems))
        return f"{len(self.table)} entries: count, SHA-256 and Merkle root as committed"

    def _exclusions(self) -> str:
        if self.table is None:
            raise _Skip("no valid ENTRIES file")
        config = parse_config(self.c["config"])
        evaluation = evaluate(self.table, config, parse_blacklist(self.c["blacklist"]))
        computed = evaluation.excluded
        claimed = list(map(tuple, self.c["excluded"]))
        if computed != claimed:
            first = min(set(claimed) ^ set(computed), default=(None,))
            raise _Fail(
                f"{len(computed)} exclusions recomputed, {len(claimed)} in the certificate;"
                f" first difference: entry {first[0]}"
            )
        return f"{len(computed)} exclusions recomputed identically"

    def _selection(self) -> str:
        c = self.c
        config = parse_config(c["config"])
        total = c["commitment"]["entries_count"]
        excluded = c["excluded"]
        indices = list(map(itemgetter(0), excluded))
        tally = Counter(map(itemgetter(1), excluded))
        _expect(set(tally) <= set(REASONS), "unknown exclusion reason")
        _expect(
            all(map(operator.lt, indices, islice(indices, 1, None))),
            "excluded entries must be in ascending order, each once",
        )
        _expect(not indices or (indices[0] >= 0 and indices[-1] < total), "excluded index range")
        counts = c["counts"]
        _expect(counts["entries"] == total, "counts.entries is not the committed count")
        _expect(counts["eligible"] == total - len(indices), "counts.eligible does not add up")
        _expect(
            counts["excluded"] == {code: tally.get(code, 0) for code in REASONS},
            "counts.excluded does not match the excluded list",
        )
        eligible = list(filterfalse(set(indices).__contains__, range(total)))
        beacon = c["beacon"]
        randomness = draw_randomness(
            bytes.fromhex(c["reveal"]["seed"]),
            bytes.fromhex(commitment_hash(c["commitment"])),
            None if beacon is None else bytes.fromhex(beacon["randomness"]),
        )
        winners, alternates = c["winners"], c["alternates"]
        _expect(len(winners) == config.winners_count, "not winners_count winners")
        _expect(len(alternates) <= config.alternates_count, "more alternates than configured")
        for picks in (winners, alternates):
            _expect([p["rank"] for p in picks] == list(range(1, len(picks) + 1)), "ranks")
        claimed = [p["index"] for p in winners + alternates]
        skips = [tuple(s) for s in c["skipped"]]
        if config.entries_per_user == "one":
            _expect(not skips, "skips are impossible with one entry per user")
        wanted = config.winners_count + config.alternates_count
        table = self.table
        if table is not None:
            # With ENTRIES the users are known: the draw itself, compared.
            picks, real_skips = select(eligible, randomness, wanted, table.user)
            _expect(picks == claimed, "the draw gives other winners or alternates")
            _expect([tuple(s) for s in real_skips] == skips, "the skips are not the draw's")
            for pick in winners + alternates:
                i = pick["index"]
                facts = (table.platform[i], table.username[i], table.platform_user_id[i])
                ids = (pick["platform"], pick["username"], pick["platform_user_id"])
                _expect(facts == ids, f"entry {i} is not {pick['username']}")
                _expect(pick["comment_id"] == table.comment_id[i], f"entry {i} comment id")
            return f"{len(winners)} winner(s), {len(alternates)} alternate(s) replayed with ENTRIES"
        # Without: a replay on the certificate's word for who is the same user (the skips).
        _replay_claims(eligible, randomness, claimed, skips, wanted)
        note = "" if not skips else "; skips (same user) not checkable without ENTRIES"
        return (
            f"{len(winners)} winner(s), {len(alternates)} alternate(s) replayed among"
            f" {len(eligible)} eligible positions; names not checked without ENTRIES{note}"
        )

    def _rerolls(self) -> str:
        c = self.c
        holders = {p["rank"]: p["index"] for p in c["winners"]}
        alternates = [p["index"] for p in c["alternates"]]
        committed_at = c["commitment"]["committed_at"]
        for number, change in enumerate(c["rerolls"], 1):
            rank = change["rank"]
            _expect(rank in holders, f"reroll {number}: no winner of rank {rank}")
            _expect(change["replaced_index"] == holders[rank], f"reroll {number}: not the holder")
            _expect(number <= len(alternates), f"reroll {number}: no alternate left")
            _expect(
                change["alternate_index"] == alternates[number - 1],
                f"reroll {number}: not the next unused alternate",
            )
            _expect(bool(change["reason"].strip()), f"reroll {number}: no reason")
            _expect(
                TIMESTAMP.fullmatch(change["at"]) is not None and change["at"] >= committed_at,
                f"reroll {number}: bad time",
            )
            holders[rank] = change["alternate_index"]
        return f"{len(c['rerolls'])} reroll(s), each to the next unused alternate"


def _seconds(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def _replay_claims(
    eligible: list[int],
    randomness: bytes,
    claimed: list[int],
    skips: list[tuple[int, ...]],
    wanted: int,
) -> None:
    """Without ENTRIES: the draw order must interleave exactly the picks and the skips
    claimed, each skip repeating a user already picked, and stop where a draw stops."""
    found, skipped, picked = 0, 0, set[int]()
    complete = len(claimed) == wanted
    for position in shuffled(eligible, randomness):
        if complete and found == len(claimed):
            break
        if found < len(claimed) and position == claimed[found]:
            picked.add(position)
            found += 1
        elif skipped < len(skips) and position == skips[skipped][0]:
            _expect(skips[skipped][1] in picked, f"skip of {position}: its user was not drawn")
            skipped += 1
        else:
            raise _Fail(f"the draw gives entry {position} where the certificate has another")
    _expect(found == len(claimed), "the draw ends before all the certificate's picks")
    _expect(skipped == len(skips), "the certificate has skips the draw never reaches")


def verify_certificate(
    cert_bytes: bytes,
    entries_bytes: bytes | None = None,
    trusted_public_keys: set[str] | None = None,
) -> VerifyReport:
    with gc_paused():
        return _Verifier(cert_bytes, entries_bytes, trusted_public_keys).run()
