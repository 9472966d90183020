"""Giveaway entry files: instaloader, Graph API (Instagram, Facebook) and CSV; no database."""

from __future__ import annotations

import codecs
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from creatorhub.giveaways import imports
from creatorhub.giveaways.imports import (
    ImportProblem,
    ImportRejected,
    extract_mentions,
    parse_entries_file,
)

T0 = 1_740_823_200  # 2025-03-01T10:00:00Z


def rejected(data: bytes | str, filename: str = "x", platform: str | None = None) -> list[Any]:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(ImportRejected) as refused:
        parse_entries_file(raw, filename=filename, platform=platform)
    return [(p.line, p.field, p.reason) for p in refused.value.problems]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line containing `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


# --- mentions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("no mention", []),
        ("@Ana_22 and @bob.x!", ["ana_22", "bob.x"]),
        ("thanks @bob.", ["bob"]),
        ("@Bob @bob @BOB", ["bob"]),
        ("mail me@example.com", []),
        ("@@twice", []),
        ("(@paren)", ["paren"]),
        ("@" + "a" * 30, ["a" * 30]),
        ("@" + "a" * 31, []),
        ("@...", []),
        ("é@accent", ["accent"]),
    ],
)
def test_mentions(text: str, mentions: list[str]) -> None:
    assert extract_mentions(text) == mentions


# --- instaloader -------------------------------------------------------------------------------


def owner(n: int, *, verified: bool = False) -> dict[str, Any]:
    return {
        "id": str(4_000_000_000 + n),
        "is_verified": verified,
        "profile_pic_url": f"https://scontent.cdninstagram.com/v/t51.2885-19/{n}_n.jpg",
        "username": f"fan.{n}",
    }


def instaloader_doc() -> list[dict[str, Any]]:
    """A post's comments as `Instaloader.update_comments` writes them: newest first, answers
    newest first, ids as numbers."""
    return [
        {
            "id": 18_030_000_000_000_003,
            "created_at": T0 + 300,
            "text": "Count me in! @Best.Friend @other_pal",
            "owner": owner(3, verified=True),
            "likes_count": 4,
            "answers": [
                {
                    "id": 18_030_000_000_000_005,
                    "created_at": T0 + 400,
                    "text": "@fan.3 good luck",
                    "owner": owner(5),
                    "likes_count": 0,
                },
                {
                    "id": 18_030_000_000_000_004,
                    "created_at": T0 + 350,
                    "text": "me too",
                    "owner": owner(4),
                    "likes_count": 1,
                },
            ],
        },
        {
            "id": 18_030_000_000_000_001,
            "created_at": T0,
            "text": "🎉🎉",
            "owner": owner(1),
            "likes_count": 0,
            "answers": [],
        },
    ]


def dump(doc: Any) -> str:
    return json.dumps(doc, indent=4)


def test_instaloader_comments_and_answers() -> None:
    result = parse_entries_file(
        dump(instaloader_doc()).encode(), filename="CxYz_comments.json", platform=None
    )
    assert (result.format, result.platform) == ("instaloader", "instagram")
    first, answer, _, last = result.entries
    assert first == {
        "platform": "instagram",
        "comment_id": "18030000000000003",
        "platform_user_id": "4000000003",
        "username": "fan.3",
        "text": "Count me in! @Best.Friend @other_pal",
        "created_at": datetime(2025, 3, 1, 10, 5, tzinfo=UTC),
        "likes": 4,
        "mentions": ["best.friend", "other_pal"],
        "followers": None,
        "is_business": None,
        "is_verified": True,
        "parent_id": None,
    }
    assert answer["parent_id"] == "18030000000000003"
    assert answer["mentions"] == ["fan.3"]
    assert answer["is_verified"] is False
    assert last["parent_id"] is None
    assert [e["comment_id"][-1] for e in result.entries] == ["3", "5", "4", "1"]


def test_instaloader_iphone_owner_and_old_files() -> None:
    doc = [
        {
            "id": "17900000000000001",
            "created_at": T0,
            "text": "hi",
            "owner": {
                "id": 123,
                "username": "phone.user",
                "is_private": False,
                "full_name": "Phone User",
                "profile_pic_url_hd": "https://scontent.example/x.jpg",
                "iphone_struct": {"pk": 123, "username": "phone.user", "is_verified": True},
            },
            # no likes_count: instaloader before it wrote one
        }
    ]
    (entry,) = parse_entries_file(dump(doc).encode(), filename="a.json", platform=None).entries
    assert (entry["platform_user_id"], entry["is_verified"], entry["likes"]) == ("123", True, 0)


def test_instaloader_problems_have_lines_and_paths() -> None:
    doc = instaloader_doc()
    doc[0]["answers"][1]["owner"]["username"] = 42
    doc[0]["answers"][0]["owner"]["is_verified"] = "yes"
    doc[0]["likes_count"] = -1
    del doc[1]["owner"]
    doc[1]["created_at"] = "yesterday"
    text = dump(doc)
    problems = rejected(text, "p_comments.json")
    assert problems == [
        (
            line_of(text, '"likes_count": -1'),
            "[0].likes_count",
            "likes_count must be an integer >= 0",
        ),
        (
            line_of(text, '"is_verified": "yes"'),
            "[0].answers[0].owner.is_verified",
            "is_verified must be true, false or null",
        ),
        (
            line_of(text, '"username": 42'),
            "[0].answers[1].owner.username",
            f"username must be a non-empty string of at most {imports.MAX_NAME_CHARS}",
        ),
        (
            line_of(text, '"created_at": "yesterday"'),
            "[1].created_at",
            "created_at is not a date and time: 'yesterday'",
        ),
        # A missing key: the line of its object.
        (line_of(text, '"id": 18030000000000001') - 1, "[1].owner", "owner is missing"),
    ]


def test_json_duplicates_text_length_and_platform() -> None:
    doc = instaloader_doc()
    doc[1]["id"] = doc[0]["answers"][0]["id"]
    doc[0]["text"] = "x" * (imports.MAX_TEXT_CHARS + 1)
    text = dump(doc)
    assert rejected(text, "c.json") == [
        (
            line_of(text, '"text": "xxx'),
            "[0].text",
            f"text longer than {imports.MAX_TEXT_CHARS:,} characters",
        ),
        (
            line_of(text, '"id": 18030000000000005', 2),
            "[1].id",
            "duplicate comment id '18030000000000005' (first at [0].answers[0])",
        ),
    ]
    good = dump(instaloader_doc())
    assert rejected(good, "c.json", platform="tiktok") == [
        (1, "platform", "this instaloader file holds instagram comments, not tiktok")
    ]
    for platform in ("instagram", "file"):
        result = parse_entries_file(good.encode(), filename="c.json", platform=platform)
        assert {e["platform"] for e in result.entries} == {"instagram"}


def test_invalid_json_has_the_error_line() -> None:
    text = dump(instaloader_doc()).replace('"likes_count": 4,', '"likes_count": 4,,')
    ((line, field, reason),) = rejected(text, "c.json")
    assert (line, field) == (line_of(text, ",,"), None)
    assert reason.startswith("invalid JSON: Expecting property name")


# --- Graph API ---------------------------------------------------------------------------------


def ig_comment(n: int, text: str, *, replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    comment: dict[str, Any] = {
        "id": str(17_850_000_000_000_000 + n),
        "text": text,
        "timestamp": f"2025-03-01T10:{n:02d}:00+0000",
        "username": f"ig.fan{n}",
        "from": {"id": str(17_841_400_000_000_000 + n), "username": f"ig.fan{n}"},
        "like_count": n,
    }
    if replies is not None:
        comment["replies"] = {"data": replies}
    return comment


def test_instagram_graph_pages_and_replies() -> None:
    reply = ig_comment(2, "@ig.fan1 same")
    reply["parent_id"] = str(17_850_000_000_000_001)
    page = {
        "data": [ig_comment(1, "in! @Pal.One", replies=[reply]), ig_comment(3, "hello")],
        "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}, "next": "https://graph..."},
    }
    result = parse_entries_file(json.dumps(page).encode(), filename="page.json", platform=None)
    assert (result.format, result.platform) == ("instagram_graph", "instagram")
    first, second, third = result.entries
    assert first["created_at"] == datetime(2025, 3, 1, 10, 1, tzinfo=UTC)
    assert first["platform_user_id"] == "17841400000000001"
    assert (first["likes"], first["mentions"]) == (1, ["pal.one"])
    assert (second["parent_id"], second["mentions"]) == ("17850000000000001", ["ig.fan1"])
    assert third["parent_id"] is None

    # Several pages, and a bare list of comments, read the same.
    pages = [
        {"data": [ig_comment(1, "a")], "paging": {}},
        {"data": [ig_comment(2, "b")], "paging": {}},
    ]
    several = parse_entries_file(json.dumps(pages).encode(), filename="p", platform=None)
    bare = parse_entries_file(
        json.dumps([ig_comment(1, "a"), ig_comment(2, "b")]).encode(), filename="p", platform=None
    )
    assert several.entries == bare.entries
    assert len(several.entries) == 2

    # Only the default fields (id, text, timestamp) and username: no user id, no likes.
    minimal = {"data": [{"id": "1", "text": "t", "timestamp": "2025-03-01T10:00:00+0000"}]}
    problems = rejected(json.dumps(minimal, indent=2), "m.json")
    assert problems == [(3, "data[0].username", "username is missing")]
    minimal["data"][0]["username"] = "someone"
    (entry,) = parse_entries_file(json.dumps(minimal).encode(), filename="m", platform=None).entries
    assert (entry["platform_user_id"], entry["likes"]) == ("username:someone", 0)


def test_graph_problems() -> None:
    page = {"data": [ig_comment(1, "a", replies=[ig_comment(2, "b")]), ig_comment(3, "c")]}
    page["data"][0]["replies"]["data"][0]["timestamp"] = "2025-13-01T00:00:00+0000"
    page["data"][1]["like_count"] = "many"
    text = json.dumps(page, indent=2)
    assert rejected(text, "g.json") == [
        (
            line_of(text, "2025-13-01"),
            "data[0].replies.data[0].timestamp",
            "timestamp is not a date and time: '2025-13-01T00:00:00+0000'",
        ),
        (line_of(text, '"many"'), "data[1].like_count", "like_count must be an integer >= 0"),
    ]
    error = {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException"}}
    assert rejected(json.dumps(error)) == [
        (1, "error", "this is a Graph API error answer, not comments")
    ]
    assert rejected('{"hello": "world"}')[0][2].startswith("unrecognised JSON")


def fb_comment(n: int, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"122100000000000000_{n}",
        "message": message,
        "created_time": f"2025-03-01T11:{n:02d}:00+0000",
        "from": {"id": str(10_000 + n), "name": f"Fan Number {n}"},
        "like_count": 2,
        **extra,
    }


def test_facebook_graph_comments() -> None:
    tagged = fb_comment(
        1,
        "Ana Lima and me!",
        message_tags=[
            {"id": "77", "name": "Ana Lima", "type": "user", "offset": 0, "length": 8},
            {"id": "88", "name": "Some Group", "type": "group", "offset": 0, "length": 1},
        ],
        comments={"data": [fb_comment(2, "@typed.handle yes"), fb_comment(3, "")]},
    )
    flat_reply = fb_comment(4, "photo only", parent={"id": "122100000000000000_1"})
    del flat_reply["message"]  # an attachment alone
    page = {"data": [tagged, flat_reply], "paging": {"cursors": {}}}
    result = parse_entries_file(json.dumps(page).encode(), filename="fb.json", platform="facebook")
    assert (result.format, result.platform) == ("facebook_graph", "facebook")
    one, two, three, four = result.entries
    assert (one["username"], one["platform_user_id"]) == ("Fan Number 1", "10001")
    assert one["mentions"] == ["ana lima"]
    assert one["created_at"] == datetime(2025, 3, 1, 11, 1, tzinfo=UTC)
    assert (two["parent_id"], two["mentions"]) == ("122100000000000000_1", ["typed.handle"])
    assert three["text"] == ""
    assert (four["parent_id"], four["text"]) == ("122100000000000000_1", "")

    # Without a Page access token the Graph API leaves `from` out: refused.
    anonymous = fb_comment(5, "who am I")
    del anonymous["from"]
    text = json.dumps({"data": [fb_comment(6, "ok"), anonymous]}, indent=2)
    ((line, field, reason),) = rejected(text, "fb.json")
    assert (line, field) == (line_of(text, '"id": "122100000000000000_5"') - 1, "data[1].from")
    assert reason.startswith("from is missing")
    anonymous["from"] = "Fan Number 5"
    text = json.dumps({"data": [anonymous]}, indent=2)
    assert rejected(text, "fb.json") == [
        (line_of(text, '"from": "Fan'), "data[0].from", "from must be an object")
    ]


# --- CSV ---------------------------------------------------------------------------------------

CSV_SAMPLE = (
    "author,text,created_at,likes,parent_id\n"
    "ana.lima,Quero! @Bia_22 @joao.p,2025-03-01T10:00:00Z,3,\n"
    '@bia_22,"Obrigada, @ana.lima!\nBoa sorte",2025-03-01T10:05:00+01:00,,\n'
    "joao.p,eu também,2025-03-01 10:07:00,0,abc123\n"
)


def test_csv_sample() -> None:
    result = parse_entries_file(CSV_SAMPLE.encode(), filename="comments.csv", platform=None)
    assert (result.format, result.platform) == ("csv", "file")
    ana, bia, joao = result.entries
    assert ana["username"] == "ana.lima"
    assert ana["platform_user_id"] == "username:ana.lima"
    assert ana["mentions"] == ["bia_22", "joao.p"]
    assert ana["created_at"] == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert (ana["likes"], ana["followers"], ana["is_business"], ana["parent_id"]) == (
        3,
        None,
        None,
        None,
    )
    assert len(ana["comment_id"]) == 16
    assert int(ana["comment_id"], 16) >= 0
    assert bia["username"] == "bia_22"  # the @ dropped
    assert bia["text"] == "Obrigada, @ana.lima!\nBoa sorte"
    assert bia["created_at"] == datetime(2025, 3, 1, 9, 5, tzinfo=UTC)  # +01:00 to UTC
    assert bia["likes"] == 0
    assert joao["created_at"] == datetime(2025, 3, 1, 10, 7, tzinfo=UTC)  # no offset: UTC
    assert joao["parent_id"] == "abc123"
    assert joao["mentions"] == []


def test_csv_ids_are_stable() -> None:
    again = parse_entries_file(CSV_SAMPLE.encode(), filename="again.csv", platform="instagram")
    first = parse_entries_file(CSV_SAMPLE.encode(), filename="comments.csv", platform=None)
    assert [e["comment_id"] for e in again.entries] == [e["comment_id"] for e in first.entries]
    assert again.platform == "instagram"
    assert {e["platform"] for e in again.entries} == {"instagram"}
    edited = CSV_SAMPLE.replace("Quero!", "Quero!!")
    changed = parse_entries_file(edited.encode(), filename="c.csv", platform=None)
    ids = [e["comment_id"] for e in changed.entries]
    assert ids[0] != first.entries[0]["comment_id"]
    assert ids[1:] == [e["comment_id"] for e in first.entries[1:]]


def test_csv_optional_columns_bom_and_semicolons() -> None:
    text = (
        "Comment ID;Author;Author ID;Text;Created At;Likes;Followers;Is Business;Is Verified;"
        "Mentions;Extra\n"
        "c1;shop.one;991;Hi @ignored;1740823200;5;1200;yes;FALSE;@Pal, other.pal;whatever\n"
        "c2;person;992;Hello;2025-03-01T10:00:00Z;;;;;;\n"
    )
    data = codecs.BOM_UTF8 + text.encode()
    shop, person = parse_entries_file(data, filename="export", platform="tiktok").entries
    assert shop == {
        "platform": "tiktok",
        "comment_id": "c1",
        "platform_user_id": "991",
        "username": "shop.one",
        "text": "Hi @ignored",
        "created_at": datetime(2025, 3, 1, 10, tzinfo=UTC),
        "likes": 5,
        "mentions": ["pal", "other.pal"],  # the column, not the text
        "followers": 1200,
        "is_business": True,
        "is_verified": False,
        "parent_id": None,
    }
    assert (person["followers"], person["is_business"], person["mentions"]) == (None, None, [])
    # UTF-16 with its BOM, as spreadsheets save "Unicode text".
    utf16 = parse_entries_file(text.encode("utf-16"), filename="export.csv", platform=None)
    assert [e["comment_id"] for e in utf16.entries] == ["c1", "c2"]


def test_csv_one_line_file() -> None:
    (entry,) = parse_entries_file(
        b"author,text,created_at\r\nsolo,only me,2025-03-01T10:00:00Z",
        filename="one.csv",
        platform=None,
    ).entries
    assert (entry["username"], entry["text"]) == ("solo", "only me")
    # And a one-line JSON file.
    one = json.dumps([instaloader_doc()[1]]).encode()
    assert len(parse_entries_file(one, filename="x_comments.json", platform=None).entries) == 1


def test_csv_blank_lines_are_skipped() -> None:
    text = "\nauthor,text,created_at\n\nsolo,hi,2025-03-01T10:00:00Z\n,,\n\n"
    assert len(parse_entries_file(text.encode(), filename="b.csv", platform=None).entries) == 1


def test_csv_every_problem_with_its_line() -> None:
    long_text = "y" * (imports.MAX_TEXT_CHARS + 1)
    text = (
        "author,text,created_at,likes,followers,is_verified,comment_id,mentions\n"  # 1
        "ok,fine,2025-03-01T10:00:00Z,1,10,true,id1,\n"  # 2
        ",no author,2025-03-01T10:00:00Z,1,10,true,id2,\n"  # 3
        "a,bad date,2025-02-30T10:00:00Z,1,10,true,id3,\n"  # 4
        "a,date only,2025-03-01,1,10,true,id4,\n"  # 5
        "a,negative,2025-03-01T10:00:00Z,-1,10,true,id5,\n"  # 6
        "a,not a count,2025-03-01T10:00:00Z,1,1.5k,true,id6,\n"  # 7
        "a,not a flag,2025-03-01T10:00:00Z,1,10,maybe,id7,\n"  # 8
        f"a,{long_text},2025-03-01T10:00:00Z,1,10,true,id8,\n"  # 9
        "a,duplicate,2025-03-01T10:00:00Z,1,10,true,id1,\n"  # 10
        "a,too few fields\n"  # 11
        'a,"spans\nlines",2025-03-01T10:00:00Z,x,10,true,id9,\n'  # 12-13
        "a,bad mention,2025-03-01T10:00:00Z,1,10,true,id10,@ok not/ok\n"  # 14
    )
    assert rejected(text, "e.csv") == [
        (3, "author", "author is empty or too long"),
        (4, "created_at", "not a date and time: '2025-02-30T10:00:00Z'"),
        (5, "created_at", "not a date and time: '2025-03-01'"),
        (6, "likes", "likes must be an integer >= 0: '-1'"),
        (7, "followers", "followers must be an integer >= 0: '1.5k'"),
        (8, "is_verified", "is_verified must be true or false: 'maybe'"),
        (9, "text", f"text longer than {imports.MAX_TEXT_CHARS:,} characters"),
        (10, "comment_id", "duplicate comment id 'id1' (line 2)"),
        (11, None, "expected 8 fields, found 2"),
        (12, "likes", "likes must be an integer >= 0: 'x'"),
        (14, "mentions", "not a username: 'not/ok'"),
    ]


def test_csv_derived_duplicates_and_header_problems() -> None:
    row = "same,same text,2025-03-01T10:00:00Z\n"
    problems = rejected("author,text,created_at\n" + row + row, "d.csv")
    assert len(problems) == 1
    assert problems[0][:2] == (3, "comment_id")
    assert problems[0][2].endswith("(line 2)")
    assert rejected("author,message,text,when\nx,y,z,w\n", "h.csv") == [
        (1, "text", "column given twice"),
        (1, "created_at", "missing column 'created_at'"),
    ]


def test_problems_stop_at_fifty() -> None:
    rows = "".join(f"u{n},t,not a date\n" for n in range(80))
    with pytest.raises(ImportRejected) as refused:
        parse_entries_file(
            f"author,text,created_at\n{rows}".encode(), filename="f.csv", platform=None
        )
    assert len(refused.value.problems) == imports.MAX_PROBLEMS
    assert refused.value.truncated
    assert refused.value.problems[-1].line == 51
    assert "50 problem(s) (and maybe more): line 2 (created_at)" in str(refused.value)
    doc = [{**instaloader_doc()[1], "id": n, "created_at": "?"} for n in range(60)]
    with pytest.raises(ImportRejected) as json_refused:
        parse_entries_file(dump(doc).encode(), filename="f.json", platform=None)
    assert len(json_refused.value.problems) == imports.MAX_PROBLEMS
    assert json_refused.value.problems[-1].field == "[49].created_at"


# --- the file as a whole -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "problem"),
    [
        (b"", "e.csv", (0, None, "the file is empty")),
        (b" \n\r\n\t", "e.csv", (0, None, "the file is empty")),
        (codecs.BOM_UTF8, "e.json", (0, None, "the file is empty")),
        (b"author,text,created_at\n", "h.csv", (0, None, "the file has no entries")),
        (b"[]", "e.json", (1, None, "the file has no entries")),
        (b'{"data": [], "paging": {}}', "e.json", (1, None, "the file has no entries")),
    ],
)
def test_empty_files_are_refused(data: bytes, filename: str, problem: tuple[Any, ...]) -> None:
    assert rejected(data, filename) == [problem]


def test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    data = CSV_SAMPLE.encode()
    monkeypatch.setattr(imports, "MAX_FILE_BYTES", len(data) - 1)
    assert rejected(data, "big.csv") == [(0, None, "the file is larger than 0 MB")]
    monkeypatch.setattr(imports, "MAX_FILE_BYTES", 50 * 1024 * 1024)
    monkeypatch.setattr(imports, "MAX_ENTRIES", 2)
    assert rejected(data, "many.csv") == [(5, None, "more than 2 entries")]  # after 2 lines
    doc = dump(instaloader_doc())
    assert rejected(doc, "many.json")[0][1:] == ("[0].answers[1]", "more than 2 entries")


def test_bad_encoding_has_its_line() -> None:
    data = b"author,text,created_at\nok,fine,2025-03-01T10:00:00Z\nbad,\xff\xfe,2025\n"
    assert rejected(data, "enc.csv") == [(3, None, "not UTF-8 text (byte 0xff)")]


def test_format_detection() -> None:
    # By content first: a JSON document whatever its name, unless the name says CSV.
    doc = dump(instaloader_doc()).encode()
    assert parse_entries_file(doc, filename="download", platform=None).format == "instaloader"
    csv_named_json = b"author,text,created_at\nx,y,2025-03-01T10:00:00Z\n"
    assert rejected(csv_named_json, "comments.json")[0][2].startswith("invalid JSON")
    bracket = b"author,text,created_at\n[x],y,2025-03-01T10:00:00Z\n"
    assert (
        parse_entries_file(bracket, filename="c.csv", platform=None).entries[0]["username"] == "[x]"
    )


def test_programming_errors_and_messages() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        parse_entries_file(b"", filename="x", platform="myspace")
    assert str(ImportProblem(3, "likes", "bad")) == "line 3 (likes): bad"
    assert str(ImportProblem(0, None, "too big")) == "file: too big"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1740823200", datetime(2025, 3, 1, 10, tzinfo=UTC)),  # UNIX seconds
        ("2025-03-01T10:00:00Z", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T07:00:00-03:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T10:00:00.250+0000", datetime(2025, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2025-03-01 10:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),  # no offset: UTC
        ("20250301", None),  # digits too few for UNIX seconds, and no time of day
        ("2025-03-01", None),
        ("01/03/2025 10:00", None),
        ("", None),
    ],
)
def test_csv_dates(written: str, expected: datetime | None) -> None:
    data = f"author,text,created_at\nsomeone,hi,{written}\n".encode()
    if expected is None:
        assert rejected(data, "d.csv") == [(2, "created_at", f"not a date and time: {written!r}")]
    else:
        (entry,) = parse_entries_file(data, filename="d.csv", platform=None).entries
        assert entry["created_at"] == expected
        assert entry["created_at"].tzinfo is UTC
