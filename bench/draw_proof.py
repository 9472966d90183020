"""Benchmark: a verifiable giveaway draw among a million comments, and its offline check.

    .venv/bin/python bench/draw_proof.py [--entries 1000000] [--json PATH]

Pure Python, no database (`creatorhub.giveaways.proof`). The entries are generated first
(deterministic, not timed): two platforms, a tenth of the comments by users who commented
before, replies, business accounts, unknown follower counts, emoji in some texts, a blacklist
of 200 usernames, a config that uses every rule. Then, timed:

* draw: the entries' canonical lines (`EntryTable.from_rows`, values checked), the
  commitment (Merkle root, SHA-256 of the ENTRIES file, config hash), the draw (exclusions,
  selection) and the signed certificate (built, signed, serialized). Target: <= 2 s.
* verify: `verify_certificate` from the certificate's and the ENTRIES file's bytes, every
  step (parse, checks, recomputed exclusions, replayed selection). Target: <= 2 s.
* verify without ENTRIES (what an entrant without the file can check).

Each phase's seconds are printed (verify: per step).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from creatorhub.giveaways.proof.beacon import (
    QUICKNET,
    BeaconReveal,
    choose_round,
    commitment_beacon,
    randomness_of,
)
from creatorhub.giveaways.proof.canonical import Row
from creatorhub.giveaways.proof.certificate import (
    build_certificate,
    certificate_bytes,
    public_key_hex,
    sign_certificate,
)
from creatorhub.giveaways.proof.draw import make_commitment, run_draw
from creatorhub.giveaways.proof.rules import parse_blacklist, parse_config
from creatorhub.giveaways.proof.table import EntryTable
from creatorhub.giveaways.proof.verify import verify_certificate

TARGET_SECONDS = 2.0
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FIRST = ["ana", "leo", "mia", "noah", "lina", "sam", "zoe", "hugo", "emma", "jules", "ines"]
LAST = ["martin", "bernard", "dubois", "thomas", "robert", "petit", "durand", "leroy"]
TEXTS = [
    "Count me in! {m}",
    "I'd love to win this {m} 🎉",
    "count me in {m} fingers crossed",
    "{m} look at this!!",
    "Participating with {m}, thanks for the giveaway",
    "Merci pour ce concours {m} 😍",
    "{m}",
]
CONFIG = {
    "winners_count": 10,
    "alternates_count": 5,
    "entries_per_user": "one",
    "filters": {"min_followers": 10, "exclude_suspicious": True, "exclude_businesses": True},
    "rules": {
        "require_like": True,
        "require_comment": True,
        "require_follow": True,
        "comment_keywords": ["count me in", "giveaway", "concours", "🎉"],
        "min_mentions": 1,
        "window_start": "2026-03-02T09:00:00Z",
        "window_end": "2026-03-05T09:00:00Z",
        "exclude_replies": True,
    },
}


def generate(count: int) -> list[Row]:
    """`count` entries in ENTRIES order (comment ids of one length: numeric = text order)."""
    rng = random.Random(2026)
    rows: list[Row] = []
    users: list[tuple[str, str]] = []
    seconds = 3 * 86400 + 3600  # a few comments fall after the window
    for i in range(count):
        if users and rng.random() < 0.1:
            user_id, username = rng.choice(users)
        else:
            user_id = str(1784140000000000 + len(users))
            name = f"{rng.choice(FIRST)}.{rng.choice(LAST)}{len(users)}"
            if rng.random() < 0.01:  # generated-looking handles
                name = f"{rng.choice(FIRST)}{rng.randrange(10**6, 10**8)}"
            username = name
            users.append((user_id, username))
        tags = rng.choice((0, 1, 1, 1, 2, 2, 3))
        handles = sorted({f"friend{rng.randrange(50000)}" for _ in range(tags)})
        text = rng.choice(TEXTS).format(m=" ".join("@" + h for h in handles))
        followers = None if rng.random() < 0.03 else int(rng.paretovariate(1.1) * 40) - 32
        business = None if rng.random() < 0.2 else rng.random() < 0.05
        parent = str(18000000000000000 + rng.randrange(i)) if i and rng.random() < 0.05 else None
        moment = START + timedelta(seconds=seconds * i // count)
        rows.append(
            Row(
                comment_id=str(18000000000000000 + i),
                created_at=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                followers=followers,
                is_business=business,
                is_verified=rng.random() < 0.01,
                likes=rng.randrange(20),
                mentions=handles,
                parent_id=parent,
                platform="instagram" if i < count * 0.8 else "tiktok",
                platform_user_id=user_id,
                text=text,
                username=username,
            )
        )
    return rows


def timed(figures: dict[str, float], name: str, action: Any) -> Any:
    """Run `action`; its wall-clock seconds go to `figures[name]`, its CPU seconds (this
    process's: what the figures would be on an idle machine, roughly) to `name + " cpu"`."""
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    figures[name] = time.perf_counter() - started
    figures[name + " cpu"] = time.process_time() - cpu
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    print(f"generating {args.entries:,} entries...", flush=True)
    rows = generate(args.entries)
    # What generating left behind (millions of objects) must not be scanned during the timing.
    gc.collect()
    gc.freeze()
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    config = parse_config(CONFIG)
    blacklist = parse_blacklist(
        [
            {"platform": "all", "username": f"{FIRST[i % 11]}.{LAST[i % 8]}{i * 97}"}
            for i in range(200)
        ]
    )
    seed = bytes(range(100, 132))
    committed_at = START + timedelta(days=3, hours=1)
    round_number = choose_round(
        committed_at.timestamp(), 30, QUICKNET.genesis_time, QUICKNET.period
    )
    signature = (b"bench-beacon" * 8).hex()
    reveal = BeaconReveal(round_number, randomness_of(signature), signature)

    draw: dict[str, float] = {}
    table = timed(draw, "canonical lines", lambda: EntryTable.from_rows(rows))
    commitment = timed(
        draw,
        "commitment (root, sha256)",
        lambda: make_commitment(
            draw_id="bench",
            platform="instagram",
            post_ref="https://www.instagram.com/p/bench/",
            host_username="bench.host",
            entries=table,
            config=config,
            blacklist=blacklist,
            seed=seed,
            beacon=commitment_beacon(QUICKNET, round_number),
            committed_at=committed_at,
        ),
    )
    result = timed(
        draw,
        "draw (filters, selection)",
        lambda: run_draw(table, config, blacklist, seed, commitment, reveal.randomness_bytes),
    )
    cert = timed(
        draw,
        "certificate (build, sign)",
        lambda: certificate_bytes(
            sign_certificate(
                build_certificate(
                    commitment=commitment,
                    seed=seed,
                    beacon=reveal,
                    config=config,
                    blacklist=blacklist,
                    result=result,
                    issued_at=committed_at + timedelta(minutes=2),
                ),
                key,
                "bench",
            )
        ),
    )
    entries_bytes = table.file_bytes
    # The draw's objects go before the verification: it starts from bytes alone.
    rows.clear()
    table = None
    gc.unfreeze()
    gc.collect()

    trusted = {public_key_hex(key)}
    verify: dict[str, float] = {}
    report = timed(verify, "verify", lambda: verify_certificate(cert, entries_bytes, trusted))
    light = timed(verify, "light", lambda: verify_certificate(cert, None, trusted))

    draw_total = sum(v for k, v in draw.items() if not k.endswith(" cpu"))
    draw_cpu = sum(v for k, v in draw.items() if k.endswith(" cpu"))
    print(
        f"\n{args.entries:,} entries, ENTRIES {len(entries_bytes) / 1e6:.0f} MB,"
        f" certificate {len(cert) / 1e3:.0f} kB; eligible {result.eligible_count:,},"
        f" excluded {len(result.excluded):,}; Python {platform.python_version()}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} cores (other work slows the wall clock)")
    print(f"\ndraw: {draw_total:.2f} s, CPU {draw_cpu:.2f} s (target {TARGET_SECONDS:.0f} s)")
    for name, seconds in draw.items():
        if not name.endswith(" cpu"):
            print(f"  {name:<28} {seconds:6.2f} s  CPU {draw[name + ' cpu']:6.2f} s")
    print(
        f"\nverify with ENTRIES: {verify['verify']:.2f} s, CPU {verify['verify cpu']:.2f} s"
        f" (target {TARGET_SECONDS:.0f} s)"
    )
    for step in report.steps:
        print(f"  {step.name:<16} {step.status:<7} {step.seconds:6.2f} s")
    print(f"\nverify without ENTRIES: {verify['light']:.2f} s, CPU {verify['light cpu']:.2f} s")
    if not report.ok or not light.ok:
        print(f"VERIFY FAILED: {report.failed() or light.failed()}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "entries": args.entries,
                    "load_average": load,
                    "draw_seconds": draw,
                    "verify_seconds": verify,
                    "verify_steps_seconds": {s.name: s.seconds for s in report.steps},
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
