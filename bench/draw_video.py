"""Benchmark: rendering a giveaway draw's replay video (`creatorhub.giveaways.video`).

    .venv/bin/python -m bench.draw_video [--entries 100000] [--runs 3]

No database. Three certificates are made first (not timed), with the entries generator of
`bench/draw_proof.py`: a small draw (40 entries, 2 winners, 3 alternates), the same with two
rerolls, and a large one (`--entries`, 10 winners and 5 alternates, a beacon). Each is rendered
`--runs` times; the fastest wall-clock and CPU seconds are printed with the MP4's size, its
length and its frames. The render is what the `render_draw_video` job runs in its thread.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.draw_proof import CONFIG, START, generate
from creatorhub.giveaways.proof.beacon import (
    QUICKNET,
    BeaconReveal,
    choose_round,
    commitment_beacon,
    randomness_of,
)
from creatorhub.giveaways.proof.certificate import (
    build_certificate,
    certificate_bytes,
    sign_certificate,
)
from creatorhub.giveaways.proof.draw import make_commitment, reroll, run_draw
from creatorhub.giveaways.proof.rules import parse_blacklist, parse_config
from creatorhub.giveaways.proof.table import EntryTable
from creatorhub.giveaways.video import render


def certificate(entries: int, winners: int, alternates: int, rerolls: int) -> bytes:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    config = parse_config({**CONFIG, "winners_count": winners, "alternates_count": alternates})
    blacklist = parse_blacklist([])
    table = EntryTable.from_rows(generate(entries))
    seed = bytes(range(100, 132))
    committed_at = START + timedelta(days=3, hours=1)
    round_number = choose_round(
        committed_at.timestamp(), 30, QUICKNET.genesis_time, QUICKNET.period
    )
    signature = (b"bench-beacon" * 8).hex()
    reveal = BeaconReveal(round_number, randomness_of(signature), signature)
    commitment = make_commitment(
        draw_id=f"bench-video-{entries}",
        platform="instagram",
        post_ref="https://www.instagram.com/p/bench/",
        host_username="bench.host",
        entries=table,
        config=config,
        blacklist=blacklist,
        seed=seed,
        beacon=commitment_beacon(QUICKNET, round_number),
        committed_at=committed_at,
    )
    result = run_draw(table, config, blacklist, seed, commitment, reveal.randomness_bytes)
    issued_at = committed_at + timedelta(minutes=2)
    for _ in range(rerolls):
        result = reroll(result, 1, "did not answer within 48 hours", issued_at)
    body = build_certificate(
        commitment=commitment,
        seed=seed,
        beacon=reveal,
        config=config,
        blacklist=blacklist,
        result=result,
        issued_at=issued_at,
    )
    return certificate_bytes(sign_certificate(body, key, "bench"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    cases = {
        "40 entries, 2 winners, 3 alternates": certificate(40, 2, 3, 0),
        "the same, 2 rerolls": certificate(40, 2, 3, 2),
        f"{args.entries:,} entries, 10 winners, 5 alternates": certificate(args.entries, 10, 5, 0),
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {load:.1f}"
        " (other work slows the wall clock)\n"
    )
    print("| certificate | wall | CPU | MP4 | length | frames |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, body in cases.items():
        best_wall = best_cpu = float("inf")
        for _ in range(args.runs):
            started, cpu = time.perf_counter(), time.process_time()
            replay = render(body)
            best_wall = min(best_wall, time.perf_counter() - started)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        print(
            f"| {name} ({len(body) / 1e3:,.0f} kB) | {best_wall:.2f} s | {best_cpu:.2f} s"
            f" | {len(replay.mp4) / 1e3:,.0f} kB | {replay.duration_ms / 1000:.1f} s"
            f" | {replay.frames} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
