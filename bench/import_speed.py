"""How fast giveaway entry files are read: `.venv/bin/python bench/import_speed.py [--rows N]`.

Not a test. Builds, in memory, a CSV of N rows (default 1,000,000) shaped like a real export
(author, text with some @mentions, created_at, likes, sometimes parent_id; no comment_id, so
every row's id is derived with SHA-256), the same rows with `comment_id` and `author_id`
columns, and an instaloader `_comments.json` (indent=4, with answers) of about the 50 MB limit,
then times `parse_entries_file` on each, best of `--repeat` runs.

1,000,000 such rows are larger than the 50 MB upload limit, so the run raises the limit for
itself (and says so): it measures the reading, not the limit.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

from creatorhub.giveaways import imports

WORDS = ("love", "this", "me", "please", "pick", "giveaway", "wow", "yes", "🎉", "🔥", "in!")


def make_csv(rows: int, rng: random.Random, *, ids: bool = False) -> bytes:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    lines = ["author,text,created_at,likes,parent_id" + (",comment_id,author_id" if ids else "")]
    for n in range(rows):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 4))]
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            words.append(f"@friend_{rng.randint(1, 50_000)}")
        text = " ".join(words)
        if rng.random() < 0.05:
            text = f'"{text}, really"'
        when = (start + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        parent = str(rng.randint(0, n)) if n and rng.random() < 0.1 else ""
        line = f"user{n},{text},{when},{rng.randint(0, 40)},{parent}"
        lines.append(f"{line},{17_900_000_000 + n},{5_000_000 + n}" if ids else line)
    return ("\n".join(lines) + "\n").encode()


def make_instaloader(comments: int, rng: random.Random) -> bytes:
    base = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp())
    next_id = 17_900_000_000_000_000

    def one(n: int) -> dict[str, object]:
        nonlocal next_id
        next_id += 1
        return {
            "id": next_id,
            "created_at": base + n,
            "text": f"pick me @friend_{rng.randint(1, 50_000)} 🎉",
            "owner": {
                "id": str(1_000_000 + n),
                "is_verified": False,
                "profile_pic_url": "https://scontent.example/p.jpg",
                "username": f"user{n}",
            },
            "likes_count": rng.randint(0, 40),
        }

    doc = []
    for n in range(comments):
        comment = one(n)
        comment["answers"] = [one(n) for _ in range(rng.choice((0, 0, 0, 1, 2)))]
        doc.append(comment)
    return json.dumps(doc, indent=4).encode()


def measure(label: str, data: bytes, filename: str, repeat: int) -> None:
    best = float("inf")
    count = 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = imports.parse_entries_file(data, filename=filename, platform=None)
        best = min(best, time.perf_counter() - started)
        count = len(result.entries)
    mb = len(data) / 1e6
    print(
        f"{label}: {count:,} entries, {mb:.1f} MB in {best:.2f} s "
        f"({count / best:,.0f} entries/s, {mb / best:.1f} MB/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json-comments", type=int, default=75_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    csv_data = make_csv(args.rows, random.Random(3))
    csv_ids = make_csv(args.rows, random.Random(3), ids=True)
    json_data = make_instaloader(args.json_comments, random.Random(3))
    largest = max(len(csv_data), len(csv_ids), len(json_data))
    if largest > imports.MAX_FILE_BYTES:
        print(f"(upload limit raised from {imports.MAX_FILE_BYTES:,} to {largest:,} bytes)")
        imports.MAX_FILE_BYTES = largest  # type: ignore[misc]
    measure("csv, derived ids", csv_data, "comments.csv", args.repeat)
    measure("csv, given ids", csv_ids, "comments.csv", args.repeat)
    measure("instaloader json", json_data, "post_comments.json", args.repeat)


if __name__ == "__main__":
    main()
