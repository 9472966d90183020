"""A giveaway's entries from an uploaded file: instaloader, Graph API JSON or CSV.

`parse_entries_file(data, filename=..., platform=...)` reads the whole file and returns every
entry (`EntryDict`, a plain dict) or refuses the file as a whole with `ImportRejected`, whose
`problems` (at most `MAX_PROBLEMS`) each name a line, a field and a reason. There is no partial
import: a draw among part of the comments would not be the draw that was announced.

The format is found from the content, the file name as a hint (`.csv`, `.json`):

* **instaloader** `<post>_comments.json` (`Instaloader.update_comments`): a JSON list, written
  with `indent=4`, of `{"id": int, "created_at": int (UNIX seconds, UTC), "text": str,
  "owner": {...}, "likes_count": int, "answers": [...]}`; `owner` is instaloader's `Profile`
  node (`id`, `username`, `is_verified`, `profile_pic_url`, ...; comments fetched through the
  iPhone endpoint carry `id`, `username`, `full_name`, `iphone_struct` instead) and each answer
  has the comment's fields but `answers`. Files of older instaloader versions have no
  `likes_count` (read as 0). Answers become entries whose `parent_id` is their comment's id.
* **Instagram Graph API** `GET /{ig-media-id}/comments`: one answer `{"data": [...],
  "paging": {...}}`, a list of such pages, or a list of comment objects. A comment is `id`,
  `text`, `timestamp` (ISO 8601, `2018-02-22T10:06:05+0000`), `username`, `from` {`id`,
  `username`}, `like_count`, `parent_id`, `replies` {`data`: [...]}. Without `from.id` the
  user id is `username:<username>`; without `like_count` (not requested) the likes are 0.
* **Facebook Graph API** `GET /{post-id}/comments`: the same pages of comments `id`,
  `message`, `created_time`, `from` {`id`, `name`}, `like_count`, `parent` {`id`},
  `message_tags` [{`name`, `type`, ...}], `comments` {`data`: [...]} (replies). `from` is
  required: the Graph API leaves it out unless the export was made with a Page access token,
  and an entry with no author cannot win. The username is `from.name`; mentions are the
  tagged names (lowercased) and any `@handle` in the text.
* **CSV** with a header row: `author`, `text`, `created_at` required; `likes`, `parent_id`,
  `author_id`, `comment_id`, `followers`, `is_business`, `is_verified`, `mentions` optional
  (other columns are ignored; a few other names are taken for these, see `_CSV_ALIASES`).
  Comma, semicolon or tab separated (from the header line), UTF-8 with or without a BOM, or
  UTF-16 with its BOM. No `comment_id`: the first 16 hex digits of SHA-256 of
  `author|created_at|text` (author without `@`, author and created_at trimmed, each as written
  in the file), so importing the same file again gives the same ids.
  No `author_id`: `username:<author>`. Dates: ISO 8601 (a time is required; without an
  offset the time is taken as UTC) or UNIX seconds. Booleans: true/false, yes/no, 1/0 or empty.

Mentions, unless the file gives them: each `@handle` of the text (`[A-Za-z0-9._]{1,30}`, not
inside a word or an e-mail address, a trailing dot dropped), lowercased, each once, in order.

Line numbers: a CSV row's is the physical line where the row starts (a quoted field can span
lines); a JSON value's is the line where the offending value (or, for a missing key, its
object) starts, and `field` is its path in the document (`[12].owner.username`). Line 0 is the
file as a whole (too large, empty).

Speed: the cyclic garbage collector is paused while a file is read (a million entries are
millions of new containers, and its full passes over them cost more than the reading itself):
call this in a worker thread (`asyncio.to_thread`), never on the event loop.

Limits: `MAX_FILE_BYTES`, `MAX_ENTRIES`, `MAX_TEXT_CHARS`. Likes and followers are integers
>= 0; a comment id appearing twice in one file is a problem.
"""

from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypedDict

PLATFORMS: Final = ("instagram", "facebook", "tiktok", "twitter", "file")
MAX_FILE_BYTES: Final = 50 * 1024 * 1024
MAX_ENTRIES: Final = 2_000_000
MAX_TEXT_CHARS: Final = 5_000
MAX_PROBLEMS: Final = 50
# Usernames and ids: far above any platform's, low enough to keep a bad file from passing.
MAX_NAME_CHARS: Final = 255


class EntryDict(TypedDict):
    platform: str
    comment_id: str
    platform_user_id: str
    username: str
    text: str
    created_at: datetime
    likes: int
    mentions: list[str]
    followers: int | None
    is_business: bool | None
    is_verified: bool | None
    parent_id: str | None


@dataclass(frozen=True)
class ImportProblem:
    line: int  # 1-based; 0: the file as a whole
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}{f' ({self.field})' if self.field else ''}: {self.reason}"


class ImportRejected(Exception):
    """The file is refused as a whole. `problems`: the first `MAX_PROBLEMS` found, in file
    order; `truncated`: reading stopped there, the file may have more."""

    def __init__(self, problems: Sequence[ImportProblem], *, truncated: bool = False) -> None:
        self.problems = list(problems)[:MAX_PROBLEMS]
        self.truncated = truncated or len(problems) > MAX_PROBLEMS
        more = " (and maybe more)" if self.truncated else ""
        first = f": {self.problems[0]}" if self.problems else ""
        super().__init__(f"{len(self.problems)} problem(s){more}{first}")


@dataclass(frozen=True)
class ImportResult:
    format: str  # instaloader | instagram_graph | facebook_graph | csv
    platform: str
    entries: list[EntryDict]


# --- shared helpers ----------------------------------------------------------------------------

# Starts with the literal `@` (the lookbehind after it: not preceded by a handle character), so
# `re` jumps from one `@` to the next instead of trying every position: twice as fast.
_MENTION = re.compile(r"@(?<![A-Za-z0-9._@]@)([A-Za-z0-9._]{1,30})(?![A-Za-z0-9._@])")
_HANDLE = re.compile(r"@?([A-Za-z0-9._]{1,30})")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def extract_mentions(text: str) -> list[str]:
    """The `@handle`s of a comment's text, lowercased, each once, in order."""
    if "@" not in text:
        return []
    found: list[str] = _MENTION.findall(text)
    if len(found) == 1:
        handle = found[0].rstrip(".").lower()
        return [handle] if handle else []
    handles = (raw.rstrip(".").lower() for raw in found)
    return list(dict.fromkeys(handle for handle in handles if handle))


def _derived_id(username: str, created_at: str, text: str) -> str:
    return hashlib.sha256(f"{username}|{created_at}|{text}".encode()).hexdigest()[:16]


def _timestamp(value: str) -> datetime | None:
    """An ISO 8601 date and time (UTC if it has no offset) or UNIX seconds (9 digits or more:
    after 1973; fewer is more likely a date like 20250301); None if neither."""
    if not value:
        return None
    try:
        if value.isascii() and value.isdigit():
            return datetime.fromtimestamp(int(value), UTC) if len(value) >= 9 else None
        when = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        return None
    if len(value) <= 10:  # a date alone: no time of day to order entries by
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when if when.tzinfo is UTC else when.astimezone(UTC)


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[len(codecs.BOM_UTF8) :], "utf-8"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        if encoding == "utf-16":
            line = data[: error.start].decode("utf-16", "replace").count("\n") + 1
        else:
            line = data.count(b"\n", 0, error.start) + 1
        bad = data[error.start : error.start + 1].hex()
        raise ImportRejected(
            [ImportProblem(line, None, f"not {encoding.upper()} text (byte 0x{bad})")]
        ) from None


# --- JSON --------------------------------------------------------------------------------------

Path = tuple[str | int, ...]
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _after_ws(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _path_text(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@dataclass
class _Node:
    children: dict[str | int, _Node]
    wanted: bool = False


class _Located(Exception):
    pass


def _value_offsets(text: str, paths: Iterable[Path]) -> dict[Path, int]:
    """Where each path's value starts in `text` (valid JSON), in one pass over the document:
    values off every path are skipped by the C decoder (`raw_decode`)."""
    root = _Node({})
    wanted: set[Path] = set()
    for path in paths:
        node = root
        for key in path:
            node = node.children.setdefault(key, _Node({}))
        node.wanted = True
        wanted.add(path)
    found: dict[Path, int] = {}
    ws = _after_ws
    skip = _DECODER.raw_decode

    def visit(pos: int, node: _Node, path: Path) -> int:
        if node.wanted and path not in found:
            found[path] = pos
            if len(found) == len(wanted):
                raise _Located
        if not node.children or text[pos] not in "[{":
            return skip(text, pos)[1]
        is_object = text[pos] == "{"
        pos = ws(text, pos + 1)
        if text[pos] in "]}":
            return pos + 1
        index = 0
        while True:
            key: str | int = index
            if is_object:
                key, pos = skip(text, pos)
                pos = ws(text, ws(text, pos) + 1)  # past the ':'
            child = node.children.get(key)
            pos = visit(pos, child, (*path, key)) if child else skip(text, pos)[1]
            pos = ws(text, pos)
            if text[pos] != ",":
                return pos + 1
            pos = ws(text, pos + 1)
            index += 1

    try:
        visit(ws(text, 0), root, ())
    except _Located:
        pass
    except (ValueError, IndexError, RecursionError):  # pragma: no cover - text parsed already
        pass
    return found


def _lines_at(text: str, offsets: Iterable[int]) -> dict[int, int]:
    lines: dict[int, int] = {}
    line, last = 1, 0
    for offset in sorted(set(offsets)):
        line += text.count("\n", last, offset)
        lines[offset] = line
        last = offset
    return lines


@dataclass(frozen=True)
class _JsonProblem:
    at: Path  # the value the line is taken from
    field: str | None  # None: the document as a whole
    reason: str


class _JsonReader:
    """Entries from a parsed JSON document; problems keep their path until the end, when
    their lines are looked up in the text all at once."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.entries: list[EntryDict] = []
        self.problems: list[_JsonProblem] = []
        self.first_seen: dict[str, Path] = {}

    @property
    def full(self) -> bool:
        return len(self.problems) >= MAX_PROBLEMS

    def problem(self, at: Path, reason: str, key: str | None = None) -> None:
        path = (*at, key) if key is not None else at
        self.problems.append(_JsonProblem(at, _path_text(path) if path else None, reason))

    # Field readers: each returns the value or None after recording a problem.

    def ident(self, obj: dict[str, Any], key: str, at: Path) -> str | None:
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return str(value)
        if isinstance(value, str) and value.strip() and len(value) <= MAX_NAME_CHARS:
            return value.strip()
        if value is None:
            self.problem(at, f"{key} is missing", key)
        else:
            self.problem((*at, key), f"{key} must be a non-empty string or a number")
        return None

    def name(self, value: Any, at: Path, what: str) -> str | None:
        if isinstance(value, str) and value.strip() and len(value) <= MAX_NAME_CHARS:
            return value.strip()
        if value is None:
            self.problem(at[:-1], f"{what} is missing", str(at[-1]))
        else:
            self.problem(at, f"{what} must be a non-empty string of at most {MAX_NAME_CHARS}")
        return None

    def text(self, obj: dict[str, Any], key: str, at: Path, required: bool) -> str | None:
        value = obj.get(key)
        if value is None and not required:
            return ""
        if value is None:
            self.problem(at, f"{key} is missing", key)
        elif not isinstance(value, str):
            self.problem((*at, key), f"{key} must be a string")
        elif len(value) > MAX_TEXT_CHARS:
            self.problem((*at, key), f"text longer than {MAX_TEXT_CHARS:,} characters")
        else:
            return value
        return None

    def count(self, obj: dict[str, Any], key: str, at: Path) -> int | None:
        value = obj.get(key)
        if value is None:
            return 0
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        self.problem((*at, key), f"{key} must be an integer >= 0")
        return None

    def flag(self, value: Any, at: Path) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self.problem(at, f"{at[-1]} must be true, false or null")
        return None

    def when(self, value: Any, at: Path, key: str) -> datetime | None:
        parsed: datetime | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                parsed = datetime.fromtimestamp(value, UTC)
            except (ValueError, OverflowError, OSError):
                parsed = None
        elif isinstance(value, str):
            parsed = _timestamp(value.strip())
        if parsed is None:
            if value is None:
                self.problem(at, f"{key} is missing", key)
            else:
                self.problem((*at, key), f"{key} is not a date and time: {str(value)[:40]!r}")
        return parsed

    def add_comment(
        self,
        at: Path,
        *,
        comment_id: str,
        user_id: str,
        username: str,
        text: str,
        created: datetime,
        likes: int,
        mentions: list[str],
        verified: bool | None,
        parent: str | None,
    ) -> None:
        """A comment of an API export: the platforms' comment endpoints say nothing of the
        account's followers or business status."""
        entry: EntryDict = {
            "platform": self.platform,
            "comment_id": comment_id,
            "platform_user_id": user_id,
            "username": username,
            "text": text,
            "created_at": created,
            "likes": likes,
            "mentions": mentions,
            "followers": None,
            "is_business": None,
            "is_verified": verified,
            "parent_id": parent,
        }
        self.add(entry, at)

    def add(self, entry: EntryDict, at: Path) -> None:
        first = self.first_seen.get(entry["comment_id"])
        if first is not None:
            self.problem(
                (*at, "id"),
                f"duplicate comment id {entry['comment_id']!r} (first at {_path_text(first)})",
            )
            return
        self.first_seen[entry["comment_id"]] = at
        if len(self.entries) >= MAX_ENTRIES:
            self.problem(at, f"more than {MAX_ENTRIES:,} entries")
            return
        self.entries.append(entry)

    def comment_list(self, value: Any, at: Path, read: _CommentReader, parent: str | None) -> None:
        if not isinstance(value, list):
            self.problem(at, "expected a list of comments")
            return
        for index, item in enumerate(value):
            if self.full:
                return
            where = (*at, index)
            if isinstance(item, dict):
                read(self, item, where, parent)
            else:
                self.problem(where, "expected a comment object")

    # The formats' comments.

    def instaloader_comment(self, c: dict[str, Any], at: Path, parent: str | None) -> None:
        problems = len(self.problems)
        comment_id = self.ident(c, "id", at)
        created = self.when(c.get("created_at"), at, "created_at")
        text = self.text(c, "text", at, required=True)
        likes = self.count(c, "likes_count", at)
        owner = c.get("owner")
        username = user_id = None
        verified: bool | None = None
        if owner is None:
            self.problem(at, "owner is missing", "owner")
        elif not isinstance(owner, dict):
            self.problem((*at, "owner"), "owner must be an object")
        else:
            username = self.name(owner.get("username"), (*at, "owner", "username"), "username")
            user_id = None
            if owner.get("id") is not None:
                user_id = self.ident(owner, "id", (*at, "owner"))
            iphone = owner.get("iphone_struct")
            raw_verified = owner.get("is_verified")
            if raw_verified is None and isinstance(iphone, dict):
                raw_verified = iphone.get("is_verified")
            verified = self.flag(raw_verified, (*at, "owner", "is_verified"))
        if len(self.problems) == problems:
            assert comment_id and created and text is not None and likes is not None
            assert username is not None
            self.add_comment(
                at,
                comment_id=comment_id,
                user_id=user_id or f"username:{username}",
                username=username,
                text=text,
                created=created,
                likes=likes,
                mentions=extract_mentions(text),
                verified=verified,
                parent=parent,
            )
        answers = c.get("answers")
        if answers is not None and comment_id is not None:
            read = _JsonReader.instaloader_comment
            self.comment_list(answers, (*at, "answers"), read, comment_id)

    def instagram_comment(self, c: dict[str, Any], at: Path, parent: str | None) -> None:
        problems = len(self.problems)
        comment_id = self.ident(c, "id", at)
        created = self.when(c.get("timestamp"), at, "timestamp")
        text = self.text(c, "text", at, required=True)
        likes = self.count(c, "like_count", at)
        sender = c.get("from")
        if sender is not None and not isinstance(sender, dict):
            self.problem((*at, "from"), "from must be an object")
            sender = None
        if c.get("username") is not None or not sender:
            username = self.name(c.get("username"), (*at, "username"), "username")
        else:
            username = self.name(sender.get("username"), (*at, "from", "username"), "username")
        user_id = None
        if sender and sender.get("id") is not None:
            user_id = self.ident(sender, "id", (*at, "from"))
        parent_id = parent
        if c.get("parent_id") is not None:
            parent_id = self.ident(c, "parent_id", at)
        if len(self.problems) == problems:
            assert comment_id and created and text is not None and likes is not None
            assert username is not None
            self.add_comment(
                at,
                comment_id=comment_id,
                user_id=user_id or f"username:{username}",
                username=username,
                text=text,
                created=created,
                likes=likes,
                mentions=extract_mentions(text),
                verified=None,
                parent=parent_id,
            )
        replies = c.get("replies")
        if replies is not None and comment_id is not None:
            self.edge(replies, (*at, "replies"), _JsonReader.instagram_comment, comment_id)

    def facebook_comment(self, c: dict[str, Any], at: Path, parent: str | None) -> None:
        problems = len(self.problems)
        comment_id = self.ident(c, "id", at)
        created = self.when(c.get("created_time"), at, "created_time")
        text = self.text(c, "message", at, required=False)
        likes = self.count(c, "like_count", at)
        sender = c.get("from")
        username = user_id = None
        if sender is None:
            reason = "from is missing: the Graph API returns the commenter only to a Page token"
            self.problem(at, reason, "from")
        elif not isinstance(sender, dict):
            self.problem((*at, "from"), "from must be an object")
        else:
            username = self.name(sender.get("name"), (*at, "from", "name"), "from.name")
            user_id = self.ident(sender, "id", (*at, "from"))
        parent_id = parent
        parent_ref = c.get("parent")
        if isinstance(parent_ref, dict) and parent_ref.get("id") is not None:
            parent_id = self.ident(parent_ref, "id", (*at, "parent"))
        mentions: list[str] = []
        tags = c.get("message_tags")
        if isinstance(tags, list):
            for tag in tags:
                if (
                    isinstance(tag, dict)
                    and isinstance(tag.get("name"), str)
                    and tag.get("type") in (None, "user", "page")
                ):
                    mentions.append(tag["name"].strip().lower())
        if len(self.problems) == problems:
            assert comment_id and created and text is not None and likes is not None
            assert username is not None and user_id is not None
            for handle in extract_mentions(text):
                mentions.append(handle)
            self.add_comment(
                at,
                comment_id=comment_id,
                user_id=user_id,
                username=username,
                text=text,
                created=created,
                likes=likes,
                mentions=list(dict.fromkeys(m for m in mentions if m)),
                verified=None,
                parent=parent_id,
            )
        replies = c.get("comments")
        if replies is not None and comment_id is not None:
            self.edge(replies, (*at, "comments"), _JsonReader.facebook_comment, comment_id)

    def edge(self, value: Any, at: Path, read: _CommentReader, parent: str | None) -> None:
        """A Graph API edge (`{"data": [...], "paging": ...}`) or a bare list of comments."""
        if isinstance(value, dict):
            if "data" not in value:
                self.problem(at, 'expected {"data": [...]}', "data")
                return
            self.comment_list(value["data"], (*at, "data"), read, parent)
        else:
            self.comment_list(value, at, read, parent)


_CommentReader = Callable[[_JsonReader, dict[str, Any], Path, str | None], None]


def _graph_flavour(pages: list[tuple[Any, Path]]) -> str:
    for page, _ in pages:
        data = page.get("data") if isinstance(page, dict) else page
        if isinstance(data, list):
            for comment in data:
                if isinstance(comment, dict):
                    if "created_time" in comment or "message" in comment:
                        return "facebook"
                    return "instagram"
    return "instagram"


def _parse_json(text: str, platform: str | None) -> ImportResult:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        reason = f"invalid JSON: {error.msg} (column {error.colno})"
        raise ImportRejected([ImportProblem(error.lineno, None, reason)]) from None
    except RecursionError:
        raise ImportRejected([ImportProblem(1, None, "JSON nested too deeply")]) from None

    first = doc[0] if isinstance(doc, list) and doc else None
    layout: str | None = None
    if isinstance(doc, dict):
        if "data" in doc:
            layout = "graph_pages"
        elif "error" in doc:
            raise ImportRejected(
                [ImportProblem(1, "error", "this is a Graph API error answer, not comments")]
            )
    elif isinstance(doc, list) and not doc:
        raise ImportRejected([ImportProblem(1, None, "the file has no entries")])
    elif isinstance(first, dict):
        if "data" in first and isinstance(first.get("data"), list):
            layout = "graph_pages"
        elif {"owner", "answers", "likes_count", "created_at"} & first.keys():
            layout = "instaloader"
        elif {"timestamp", "created_time", "message", "text"} & first.keys():
            layout = "graph_comments"
    if layout is None:
        raise ImportRejected(
            [
                ImportProblem(
                    1,
                    None,
                    "unrecognised JSON: expected an instaloader _comments.json or Graph API "
                    "/comments answer(s)",
                )
            ]
        )

    if layout == "instaloader":
        fmt, detected = "instaloader", "instagram"
    else:
        pages: list[tuple[Any, Path]]
        if layout == "graph_comments" or isinstance(doc, dict):
            pages = [(doc, ())]
        else:
            pages = [(page, (index,)) for index, page in enumerate(doc)]
        detected = _graph_flavour(pages)
        fmt = f"{detected}_graph"

    reader = _JsonReader(detected)
    if platform not in (None, "file", detected):
        reader.problem((), f"this {fmt} file holds {detected} comments, not {platform}", "platform")
    elif layout == "instaloader":
        reader.comment_list(doc, (), _JsonReader.instaloader_comment, None)
    else:
        read = _JsonReader.instagram_comment
        if detected == "facebook":
            read = _JsonReader.facebook_comment
        for page, at in pages:
            if reader.full:
                break
            if layout == "graph_comments":
                reader.comment_list(page, at, read, None)
            elif not isinstance(page, dict):
                reader.problem(at, 'expected a Graph API page {"data": [...]}')
            else:
                reader.edge(page, at, read, None)

    if not reader.problems and not reader.entries:
        reader.problem((), "the file has no entries")
    if reader.problems:
        shown = reader.problems[:MAX_PROBLEMS]
        offsets = _value_offsets(text, (p.at for p in shown))
        lines = _lines_at(text, offsets.values())
        problems = [
            ImportProblem(lines.get(offsets.get(p.at, 0), 1), p.field, p.reason) for p in shown
        ]
        raise ImportRejected(problems, truncated=reader.full)
    return ImportResult(fmt, detected, reader.entries)


# --- CSV ---------------------------------------------------------------------------------------

_CSV_COLUMNS: Final = (
    "author",
    "text",
    "created_at",
    "likes",
    "parent_id",
    "author_id",
    "comment_id",
    "followers",
    "is_business",
    "is_verified",
    "mentions",
)
_CSV_REQUIRED: Final = ("author", "text", "created_at")
_CSV_ALIASES: Final = {
    "username": "author",
    "user": "author",
    "comment": "text",
    "message": "text",
    "timestamp": "created_at",
    "date": "created_at",
    "like_count": "likes",
    "likes_count": "likes",
    "user_id": "author_id",
    "id": "comment_id",
    "reply_to": "parent_id",
}
_MENTION_SPLIT = re.compile(r"[\s,;|]+")


def _column_name(header: str) -> str:
    name = re.sub(r"[\s\-]+", "_", header.strip().lower())
    return _CSV_ALIASES.get(name, name)


def _parse_csv(text: str, platform: str | None) -> ImportResult:
    header_line = text[: text.find("\n")]  # (-1: no newline, the last character is dropped)
    delimiter = max((",", ";", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    problems: list[ImportProblem] = []

    def reject(line: int, field: str | None, reason: str) -> ImportRejected:
        return ImportRejected([*problems, ImportProblem(line, field, reason)])

    try:
        header = next(reader)
        while not any(cell.strip() for cell in header):  # blank lines before the header
            header = next(reader)
    except StopIteration:
        raise reject(0, None, "the file is empty") from None
    except csv.Error as error:
        raise reject(reader.line_num, None, f"unreadable CSV: {error}") from None
    header_at = reader.line_num
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = _column_name(cell)
        if name not in _CSV_COLUMNS:
            continue
        if name in columns:
            problems.append(ImportProblem(header_at, name, "column given twice"))
        columns[name] = index
    for name in _CSV_REQUIRED:
        if name not in columns:
            problems.append(ImportProblem(header_at, name, f"missing column {name!r}"))
    if problems:
        raise ImportRejected(problems)

    platform = platform or "file"
    width = len(header)
    i_author, i_text, i_created = columns["author"], columns["text"], columns["created_at"]
    i_likes = columns.get("likes")
    i_parent = columns.get("parent_id")
    i_author_id = columns.get("author_id")
    i_comment_id = columns.get("comment_id")
    i_followers = columns.get("followers")
    i_business = columns.get("is_business")
    i_verified = columns.get("is_verified")
    i_mentions = columns.get("mentions")
    entries: list[EntryDict] = []
    append = entries.append
    first_line: dict[str, int] = {}
    parse_when = _timestamp
    from_iso = datetime.fromisoformat
    mentions_of = extract_mentions
    derived_id = _derived_id
    true, false = _TRUE, _FALSE

    def count(value: str, line: int, field: str) -> int | None:
        value = value.strip()
        if value.isascii() and value.isdigit():
            return int(value)
        problems.append(ImportProblem(line, field, f"{field} must be an integer >= 0: {value!r}"))
        return None

    def flag(value: str, line: int, field: str) -> bool | None:
        value = value.strip().lower()
        if not value:
            return None
        if value in true:
            return True
        if value in false:
            return False
        problems.append(ImportProblem(line, field, f"{field} must be true or false: {value!r}"))
        return None

    def listed_mentions(value: str, line: int) -> list[str] | None:
        handles: list[str] = []
        for item in _MENTION_SPLIT.split(value.strip()):
            match = _HANDLE.fullmatch(item)
            if match is None:
                problems.append(ImportProblem(line, "mentions", f"not a username: {item[:40]!r}"))
                return None
            handle = match.group(1).lower()
            if handle not in handles:
                handles.append(handle)
        return handles

    last_line = header_at
    truncated = False
    try:
        for row in reader:
            line = last_line + 1
            last_line = reader.line_num
            if len(row) != width:
                if not any(cell.strip() for cell in row):
                    continue  # a blank line
                if len(row) < width or any(cell.strip() for cell in row[width:]):
                    problems.append(
                        ImportProblem(line, None, f"expected {width} fields, found {len(row)}")
                    )
                    if len(problems) >= MAX_PROBLEMS:
                        truncated = True
                        break
                    continue
            bad = len(problems)
            author = row[i_author].strip()
            if author[:1] == "@":
                author = author[1:]
            if not author or len(author) > MAX_NAME_CHARS:
                if not any(cell.strip() for cell in row):
                    continue  # a line of empty cells (spreadsheets end with some)
                problems.append(ImportProblem(line, "author", "author is empty or too long"))
            body = row[i_text]
            if len(body) > MAX_TEXT_CHARS:
                problems.append(
                    ImportProblem(line, "text", f"text longer than {MAX_TEXT_CHARS:,} characters")
                )
            raw_when = row[i_created].strip()
            created: datetime | None
            try:  # the common case, an ISO time in UTC, without `_timestamp`'s call
                created = from_iso(raw_when)
                if created.tzinfo is not UTC or len(raw_when) <= 10:
                    created = parse_when(raw_when)
            except ValueError:
                created = parse_when(raw_when)
            if created is None:
                problems.append(
                    ImportProblem(line, "created_at", f"not a date and time: {raw_when[:40]!r}")
                )
            likes: int | None = 0
            if i_likes is not None:
                value = row[i_likes]
                if value.isdigit() and value.isascii():
                    likes = int(value)
                elif value.strip():
                    likes = count(value, line, "likes")
            followers = None
            if i_followers is not None and row[i_followers].strip():
                followers = count(row[i_followers], line, "followers")
            is_business = (
                flag(row[i_business], line, "is_business") if i_business is not None else None
            )
            is_verified = (
                flag(row[i_verified], line, "is_verified") if i_verified is not None else None
            )
            parent_id = (row[i_parent].strip() or None) if i_parent is not None else None
            user_id = row[i_author_id].strip() if i_author_id is not None else ""
            comment_id = row[i_comment_id].strip() if i_comment_id is not None else ""
            if len(comment_id) > MAX_NAME_CHARS or len(user_id) > MAX_NAME_CHARS:
                problems.append(ImportProblem(line, None, "comment_id or author_id too long"))
            mentions: list[str] | None = None
            if i_mentions is not None and row[i_mentions].strip():
                mentions = listed_mentions(row[i_mentions], line)
            if len(problems) != bad:
                if len(problems) >= MAX_PROBLEMS:
                    truncated = True
                    break
                continue
            assert created is not None and likes is not None
            if not comment_id:
                comment_id = derived_id(author, raw_when, body)
            first = first_line.get(comment_id)
            if first is not None:
                problems.append(
                    ImportProblem(
                        line, "comment_id", f"duplicate comment id {comment_id!r} (line {first})"
                    )
                )
                if len(problems) >= MAX_PROBLEMS:
                    truncated = True
                    break
                continue
            first_line[comment_id] = line
            if mentions is None:
                mentions = mentions_of(body) if "@" in body else []
            if len(entries) >= MAX_ENTRIES:
                problems.append(ImportProblem(line, None, f"more than {MAX_ENTRIES:,} entries"))
                truncated = True
                break
            append(
                {
                    "platform": platform,
                    "comment_id": comment_id,
                    "platform_user_id": user_id or f"username:{author}",
                    "username": author,
                    "text": body,
                    "created_at": created,
                    "likes": likes,
                    "mentions": mentions,
                    "followers": followers,
                    "is_business": is_business,
                    "is_verified": is_verified,
                    "parent_id": parent_id,
                }
            )
    except csv.Error as error:
        problems.append(ImportProblem(last_line + 1, None, f"unreadable CSV: {error}"))
        truncated = True  # the reader cannot go on past a broken record
    if problems:
        raise ImportRejected(problems, truncated=truncated)
    if not entries:
        raise ImportRejected([ImportProblem(0, None, "the file has no entries")])
    return ImportResult("csv", platform, entries)


# --- entry point -------------------------------------------------------------------------------


def parse_entries_file(data: bytes, *, filename: str, platform: str | None) -> ImportResult:
    """Every entry of an uploaded file, or `ImportRejected` with the file's problems.

    `platform`: the post's platform when the caller knows it. A JSON export names its own
    platform, which its entries keep: another one is a problem, but `file` (a draw among an
    uploaded file's entries) takes any. CSV entries take `platform`, or `file` without one."""
    if platform is not None and platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}")
    if len(data) > MAX_FILE_BYTES:
        reason = f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
        raise ImportRejected([ImportProblem(0, None, reason)])
    collecting = gc.isenabled()
    gc.disable()
    try:
        text = _decode(data)
        start = _after_ws(text, 0)
        begins = text[start : start + 1]
        if not begins:
            raise ImportRejected([ImportProblem(0, None, "the file is empty")])
        name = filename.lower()
        if name.endswith((".csv", ".tsv", ".txt")):
            return _parse_csv(text, platform)
        if name.endswith(".json") or begins in "[{":
            return _parse_json(text, platform)
        return _parse_csv(text, platform)
    finally:
        if collecting:
            gc.enable()
