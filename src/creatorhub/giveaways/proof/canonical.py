"""Entries of a draw, and the canonical bytes everything in a proof is hashed from.

An entry is one comment on the giveaway post. Its fields, all present in every line:

* `platform`: instagram | facebook | tiktok | twitter | file
* `comment_id`, `platform_user_id`: non-empty strings (the platform's ids)
* `username`: normalized (`normalize_username`): NFC, trimmed, leading `@`s removed,
  lowercased, then NFC again; never empty, no whitespace, no `@`, no control character
* `text`: NFC
* `created_at`: `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds): compared as strings, which is
  chronological order
* `likes`: integer >= 0; `followers`: integer >= 0 or null (unknown)
* `mentions`: the normalized usernames `@mentioned` in the text (or given by the source),
  each once, sorted
* `is_business`, `is_verified`: true, false or null (unknown)
* `parent_id`: the comment this one replies to, or null

Canonical JSON (`canonical_json`): keys sorted, separators `,` and `:`, no whitespace, UTF-8
with no `\\u` escapes except the control characters JSON requires escaping (`\\n`, `\\"`,
`\\u001f`...: exactly what Python's `json.dumps(ensure_ascii=False)` and JavaScript's
`JSON.stringify` write), integers only and within +-(2**53 - 1) so that a JavaScript verifier
reads them exactly. No floats anywhere: the project has none, and their text forms differ
between languages.

The ENTRIES file is the entries' canonical lines sorted by (platform, comment_id), compared by
code point (= by UTF-8 bytes), each line followed by `\\n`; zero entries is the empty file.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, pairwise
from typing import Any, Final, NamedTuple

PLATFORMS: Final = ("instagram", "facebook", "tiktok", "twitter", "file")
# The canonical key order (sorted), which is also the order of a row's fields.
FIELDS: Final = (
    "comment_id",
    "created_at",
    "followers",
    "is_business",
    "is_verified",
    "likes",
    "mentions",
    "parent_id",
    "platform",
    "platform_user_id",
    "text",
    "username",
)
MAX_SAFE_INTEGER: Final = 2**53 - 1
MAX_DEPTH: Final = 32  # of a canonical JSON document
_NONE: Final = type(None)
TIMESTAMP: Final = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z"
)
# An @handle: ASCII letters, digits, `_` and `.` (every platform's handle alphabet), not
# preceded by a handle character or `@` (so `me@example.com` mentions nobody); the handle
# ends on a letter, digit or `_`, so a sentence's full stop after it is not part of it.
MENTION: Final = re.compile(r"(?<![A-Za-z0-9_.@])@([A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?)")
# What a normalized username cannot contain: whitespace, `@`, control characters.
_BAD_USERNAME_CHAR: Final = re.compile(r"[\s@\x00-\x1f\x7f]")


class EntryError(ValueError):
    """An entry (or a value of the ENTRIES file) is invalid; `field` names what."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True, slots=True)
class Entry:
    comment_id: str
    created_at: str
    followers: int | None
    is_business: bool | None
    is_verified: bool | None
    likes: int
    mentions: tuple[str, ...]
    parent_id: str | None
    platform: str
    platform_user_id: str
    text: str
    username: str

    def row(self) -> Row:
        return Row(
            self.comment_id,
            self.created_at,
            self.followers,
            self.is_business,
            self.is_verified,
            self.likes,
            self.mentions,
            self.parent_id,
            self.platform,
            self.platform_user_id,
            self.text,
            self.username,
        )

    def sort_key(self) -> tuple[str, str]:
        return (self.platform, self.comment_id)


class Row(NamedTuple):
    """An entry as a plain tuple in `FIELDS` order: the bulk form (a million `Entry` objects
    cost seconds to build; tuples from a query or a generator cost nothing more)."""

    comment_id: str
    created_at: str
    followers: int | None
    is_business: bool | None
    is_verified: bool | None
    likes: int
    mentions: Sequence[str]
    parent_id: str | None
    platform: str
    platform_user_id: str
    text: str
    username: str


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: building millions of containers (dicts, lists,
    tuples) otherwise triggers its full passes over all of them, which cost more than the
    building itself. Nothing built here has cycles to collect."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- normalization ------------------------------------------------------------------------


def normalize_username(value: str, field: str = "username") -> str:
    if not isinstance(value, str):
        raise EntryError(field, "must be a string")
    # NFC again after lowercasing: a lowercase mapping can leave a decomposable sequence.
    name = unicodedata.normalize(
        "NFC", unicodedata.normalize("NFC", value).strip().lstrip("@").lower()
    )
    if not name:
        raise EntryError(field, "is empty")
    if _BAD_USERNAME_CHAR.search(name):
        raise EntryError(field, f"{name!r} contains whitespace, '@' or a control character")
    return name


def extract_mentions(text: str) -> tuple[str, ...]:
    return tuple(sorted({m.lower() for m in MENTION.findall(text)}))


def format_timestamp(moment: datetime) -> str:
    """`moment` (timezone-aware) as the canonical UTC string; fractions of a second dropped."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a timestamp must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_timestamp(value: object, field: str) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise EntryError(field, f"{value!r} is not an ISO 8601 timestamp") from None
    else:
        raise EntryError(field, "must be an ISO 8601 string or a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EntryError(field, "has no UTC offset (write 'Z' for UTC)")
    if not 1 <= moment.astimezone(UTC).year <= 9999:
        raise EntryError(field, "is out of range")
    return format_timestamp(moment)


def _id(raw: Mapping[str, Any], field: str, *, optional: bool = False) -> str | None:
    value = raw.get(field)
    if value is None and optional:
        return None
    # Integer ids are accepted as their decimal string (some exports write them as numbers).
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise EntryError(field, "must be a non-empty string")
    return value


def _count(raw: Mapping[str, Any], field: str, *, optional: bool) -> int | None:
    value = raw.get(field)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise EntryError(field, "must be an integer")
    if not 0 <= value <= MAX_SAFE_INTEGER:
        raise EntryError(field, f"must be between 0 and {MAX_SAFE_INTEGER}")
    return value


def _flag(raw: Mapping[str, Any], field: str) -> bool | None:
    value = raw.get(field)
    if value is not None and not isinstance(value, bool):
        raise EntryError(field, "must be true, false or null")
    return value


def normalize_entry(raw: Mapping[str, Any]) -> Entry:
    """An entry from a source's fields (a mapping with `FIELDS` keys; `likes` defaults to 0,
    `text` to "", the unknowns to null, `mentions` to the @handles of the text)."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise EntryError(unknown[0], "is not a field of an entry")
    platform = raw.get("platform")
    if platform not in PLATFORMS:
        raise EntryError("platform", f"must be one of {', '.join(PLATFORMS)}")
    text = raw.get("text", "")
    if not isinstance(text, str):
        raise EntryError("text", "must be a string")
    text = unicodedata.normalize("NFC", text)
    mentions_raw = raw.get("mentions")
    if mentions_raw is None:
        mentions = extract_mentions(text)
    elif isinstance(mentions_raw, list | tuple):
        mentions = tuple(sorted({normalize_username(m, "mentions") for m in mentions_raw}))
    else:
        raise EntryError("mentions", "must be a list of usernames")
    comment_id = _id(raw, "comment_id")
    platform_user_id = _id(raw, "platform_user_id")
    assert comment_id is not None and platform_user_id is not None
    likes = _count(raw, "likes", optional=True)
    return Entry(
        comment_id=comment_id,
        created_at=normalize_timestamp(raw.get("created_at"), "created_at"),
        followers=_count(raw, "followers", optional=True),
        is_business=_flag(raw, "is_business"),
        is_verified=_flag(raw, "is_verified"),
        likes=0 if likes is None else likes,
        mentions=mentions,
        parent_id=_id(raw, "parent_id", optional=True),
        platform=platform,
        platform_user_id=platform_user_id,
        text=text,
        username=normalize_username(raw.get("username")),  # type: ignore[arg-type]
    )


def sort_entries(entries: Iterable[Entry]) -> list[Entry]:
    """The entries in ENTRIES order; the same (platform, comment_id) twice is an error."""
    ordered = sorted(entries, key=Entry.sort_key)
    for before, after in pairwise(ordered):
        if before.sort_key() == after.sort_key():
            raise EntryError("comment_id", f"{after.platform}/{after.comment_id} appears twice")
    return ordered


# --- canonical bytes ----------------------------------------------------------------------

# The C escaper behind json.dumps(ensure_ascii=False): quotes included, control characters as
# JSON requires them; called once per string, it is several times faster than json.dumps.
_escape: Final[Callable[[str], str]] = json.encoder.encode_basestring
_LITERALS: Final = {None: "null", True: "true", False: "false"}
# One entry's line with its values in `FIELDS` order: `%s` receives already encoded JSON.
_LINE: Final = (
    '{"comment_id":%s,"created_at":"%s","followers":%s,"is_business":%s,"is_verified":%s,'
    '"likes":%s,"mentions":[%s],"parent_id":%s,"platform":"%s","platform_user_id":%s,'
    '"text":%s,"username":%s}'
)


_NULL_FOR_NONE: Final = {"None": "null"}


def _mention_arrays(mentions: Sequence[Sequence[str]]) -> list[str]:
    """Each row's mentions as the inside of a JSON array (`"a","b"`). One json.dumps of all
    the rows (`[[...],[...]]`, escaped by the same C encoder), cut at each `],[`: a join per
    row costs three times as much. A mention holding "]" could hold `],[` too: then row by
    row."""
    if not mentions:
        return []
    if "]" in "".join(chain.from_iterable(mentions)):
        return [",".join(map(_escape, m)) for m in mentions]
    encoded = json.dumps(mentions, ensure_ascii=False, separators=(",", ":"))
    return encoded[2:-2].split("],[")


def format_lines(columns: Sequence[Sequence[Any]]) -> list[str]:
    """The canonical lines (without their `\\n`) of entries given column by column in `FIELDS`
    order, whose values are already valid (`table.check_columns`): `created_at` and `platform`
    need no escaping then, and booleans and integers have one spelling.

    Column at a time, so most of the work runs in C (one `%` per line): the same bytes as
    `canonical_json` of each entry's dict, about four times faster."""
    cid, created, followers, business, verified, likes, mentions, parent, platform = columns[:9]
    user_id, text, username = columns[9:]
    literal = _LITERALS.__getitem__
    escape = _escape
    numbers = list(map(str, followers))  # None gives "None", made "null" next
    return list(
        map(
            _LINE.__mod__,
            zip(
                map(escape, cid),
                created,
                map(_NULL_FOR_NONE.get, numbers, numbers),
                map(literal, business),
                map(literal, verified),
                map(str, likes),
                _mention_arrays(mentions),
                ["null" if p is None else escape(p) for p in parent],
                platform,
                map(escape, user_id),
                map(escape, text),
                map(escape, username),
                strict=True,
            ),
        )
    )


def entry_line(entry: Entry) -> bytes:
    """The entry's canonical line, without its `\\n`."""
    return format_lines([[value] for value in entry.row()])[0].encode()


def _check_json_value(value: object) -> None:
    """Refuse what has no canonical form: floats, non-string keys, unsafe integers, other
    types. Level by level over whole lists (a certificate can hold a million exclusions):
    the types of a level are found in C, and only the ints are looked at one by one."""
    level: list[Any] = [value]
    for _depth in range(MAX_DEPTH + 1):
        if not level:
            return
        below: list[Any] = []
        for kind in set(map(type, level)):
            if kind is bool or kind is _NONE or issubclass(kind, str):
                continue
            of_kind: list[Any] = [item for item in level if type(item) is kind]
            if issubclass(kind, int):
                if min(of_kind) < -MAX_SAFE_INTEGER or max(of_kind) > MAX_SAFE_INTEGER:
                    raise ValueError("an integer is beyond what JavaScript reads exactly")
            elif issubclass(kind, dict):
                if not all(isinstance(key, str) for key in chain.from_iterable(of_kind)):
                    raise ValueError("object keys must be strings")
                below.extend(chain.from_iterable(map(dict.values, of_kind)))
            elif issubclass(kind, list | tuple):
                below.extend(chain.from_iterable(of_kind))
            else:
                raise ValueError(f"{kind.__name__} has no canonical JSON form")
        level = below
    # Deeper than any document of the project: a list that contains itself, most likely.
    raise ValueError(f"nested deeper than {MAX_DEPTH} levels")


def canonical_json(value: object) -> bytes:
    """`value`'s canonical JSON bytes (see the module docstring); floats are refused."""
    with gc_paused():
        _check_json_value(value)
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # A lone surrogate cannot be encoded: it raises here instead of producing invalid UTF-8.
    return text.encode("utf-8")


def entries_file(lines: Iterable[bytes]) -> bytes:
    """The ENTRIES file of canonical lines already in order."""
    lines = list(lines)
    return b"\n".join(lines) + b"\n" if lines else b""
