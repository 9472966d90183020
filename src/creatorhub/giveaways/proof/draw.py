"""Commit, then draw: the commitment fixes everything the outcome depends on before it exists.

1. Commit (`make_commitment`): the ENTRIES (count, Merkle root, SHA-256 of the file), the
   config with the blacklist (`config_sha256`), SHA-256 of a fresh secret 32-byte seed, and a
   future beacon round. Publish `commitment_hash` (SHA-256 of the canonical commitment).
2. Draw (`run_draw`), once the round is out: exclusions (`rules.evaluate`), then the partial
   Fisher-Yates shuffle of the eligible positions with the DRBG (`drbg`), keyed by the seed
   and fed the commitment hash and the beacon's randomness. The first `winners_count` users
   drawn win, the next `alternates_count` are alternates, ranked in draw order. With
   `entries_per_user` "per_comment" a user may hold several entries but is drawn once: an
   entry of a user already drawn is skipped (recorded in `skipped` with the entry it repeats)
   and the draw goes on.
3. Reroll (`reroll`): a winner who cannot be reached is replaced by the next unused
   alternate; the replacement is recorded, never redrawn.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from creatorhub.giveaways.proof.canonical import (
    PLATFORMS,
    Entry,
    canonical_json,
    format_timestamp,
    gc_paused,
    normalize_timestamp,
    normalize_username,
)
from creatorhub.giveaways.proof.drbg import draw_randomness, shuffled
from creatorhub.giveaways.proof.rules import Blacklist, DrawConfig, config_sha256, evaluate
from creatorhub.giveaways.proof.table import EntryTable

COMMITMENT_VERSION: Final = 1
SEED_BYTES: Final = 32


class DrawError(Exception):
    pass


class CommitmentMismatch(DrawError, ValueError):
    """What the draw was given is not what the commitment committed to."""


class NotEnoughEligible(DrawError):
    def __init__(self, eligible_users: int, eligible_entries: int, winners_count: int) -> None:
        self.eligible_users = eligible_users
        self.eligible_entries = eligible_entries
        self.winners_count = winners_count
        super().__init__(
            f"{eligible_users} eligible user(s) ({eligible_entries} entries) for"
            f" {winners_count} winner(s)"
        )


class NoAlternatesLeft(DrawError):
    pass


class UnknownRank(DrawError):
    pass


@dataclass(frozen=True)
class Commitment:
    draw_id: str
    platform: str
    post_ref: str  # the post's URL or platform id
    host_username: str
    entries_count: int
    entries_root: str  # hex
    entries_sha256: str  # hex, of the whole ENTRIES file
    config_sha256: str  # hex, `rules.config_sha256`
    seed_sha256: str  # hex
    beacon: dict[str, Any] | None  # `beacon.commitment_beacon` or None
    committed_at: str
    version: int = COMMITMENT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def hash(self) -> str:
        return commitment_hash(self.to_dict())

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Commitment:
        names = {f.name for f in dataclasses.fields(cls)}
        if set(document) != names:
            raise ValueError(f"a commitment has exactly the keys {sorted(names)}")
        commitment = cls(**document)
        if commitment.version != COMMITMENT_VERSION:
            raise ValueError(f"commitment version {commitment.version} is unknown")
        if commitment.to_dict() != dict(document):
            raise ValueError("not a commitment")  # e.g. a list where a dict belongs
        return commitment


def commitment_hash(commitment: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(commitment)).hexdigest()


def new_seed() -> bytes:
    return secrets.token_bytes(SEED_BYTES)


def make_commitment(
    *,
    draw_id: str,
    platform: str,
    post_ref: str,
    host_username: str,
    entries: EntryTable,
    config: DrawConfig,
    blacklist: Blacklist,
    seed: bytes,
    beacon: dict[str, Any] | None,
    committed_at: datetime,
) -> Commitment:
    if len(seed) != SEED_BYTES:
        raise ValueError(f"the seed is {SEED_BYTES} bytes")
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}")
    return Commitment(
        draw_id=draw_id,
        platform=platform,
        post_ref=post_ref,
        host_username=normalize_username(host_username, "host_username"),
        entries_count=len(entries),
        entries_root=entries.root.hex(),
        entries_sha256=entries.sha256.hex(),
        config_sha256=config_sha256(config, blacklist),
        seed_sha256=hashlib.sha256(seed).hexdigest(),
        beacon=beacon,
        committed_at=format_timestamp(committed_at),
    )


@dataclass(frozen=True)
class Pick:
    rank: int
    index: int
    platform: str
    username: str
    platform_user_id: str
    comment_id: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Reroll:
    rank: int
    replaced_index: int
    alternate_index: int
    reason: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DrawResult:
    entries_count: int
    eligible_count: int  # entries
    excluded: list[tuple[int, str]]  # (index, reason), ascending
    excluded_counts: dict[str, int]  # per reason, every reason
    winners: tuple[Pick, ...]
    alternates: tuple[Pick, ...]  # fewer than asked when the eligible users ran out
    skipped: tuple[tuple[int, int], ...]  # (index, index of the drawn entry of its user)
    rerolls: tuple[Reroll, ...] = ()

    def final_winners(self) -> list[Pick]:
        """The winners after the rerolls: each rank held by its last replacement."""
        by_index = {p.index: p for p in self.alternates}
        holders = {p.rank: p for p in self.winners}
        for change in self.rerolls:
            holders[change.rank] = dataclasses.replace(
                by_index[change.alternate_index], rank=change.rank
            )
        return [holders[rank] for rank in sorted(holders)]


def select(
    eligible: Sequence[int], randomness: bytes, wanted: int, user_of: Callable[[int], Hashable]
) -> tuple[list[int], list[tuple[int, int]]]:
    """The first `wanted` distinct users in draw order: (their entries, the skipped entries
    with the drawn entry of the same user)."""
    picks: list[int] = []
    skipped: list[tuple[int, int]] = []
    drawn: dict[Hashable, int] = {}
    if wanted <= 0:
        return picks, skipped
    for position in shuffled(eligible, randomness):
        user = user_of(position)
        earlier = drawn.get(user)
        if earlier is not None:
            skipped.append((position, earlier))
            continue
        drawn[user] = position
        picks.append(position)
        if len(picks) == wanted:
            break
    return picks, skipped


def _check_commitment(
    table: EntryTable, config: DrawConfig, blacklist: Blacklist, seed: bytes, c: Commitment
) -> None:
    problems = []
    if c.entries_count != len(table):
        problems.append(f"entries_count {c.entries_count} != {len(table)}")
    if c.entries_root != table.root.hex():
        problems.append("entries_root")
    if c.entries_sha256 != table.sha256.hex():
        problems.append("entries_sha256")
    if c.config_sha256 != config_sha256(config, blacklist):
        problems.append("config_sha256")
    if c.seed_sha256 != hashlib.sha256(seed).hexdigest():
        problems.append("seed_sha256")
    if problems:
        raise CommitmentMismatch("the commitment does not match: " + ", ".join(problems))


def run_draw(
    entries: EntryTable | Sequence[Entry],
    config: DrawConfig,
    blacklist: Blacklist,
    seed: bytes,
    commitment: Commitment,
    beacon_randomness: bytes | None,
) -> DrawResult:
    with gc_paused():
        return _run_draw(entries, config, blacklist, seed, commitment, beacon_randomness)


def _run_draw(
    entries: EntryTable | Sequence[Entry],
    config: DrawConfig,
    blacklist: Blacklist,
    seed: bytes,
    commitment: Commitment,
    beacon_randomness: bytes | None,
) -> DrawResult:
    table = entries if isinstance(entries, EntryTable) else EntryTable.from_entries(entries)
    _check_commitment(table, config, blacklist, seed, commitment)
    if (commitment.beacon is None) != (beacon_randomness is None):
        raise CommitmentMismatch("a beacon's randomness is needed exactly when one is committed")
    evaluation = evaluate(table, config, blacklist)
    eligible = evaluation.eligible
    users = set(map(table.user, eligible))
    if len(users) < config.winners_count:
        raise NotEnoughEligible(len(users), len(eligible), config.winners_count)
    randomness = draw_randomness(seed, bytes.fromhex(commitment.hash), beacon_randomness)
    wanted = config.winners_count + config.alternates_count
    picks, skipped = select(eligible, randomness, wanted, table.user)

    def pick(rank: int, index: int) -> Pick:
        return Pick(
            rank,
            index,
            table.platform[index],
            table.username[index],
            table.platform_user_id[index],
            table.comment_id[index],
        )

    winners = picks[: config.winners_count]
    alternates = picks[config.winners_count :]
    return DrawResult(
        entries_count=len(table),
        eligible_count=len(eligible),
        excluded=evaluation.excluded,
        excluded_counts=evaluation.counts(),
        winners=tuple(pick(rank, i) for rank, i in enumerate(winners, 1)),
        alternates=tuple(pick(rank, i) for rank, i in enumerate(alternates, 1)),
        skipped=tuple(skipped),
    )


def reroll(result: DrawResult, rank: int, reason: str, at: datetime | str) -> DrawResult:
    """`result` with the current holder of winner `rank` replaced by the next unused
    alternate (the alternates are used in their rank order, one per reroll)."""
    holders = {p.rank: p for p in result.final_winners()}
    if rank not in holders:
        raise UnknownRank(f"there is no winner of rank {rank}")
    used = len(result.rerolls)
    if used >= len(result.alternates):
        raise NoAlternatesLeft(f"all {len(result.alternates)} alternate(s) are used")
    if not reason.strip():
        raise ValueError("a reroll needs a reason")
    moment = normalize_timestamp(at, "at")
    change = Reroll(rank, holders[rank].index, result.alternates[used].index, reason, moment)
    return dataclasses.replace(result, rerolls=(*result.rerolls, change))
