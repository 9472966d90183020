"""The entries of a draw as a table: canonical lines plus one column per field.

Everything about a million entries is done column by column, with the loops in C wherever
Python has one (`map` over a builtin, `set`, `zip`, `str.join`, a regex over a joined
column): Python code run once per entry costs about a microsecond a statement, which is
seconds at that size. The cyclic garbage collector is paused meanwhile (`gc_paused`).

Three ways in, one result, each checked the same way (`check_columns`, the sort order):

* `EntryTable.from_entries(entries)`: `Entry` objects (sorted here);
* `EntryTable.from_rows(rows)`: `Row` tuples of normalized values (the bulk path);
* `parse_entries(data)` / `EntryTable.from_lines(lines)`: an ENTRIES file, each of whose
  lines must be byte for byte the canonical line of the values it holds.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cached_property
from itertools import chain, compress, count, islice
from typing import Any, Final

from creatorhub.giveaways.proof.canonical import (
    FIELDS,
    MAX_SAFE_INTEGER,
    PLATFORMS,
    TIMESTAMP,
    Entry,
    EntryError,
    format_lines,
    gc_paused,
    sort_entries,
)
from creatorhub.giveaways.proof.merkle import merkle_root

Columns = tuple[Sequence[Any], ...]
_NONE: Final = type(None)
# Lines parsed or formatted at a time (see `_parse_chunk`).
CHUNK: Final = 1 << 16
# `canonical._BAD_USERNAME_CHAR` but "\n": a normalized username never contains one, so a
# column joined with "\n" is checked in one pass.
_BAD_IN_JOINED: Final = re.compile(r"[^\S\n]|[@\x00-\x09\x0b-\x1f\x7f]")
# The bytes an ASCII username may hold, and "\n": deleting them leaves only the bad ones.
_GOOD_ASCII: Final = bytes(b for b in range(0x21, 0x7F) if b != ord("@")) + b"\n"


class EntryTable:
    """Entries in ENTRIES order. `lines`: canonical lines (bytes, no `\\n`); `columns`: one
    sequence per field in `FIELDS` order (also as attributes: `table.username`...)."""

    def __init__(self, lines: list[bytes], columns: Columns) -> None:
        self.lines = lines
        self.columns = columns
        (
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
        ) = columns

    def __len__(self) -> int:
        return len(self.lines)

    def entry(self, index: int) -> Entry:
        values = [column[index] for column in self.columns]
        values[6] = tuple(values[6])
        return Entry(*values)

    def user(self, index: int) -> tuple[str, str]:
        """Who wrote entry `index`: (platform, platform_user_id). A user is their platform id,
        not their username, which they can change."""
        return (self.platform[index], self.platform_user_id[index])

    @cached_property
    def file_bytes(self) -> bytes:
        """The ENTRIES file."""
        return b"\n".join(self.lines) + b"\n" if self.lines else b""

    @cached_property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.file_bytes).digest()

    @cached_property
    def root(self) -> bytes:
        return merkle_root(self.lines)

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]]) -> EntryTable:
        """From `Row`-shaped tuples of normalized values, sorted here if they are not."""
        with gc_paused():
            try:
                columns: Columns = tuple(zip(*rows, strict=True)) or tuple(() for _ in FIELDS)
            except ValueError:  # rows of different lengths
                columns = ()
            if len(columns) != len(FIELDS):
                raise EntryError("row", f"each row has {len(FIELDS)} values, in FIELDS order")
            check_columns(columns)
            if _first_unsorted(columns) is not None:
                platform, comment_id = columns[8], columns[0]
                order = sorted(range(len(platform)), key=lambda i: (platform[i], comment_id[i]))
                columns = tuple(tuple(map(column.__getitem__, order)) for column in columns)
                _check_sorted(columns)
            lines: list[bytes] = []
            for start in range(0, len(columns[0]), CHUNK):  # a chunk's text is then reused
                chunk = [column[start : start + CHUNK] for column in columns]
                lines.extend(map(str.encode, format_lines(chunk)))
        return cls(lines, columns)

    @classmethod
    def from_entries(cls, entries: Iterable[Entry]) -> EntryTable:
        return cls.from_rows([entry.row() for entry in sort_entries(entries)])

    @classmethod
    def from_lines(cls, lines: list[bytes]) -> EntryTable:
        """From canonical lines in ENTRIES order (an ENTRIES file split at its `\\n`s)."""
        if b"" in lines:
            raise EntryError("line", f"line {lines.index(b'') + 1} is empty")
        with gc_paused():
            columns: tuple[list[Any], ...] = tuple([] for _ in FIELDS)
            for start in range(0, len(lines), CHUNK):
                part = _parse_chunk(lines[start : start + CHUNK])
                for column, values in zip(columns, part, strict=True):
                    column.extend(values)
            check_columns(columns)
            _check_sorted(columns)
            # Whatever a line holds beyond these values (another key, another key order, a
            # float, spacing, an escape JSON does not require) makes it differ from their
            # canonical line; a line holding two objects too. So: byte for byte.
            for start in range(0, len(lines), CHUNK):
                chunk = [column[start : start + CHUNK] for column in columns]
                canonical = list(map(str.encode, format_lines(chunk)))
                if canonical != lines[start : start + CHUNK]:
                    first = next(i for i, line in enumerate(canonical) if line != lines[start + i])
                    raise EntryError("line", f"line {start + first + 1} is not in canonical form")
        # Tuples of strings and numbers drop out of the garbage collector's sight after its
        # first pass over them; lists stay in it, a million items scanned at every full pass.
        return cls(lines, tuple(map(tuple, columns)))


def _parse_chunk(lines: list[bytes]) -> Columns:
    """The columns of some lines, parsed with one json.loads as an array (a call per line
    costs more: each decodes anew, keys included). A chunk at a time: its dicts, the heaviest
    objects here, are freed before the next chunk's are made, which then reuse their memory
    (fresh memory is what costs most at this size); and one emoji makes Python hold the text
    of its whole chunk at 4 bytes a character, not that of the whole file."""
    try:
        values = json.loads((b"[" + b",".join(lines) + b"]").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EntryError("line", f"not JSON lines: {error}") from None
    # "{...},{...}" on one line parses, but not as one value per line.
    if len(values) != len(lines) or not all(type(value) is dict for value in values):
        raise EntryError("line", "each line must be one JSON object")
    try:
        rows = list(map(operator.itemgetter(*FIELDS), values))
    except KeyError as error:
        raise EntryError(str(error.args[0]), "is missing from a line") from None
    return tuple(zip(*rows, strict=True)) or tuple(() for _ in FIELDS)


def parse_entries(data: bytes) -> EntryTable:
    """An ENTRIES file's table; `EntryError` if it is not exactly one."""
    if not data:
        return EntryTable.from_lines([])
    if not data.endswith(b"\n"):
        raise EntryError("line", "the file must end with a newline")
    lines = data.split(b"\n")
    lines.pop()
    return EntryTable.from_lines(lines)


# --- checks -------------------------------------------------------------------------------


def _sorted(columns: Columns) -> bool:
    """Whether (platform, comment_id) strictly increases, without a tuple per entry: the
    platforms never decrease, and where one repeats, the comment ids increase."""
    platform, comment_id = columns[8], columns[0]
    if not all(map(operator.le, platform, islice(platform, 1, None))):
        return False
    increasing = map(operator.lt, comment_id, islice(comment_id, 1, None))
    return all(compress(increasing, map(operator.eq, platform, islice(platform, 1, None))))


def _first_unsorted(columns: Columns) -> int | None:
    if _sorted(columns):
        return None
    keys = list(zip(columns[8], columns[0], strict=True))
    bad = compress(count(1), map(operator.ge, keys, islice(keys, 1, None)))
    return next(bad, None)


def _check_sorted(columns: Columns) -> None:
    index = _first_unsorted(columns)
    if index is not None:
        raise EntryError(
            "comment_id",
            f"entry {index} ({columns[8][index]}/{columns[0][index]}) is out of order or"
            " repeated: entries are sorted by (platform, comment_id), each once",
        )


def _types(column: Iterable[Any]) -> set[type]:
    return set(map(type, column))


def _require(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise EntryError(field, problem)


def _check_count(column: Sequence[Any], field: str, *, nullable: bool) -> None:
    allowed = {int, _NONE} if nullable else {int}
    _require(_types(column) <= allowed, field, "must be an integer" + (" or null" * nullable))
    known = [v for v in column if v is not None] if nullable else column
    if known:
        _require(
            min(known) >= 0 and max(known) <= MAX_SAFE_INTEGER,
            field,
            f"must be between 0 and {MAX_SAFE_INTEGER}",
        )


def _joined(column: Iterable[Any], field: str) -> str:
    """The strings of `column` joined with "\\n" (str.join refuses anything else: the type
    check comes with the join the caller needs anyway, at no cost of its own)."""
    try:
        return "\n".join(column)
    except TypeError:
        raise EntryError(field, "must be a string") from None


def _check_ids(column: Sequence[Any], field: str) -> None:
    _joined(column, field)
    _require("" not in column, field, "must not be empty")


def check_usernames(names: Sequence[str], field: str) -> None:
    """Each is a normalized username (`normalize_username(name) == name`), checked over the
    column joined into one string: a few passes in C instead of a million calls."""
    joined = _joined(names, field)
    _require("" not in names, field, "must not be empty")
    _require(
        joined.lower() == joined and unicodedata.is_normalized("NFC", joined),
        field,
        "must be normalized (NFC, lowercase)",
    )
    if joined.isascii():  # the usual case: deleting the good bytes is faster than a regex
        bad = joined.encode("ascii").translate(None, _GOOD_ASCII)
        found = bad.decode("ascii")[:1] or None
    else:
        match = _BAD_IN_JOINED.search(joined)
        found = None if match is None else match.group()
    _require(found is None, field, f"contains whitespace, '@' or a control character: {found!r}")


def check_columns(columns: Columns) -> None:
    """The values are those of normalized entries (`EntryError` naming the first bad field)."""
    cid, created, followers, business, verified, likes, mentions, parent, platform = columns[:9]
    user_id, text, username = columns[9:]
    _check_ids(cid, "comment_id")
    _check_ids(user_id, "platform_user_id")
    _require(_types(parent) <= {str, _NONE}, "parent_id", "must be a string or null")
    _require("" not in parent, "parent_id", "must not be empty")
    _joined(platform, "platform")
    _require(set(platform) <= set(PLATFORMS), "platform", f"must be one of {PLATFORMS}")
    _joined(created, "created_at")
    # Each distinct value once: a draw's comments share seconds.
    _require(
        all(map(TIMESTAMP.fullmatch, set(created))), "created_at", "must be YYYY-MM-DDTHH:MM:SSZ"
    )
    _check_count(likes, "likes", nullable=False)
    _check_count(followers, "followers", nullable=True)
    for flags, field in ((business, "is_business"), (verified, "is_verified")):
        _require(_types(flags) <= {bool, _NONE}, field, "must be true, false or null")
    # Joined with "\n", which composes with nothing: NFC of each is NFC of the whole.
    _require(unicodedata.is_normalized("NFC", _joined(text, "text")), "text", "must be NFC")
    check_usernames(username, "username")
    _require(_types(mentions) <= {list, tuple}, "mentions", "must be a list")
    check_usernames(list(chain.from_iterable(mentions)), "mentions")
    several = [m for m in mentions if len(m) > 1]
    # Sorted and each once: sorting the set gives the list back.
    _require(
        list(map(sorted, map(set, several))) == list(map(list, several)),
        "mentions",
        "must be sorted, each once",
    )
