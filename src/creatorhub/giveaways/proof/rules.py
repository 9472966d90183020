"""A draw's configuration and blacklist, and which entries they exclude (rules version 1).

Config (`parse_config`; unknown keys are refused, since they would be hashed yet ignored)::

    {"rules_version": 1, "winners_count": >= 1, "alternates_count": >= 0 (3),
     "entries_per_user": "one" | "per_comment" ("one"),
     "filters": {"min_followers": int | null, "exclude_suspicious": bool,
                 "exclude_businesses": bool},
     "rules": {"require_like": bool, "require_comment": bool, "require_follow": bool,
               "comment_keywords": [str], "min_mentions": >= 0,
               "window_start": ISO | null, "window_end": ISO | null,
               "exclude_replies": bool (true)}}

Blacklist: `[{"platform": <platform> | "all", "username": str}]`. Both are hashed in their
canonical form (`DrawConfig.canonical()`, `canonical_blacklist`, every default written out,
keywords and blacklist sorted and each once) into the commitment's `config_sha256`.

Each entry, in ENTRIES order, is eligible or excluded for ONE reason: the first that applies in
`REASONS` order:

1. `blacklisted`: (its platform or "all", its username) is in the blacklist;
2. `outside_window`: `created_at` < `window_start` or `created_at` >= `window_end`;
3. `reply`: `exclude_replies` and it has a `parent_id`;
4. `missing_keyword`: keywords are set and none is a substring of the text (both lowercased);
5. `too_few_mentions`: fewer than `min_mentions` mentions, its author's own not counted;
6. `followers_unknown` / `below_min_followers`: `min_followers` is set and the follower count
   is unknown / below it;
7. `business_account`: `exclude_businesses` and `is_business` is true (unknown passes);
8. `suspicious`: `exclude_suspicious` and `is_suspicious` (below);
9. `duplicate_user`: `entries_per_user` is "one" and the same user (platform, platform user
   id) has another entry that passed 1-8 with a smaller (`created_at`, `comment_id`): each
   user keeps their earliest qualifying comment.

`is_suspicious` (version 1): not `is_verified`, and either the username is letters, an optional
`.` or `_`, then six digits or more (`^[a-z]+[._]?[0-9]{6,}$`: the shape of generated handles),
or the account has 0 followers (known) and its text, @mentions removed, holds no letter or
digit (Unicode general category L* or N*: only tags, emoji and punctuation).

`require_like` and `require_follow` cannot be checked from a comment (the platforms do not
tell): they are not evaluated but stated in the certificate's attestations as checked by the
host. `require_comment` holds for every entry, which is a comment.
"""

from __future__ import annotations

import hashlib
import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import compress, filterfalse, repeat
from typing import Any, Final

from creatorhub.giveaways.proof.canonical import (
    MAX_SAFE_INTEGER,
    MENTION,
    PLATFORMS,
    canonical_json,
    normalize_timestamp,
    normalize_username,
)
from creatorhub.giveaways.proof.table import EntryTable

RULES_VERSION: Final = 1
REASONS: Final = (
    "blacklisted",
    "outside_window",
    "reply",
    "missing_keyword",
    "too_few_mentions",
    "followers_unknown",
    "below_min_followers",
    "business_account",
    "suspicious",
    "duplicate_user",
)
SUSPICIOUS_USERNAME: Final = re.compile(r"[a-z]+[._]?[0-9]{6,}")
ENTRIES_PER_USER: Final = ("one", "per_comment")


class ConfigError(ValueError):
    """The config or the blacklist is invalid; `field` names the offending key."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class DrawConfig:
    winners_count: int
    alternates_count: int = 3
    entries_per_user: str = "one"
    min_followers: int | None = None
    exclude_suspicious: bool = False
    exclude_businesses: bool = False
    require_like: bool = False
    require_comment: bool = False
    require_follow: bool = False
    comment_keywords: tuple[str, ...] = ()
    min_mentions: int = 0
    window_start: str | None = None
    window_end: str | None = None
    exclude_replies: bool = True

    def canonical(self) -> dict[str, Any]:
        return {
            "rules_version": RULES_VERSION,
            "winners_count": self.winners_count,
            "alternates_count": self.alternates_count,
            "entries_per_user": self.entries_per_user,
            "filters": {
                "min_followers": self.min_followers,
                "exclude_suspicious": self.exclude_suspicious,
                "exclude_businesses": self.exclude_businesses,
            },
            "rules": {
                "require_like": self.require_like,
                "require_comment": self.require_comment,
                "require_follow": self.require_follow,
                "comment_keywords": list(self.comment_keywords),
                "min_mentions": self.min_mentions,
                "window_start": self.window_start,
                "window_end": self.window_end,
                "exclude_replies": self.exclude_replies,
            },
        }


@dataclass(frozen=True, order=True)
class BlacklistItem:
    platform: str  # a platform or "all"
    username: str


Blacklist = tuple[BlacklistItem, ...]


def _section(raw: Mapping[str, Any], name: str, keys: set[str]) -> Mapping[str, Any]:
    section = raw.get(name, {})
    if not isinstance(section, Mapping):
        raise ConfigError(name, "must be an object")
    unknown = sorted(set(section) - keys)
    if unknown:
        raise ConfigError(f"{name}.{unknown[0]}", "is not a known setting")
    return section


def _int(value: object, name: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(name, "must be an integer")
    if not minimum <= value <= MAX_SAFE_INTEGER:
        raise ConfigError(name, f"must be at least {minimum}")
    return value


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(name, "must be true or false")
    return value


def _moment(value: object, name: str) -> str | None:
    if value is None:
        return None
    try:
        return normalize_timestamp(value, name)
    except ValueError as error:
        raise ConfigError(name, str(error)) from None


def parse_config(raw: Mapping[str, Any]) -> DrawConfig:
    top = {"rules_version", "winners_count", "alternates_count", "entries_per_user"}
    unknown = sorted(set(raw) - top - {"filters", "rules"})
    if unknown:
        raise ConfigError(unknown[0], "is not a known setting")
    if raw.get("rules_version", RULES_VERSION) != RULES_VERSION:
        raise ConfigError("rules_version", f"only version {RULES_VERSION} exists")
    filters = _section(
        raw, "filters", {"min_followers", "exclude_suspicious", "exclude_businesses"}
    )
    rules = _section(
        raw,
        "rules",
        {
            "require_like",
            "require_comment",
            "require_follow",
            "comment_keywords",
            "min_mentions",
            "window_start",
            "window_end",
            "exclude_replies",
        },
    )
    per_user = raw.get("entries_per_user", "one")
    if per_user not in ENTRIES_PER_USER:
        raise ConfigError("entries_per_user", 'must be "one" or "per_comment"')
    keywords = rules.get("comment_keywords", [])
    if not isinstance(keywords, list | tuple) or not all(isinstance(k, str) for k in keywords):
        raise ConfigError("rules.comment_keywords", "must be a list of strings")
    # Compared with the lowercased text: stored lowercased, NFC, trimmed, each once, sorted.
    normalized = {unicodedata.normalize("NFC", k.strip().lower()) for k in keywords}
    if "" in normalized:
        raise ConfigError("rules.comment_keywords", "a keyword is empty")
    min_followers = filters.get("min_followers")
    window_start = _moment(rules.get("window_start"), "rules.window_start")
    window_end = _moment(rules.get("window_end"), "rules.window_end")
    if window_start is not None and window_end is not None and window_start >= window_end:
        raise ConfigError("rules.window_end", "must be after window_start")
    return DrawConfig(
        winners_count=_int(raw.get("winners_count"), "winners_count", 1),
        alternates_count=_int(raw.get("alternates_count", 3), "alternates_count", 0),
        entries_per_user=per_user,
        min_followers=(
            None if min_followers is None else _int(min_followers, "filters.min_followers", 0)
        ),
        exclude_suspicious=_bool(
            filters.get("exclude_suspicious", False), "filters.exclude_suspicious"
        ),
        exclude_businesses=_bool(
            filters.get("exclude_businesses", False), "filters.exclude_businesses"
        ),
        require_like=_bool(rules.get("require_like", False), "rules.require_like"),
        require_comment=_bool(rules.get("require_comment", False), "rules.require_comment"),
        require_follow=_bool(rules.get("require_follow", False), "rules.require_follow"),
        comment_keywords=tuple(sorted(normalized)),
        min_mentions=_int(rules.get("min_mentions", 0), "rules.min_mentions", 0),
        window_start=window_start,
        window_end=window_end,
        exclude_replies=_bool(rules.get("exclude_replies", True), "rules.exclude_replies"),
    )


def parse_blacklist(raw: Sequence[Mapping[str, Any]]) -> Blacklist:
    items: set[BlacklistItem] = set()
    for number, item in enumerate(raw):
        if not isinstance(item, Mapping) or set(item) != {"platform", "username"}:
            raise ConfigError(f"blacklist[{number}]", "must be {platform, username}")
        platform = item["platform"]
        if platform != "all" and platform not in PLATFORMS:
            raise ConfigError(f"blacklist[{number}].platform", "unknown platform")
        try:
            username = normalize_username(item["username"])
        except ValueError as error:
            raise ConfigError(f"blacklist[{number}].username", str(error)) from None
        items.add(BlacklistItem(platform, username))
    return tuple(sorted(items))


def canonical_blacklist(blacklist: Blacklist) -> list[dict[str, str]]:
    return [{"platform": b.platform, "username": b.username} for b in sorted(set(blacklist))]


def config_sha256(config: DrawConfig, blacklist: Blacklist) -> str:
    document = {"blacklist": canonical_blacklist(blacklist), "config": config.canonical()}
    return hashlib.sha256(canonical_json(document)).hexdigest()


def attestations(config: DrawConfig) -> list[dict[str, str]]:
    """What the draw states about the rules it cannot check itself."""
    stated: list[dict[str, str]] = []
    if config.require_comment:
        stated.append({"rule": "require_comment", "status": "verified_by_entry"})
    if config.require_like:
        stated.append({"rule": "require_like", "status": "self_declared_checked_by_host"})
    if config.require_follow:
        stated.append({"rule": "require_follow", "status": "self_declared_checked_by_host"})
    return stated


# --- evaluation ---------------------------------------------------------------------------


def has_words(text: str) -> bool:
    """Whether `text`, its @mentions removed, holds a letter or a digit (category L* or N*)."""
    return any(unicodedata.category(c)[0] in "LN" for c in MENTION.sub("", text))


def is_suspicious(username: str, text: str, followers: int | None, verified: bool | None) -> bool:
    if verified is True:
        return False
    if SUSPICIOUS_USERNAME.fullmatch(username):
        return True
    return followers == 0 and not has_words(text)


@dataclass
class Evaluation:
    reasons: dict[int, str] = field(default_factory=dict)  # index -> reason code
    eligible: list[int] = field(default_factory=list)  # ascending

    @cached_property
    def excluded(self) -> list[tuple[int, str]]:
        return sorted(self.reasons.items())

    def counts(self) -> dict[str, int]:
        tally = Counter(self.reasons.values())
        return {code: tally.get(code, 0) for code in REASONS}


def evaluate(table: EntryTable, config: DrawConfig, blacklist: Blacklist) -> Evaluation:
    """Which entries are excluded and why; see the module docstring for the rules.

    Rule by rule over whole columns, in C loops (`map` of builtins, `compress`); the reasons
    are then recorded from the last rule to the first, each overwriting those after it, so
    an entry keeps the first rule in `REASONS` order that excludes it."""
    everyone = range(len(table))
    failing: list[tuple[str, list[int]]] = []  # (reason, entries) in REASONS order

    def rule(code: str, mask: Iterable[object]) -> None:
        failing.append((code, list(compress(everyone, mask))))

    banned = {(b.platform, b.username) for b in blacklist if b.platform != "all"}
    banned |= {(p, b.username) for b in blacklist if b.platform == "all" for p in PLATFORMS}
    if banned:
        pairs = zip(table.platform, table.username, strict=True)
        rule("blacklisted", map(banned.__contains__, pairs))
    created = table.created_at
    if config.window_start is not None:
        rule("outside_window", map(config.window_start.__gt__, created))
    if config.window_end is not None:
        rule("outside_window", map(config.window_end.__le__, created))
    if config.exclude_replies:
        rule("reply", map(operator.is_not, table.parent_id, repeat(None)))
    if config.comment_keywords:
        # Any keyword as a substring: one alternation of literals, searched in C.
        pattern = re.compile("|".join(map(re.escape, config.comment_keywords)))
        found = map(pattern.search, map(str.lower, table.text))
        rule("missing_keyword", map(operator.is_, found, repeat(None)))
    if config.min_mentions:
        own = map(operator.contains, table.mentions, table.username)
        mentioned = map(operator.sub, map(len, table.mentions), own)
        rule("too_few_mentions", map(config.min_mentions.__gt__, mentioned))
    minimum = config.min_followers
    if minimum is not None:
        followers = table.followers
        rule("followers_unknown", map(operator.is_, followers, repeat(None)))
        rule("below_min_followers", [f is not None and f < minimum for f in followers])
    if config.exclude_businesses:
        rule("business_account", map(operator.is_, table.is_business, repeat(True)))
    if config.exclude_suspicious:
        failing.append(("suspicious", _suspicious(table)))
    reasons: dict[int, str] = {}
    for code, indices in reversed(failing):
        reasons.update(dict.fromkeys(indices, code))
    if config.entries_per_user == "one":
        reasons.update(dict.fromkeys(_later_entries_of_users(table, reasons), "duplicate_user"))
    return Evaluation(reasons, list(filterfalse(reasons.__contains__, everyone)))


def _suspicious(table: EntryTable) -> list[int]:
    everyone = range(len(table))
    # The two ways to be suspicious each narrow the entries in C; the rest is per candidate.
    by_name = compress(everyone, map(SUSPICIOUS_USERNAME.fullmatch, table.username))
    silent = compress(everyone, map(operator.eq, table.followers, repeat(0)))
    username, text, followers, verified = (
        table.username,
        table.text,
        table.followers,
        table.is_verified,
    )
    return [
        i
        for i in sorted(set(by_name) | set(silent))
        if is_suspicious(username[i], text[i], followers[i], verified[i])
    ]


def _later_entries_of_users(table: EntryTable, reasons: dict[int, str]) -> list[int]:
    """The entries, among those still eligible, of users who have an earlier one."""
    remaining = list(filterfalse(reasons.__contains__, range(len(table))))
    platform, user_id = table.platform, table.platform_user_id
    users = list(
        zip(map(platform.__getitem__, remaining), map(user_id.__getitem__, remaining), strict=True)
    )
    tally = Counter(users)
    if len(tally) == len(users):  # nobody commented twice
        return []
    repeated = set(compress(tally.keys(), map(operator.lt, repeat(1), tally.values())))
    created, comment_id = table.created_at, table.comment_id
    by_user: dict[tuple[str, str], list[int]] = {}
    pairs = zip(remaining, users, strict=True)
    for index, user in compress(pairs, map(repeated.__contains__, users)):
        by_user.setdefault(user, []).append(index)
    later: list[int] = []
    for indices in by_user.values():
        indices.sort(key=lambda i: (created[i], comment_id[i]))
        later.extend(indices[1:])
    return later
