"""Campaign views' side of the benchmark (issue 14): dedupe + validation + settlement of many
raw views, against `COPY` of the same rows in the same run.

    .venv/bin/python -m bench.views --database-url postgresql://postgres@127.0.0.1/postgres \
        --views 1000000

`make bench` runs it too (its `views` section, `--views` there too), on its scratch database.

A scratch database (`creatorhub_bench_views`) is created and migrated; one funded visibility
campaign per 1,000 promoters... (`--campaigns`, `--promoters`) gets `--views` raw views spread
over `--days` UTC days, a share of them (`--duplicates`) the same visitor again on the same
day. Timed, each from a checkpoint:

* reference: `COPY` of the raw rows into a table like `campaigns.views` (its indexes too);
* dedupe: `COPY` of the raw rows into a staging table, then one statement writing the views
  with their outcome (`pending`, or `duplicate` for a visitor counted on that day already) and
  one writing `unique_views` (the set-based form of what the tracking link's statement does
  per click: the bench's own SQL, the same rows and keys);
* validation + settlement: `settlement.settle_due` (the product's code: each due day's views
  validated and marked paid in one statement, the money as one ledger group per batch of
  promoter campaigns through `pay_earnings_many`, `view_settlements`, the allocation,
  `view_stats`).

Views per second of the three together are compared with COPY's; then the ledger is verified.
Results go to bench/results/views-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench import database
from creatorhub.db import libpq_url

RESULTS = Path(__file__).resolve().parent / "results"
FIRST_DAY = date(2026, 1, 5)
WINDOW = timedelta(hours=72)
TARGET_VIEWS_PER_S = 100_000  # issue 14: dedupe + validation + settlement


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.views")
    add = parser.add_argument
    add("--database-url", default=os.environ.get("DATABASE_URL"))
    add("--scratch-database", default="creatorhub_bench_views")
    add("--views", type=int, default=1_000_000)
    add("--campaigns", type=int, default=10)
    add("--promoters", type=int, default=100, help="per campaign")
    add("--days", type=int, default=4)
    add("--duplicates", type=float, default=0.1, help="share of views repeating a visitor")
    add("--output", type=Path, default=RESULTS / "views-latest.json")
    add("--keep", action="store_true")
    return parser.parse_args(argv)


def setup(url: str, campaigns: int, promoters: int) -> list[tuple[str, list[str]]]:
    """Funded campaigns (budget for every view: cpv 300, max_views 10^7) and their promoters,
    funded through the ledger from a clearing account so the invariants hold."""
    built: list[tuple[str, list[str]]] = []
    with psycopg.connect(libpq_url(url)) as conn:
        clearing = conn.execute(
            "SELECT ledger.ensure_account('platform', '00000000-0000-0000-0000-000000000000',"
            " 'provider_clearing', 'USD', 0::smallint, true)"
        ).fetchone()[0]  # type: ignore[index]
        for c in range(campaigns):
            advertiser = conn.execute(
                "INSERT INTO identity.users (email, display_name, roles)"
                " VALUES (%s, 'Bench advertiser', ARRAY['brand']) RETURNING id",
                (f"bench-advertiser-{c}@example.com",),
            ).fetchone()[0]  # type: ignore[index]
            campaign_id = uuid.uuid4()
            escrow = conn.execute(
                "SELECT ledger.ensure_account('campaign', %s, 'escrow', 'USD', 0::smallint, false)",
                (campaign_id,),
            ).fetchone()[0]  # type: ignore[index]
            budget = 300 * 10**5  # covers max_views 10^7 at 300 per 100
            conn.execute(
                "INSERT INTO campaigns.campaigns (id, advertiser_id, type, title, status,"
                " currency, budget, starts_at, cpv, max_views, destination_url,"
                " escrow_account_id, funded_at)"
                " VALUES (%s, %s, 'visibility', 'Bench', 'active', 'USD', %s, %s, 300,"
                " 10000000, 'https://example.com/', %s, %s)",
                (
                    campaign_id,
                    advertiser,
                    budget,
                    datetime(2026, 1, 1, tzinfo=UTC),
                    escrow,
                    datetime(2026, 1, 1, tzinfo=UTC),
                ),
            )
            conn.execute(
                "SELECT * FROM ledger.transfer(%s, %s, %s, 'escrow_funding', %s)",
                (clearing, escrow, budget, f"bench:campaign:{campaign_id}:funding"),
            )
            conn.execute(
                "INSERT INTO campaigns.campaign_budget_allocations (campaign_id,"
                " allocated_amount, currency, funding_source, rate_per_100_views)"
                " VALUES (%s, %s, 'USD', 'wallet', 300)",
                (campaign_id, budget),
            )
            ids = []
            for p in range(promoters):
                user = conn.execute(
                    "INSERT INTO identity.users (email, display_name, roles)"
                    " VALUES (%s, 'Bench promoter', ARRAY['creator']) RETURNING id",
                    (f"bench-promoter-{c}-{p}@example.com",),
                ).fetchone()[0]  # type: ignore[index]
                pc = conn.execute(
                    "INSERT INTO campaigns.promoter_campaigns (campaign_id, promoter_id,"
                    " tracking_code) VALUES (%s, %s, %s) RETURNING id",
                    (campaign_id, user, f"bench{c:04d}x{p:06d}"),
                ).fetchone()[0]  # type: ignore[index]
                ids.append(str(pc))
            built.append((str(campaign_id), ids))
        conn.commit()
    return built


def raw_rows(built: list[tuple[str, list[str]]], views: int, days: int, duplicates: float) -> bytes:
    """The raw views as COPY text: campaign, promoter campaign, time, visitor hash (hex)."""
    rng = random.Random(2026)
    out = io.StringIO()
    previous: list[tuple[str, str, datetime, str]] = []
    for _ in range(views):
        if previous and rng.random() < duplicates:
            campaign_id, pc, at, visitor = rng.choice(previous)
            at = at + timedelta(seconds=1)  # later the same day (the time is before 23:59)
        else:
            campaign_id, pcs = rng.choice(built)
            pc = rng.choice(pcs)
            day = FIRST_DAY + timedelta(days=rng.randrange(days))
            at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                seconds=rng.randrange(86_000)
            )
            visitor = rng.randbytes(16).hex()
            if len(previous) < 10_000:
                previous.append((campaign_id, pc, at, visitor))
        out.write(f"{campaign_id}\t{pc}\t{at.isoformat()}\t\\\\x{visitor}\n")
    return out.getvalue().encode()


def _copy(conn: psycopg.Connection[Any], table: str, data: bytes) -> None:
    with conn.cursor().copy(
        f"COPY {table} (campaign_id, promoter_campaign_id, occurred_at, visitor_hash) FROM STDIN"
    ) as copy:
        for start in range(0, len(data), 1 << 20):
            copy.write(data[start : start + (1 << 20)])


def _timed(conn: psycopg.Connection[Any], work: Any) -> float:
    conn.execute("CHECKPOINT")
    conn.commit()
    started = time.perf_counter()
    work()
    conn.commit()
    return time.perf_counter() - started


def reference_copy(url: str, data: bytes) -> float:
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("CREATE TABLE bench_views_reference (LIKE campaigns.views INCLUDING ALL)")
        conn.execute("ALTER TABLE bench_views_reference ALTER COLUMN outcome SET DEFAULT 'pending'")
        conn.commit()
        return _timed(conn, lambda: _copy(conn, "bench_views_reference", data))


DEDUPE_VIEWS = """
INSERT INTO campaigns.views (id, campaign_id, promoter_campaign_id, occurred_at, visitor_hash,
                             outcome)
SELECT id, campaign_id, promoter_campaign_id, occurred_at, visitor_hash,
       CASE WHEN id = min(id) OVER (PARTITION BY campaign_id,
                                    (occurred_at AT TIME ZONE 'UTC')::date, visitor_hash)
            THEN 'pending' ELSE 'duplicate' END
FROM bench_raw_views
"""
DEDUPE_UNIQUE = """
INSERT INTO campaigns.unique_views (campaign_id, day, visitor_hash, view_id)
SELECT campaign_id, (occurred_at AT TIME ZONE 'UTC')::date, visitor_hash, min(id)
FROM bench_raw_views GROUP BY 1, 2, 3
ON CONFLICT DO NOTHING
"""
COUNT_GENERATED = """
UPDATE campaigns.promoter_campaigns pc SET views_generated = pc.views_generated + n.views
FROM (SELECT promoter_campaign_id, count(*) AS views FROM campaigns.views
      WHERE outcome = 'pending' GROUP BY 1) n
WHERE pc.id = n.promoter_campaign_id
"""


def dedupe(url: str, data: bytes) -> float:
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(
            "CREATE UNLOGGED TABLE bench_raw_views (id bigint NOT NULL DEFAULT"
            " nextval(pg_get_serial_sequence('campaigns.views', 'id')), campaign_id uuid,"
            " promoter_campaign_id uuid, occurred_at timestamptz, visitor_hash bytea)"
        )
        conn.commit()

        def work() -> None:
            # A batch job's memory for its sorts (the settlement's ledger call has the same).
            conn.execute("SET work_mem = '64MB'")
            _copy(conn, "bench_raw_views", data)
            conn.execute(DEDUPE_VIEWS)
            conn.execute(DEDUPE_UNIQUE)
            conn.execute(COUNT_GENERATED)

        return _timed(conn, work)


async def validate_and_settle(url: str) -> tuple[float, dict[str, int]]:
    """The product's run (`settlement.settle_due`): each due day's views validated and marked
    paid in one statement, the money of a batch of promoter campaigns as one ledger group,
    `view_stats`, then the views of days not settleable yet validated."""
    from creatorhub.campaigns import settlement
    from creatorhub.config import Settings
    from creatorhub.db import Database

    settings = Settings.model_validate({"database_url": url, "environment": "test"})
    db = Database.connect(url, settings)
    now = settlement.day_start(FIRST_DAY + timedelta(days=40))
    try:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        started = time.perf_counter()
        run = await settlement.settle_due(
            db, now=now, window=WINDOW, hold_days=0, fee_shards=settings.fee_shards
        )
        settling = time.perf_counter() - started
    finally:
        await db.dispose()
    counts = {
        "validated": run.validated,
        "campaigns": len(run.campaigns),
        "promoter_days": sum(len(r.days) for r in run.campaigns),
        "paid_views": sum(d.paid_views for r in run.campaigns for d in r.days),
        "paid_amount": sum(r.amount for r in run.campaigns),
    }
    return settling, counts


def measure(
    url: str, *, views: int, campaigns: int, promoters: int, days: int, duplicates: float
) -> dict[str, Any]:
    """The whole measurement on the migrated database `url` (`make bench`'s `views` section
    runs it on its scratch database; the ledger is verified after every section there, by
    `main` here)."""
    built = setup(url, campaigns, promoters)
    data = raw_rows(built, views, days, duplicates)
    copy_s = reference_copy(url, data)
    print(f"  COPY (reference): {copy_s:.2f} s, {views / copy_s:,.0f} views/s", flush=True)
    dedupe_s = dedupe(url, data)
    print(f"  dedupe: {dedupe_s:.2f} s", flush=True)
    settlement_s, counts = asyncio.run(validate_and_settle(url))
    print(f"  validation + settlement: {settlement_s:.2f} s", flush=True)
    pipeline = dedupe_s + settlement_s
    figures = {
        "views": views,
        "campaigns": campaigns,
        "promoters_per_campaign": promoters,
        "days": days,
        "duplicate_share": duplicates,
        "copy_seconds": round(copy_s, 3),
        "dedupe_seconds": round(dedupe_s, 3),
        "validation_and_settlement_seconds": round(settlement_s, 3),
        "settlement_views_per_s": round(counts["validated"] / settlement_s),
        "copy_views_per_s": round(views / copy_s),
        "pipeline_views_per_s": round(views / pipeline),
        "pipeline_to_copy": round(copy_s / pipeline, 3),
        # Settlement moves money as one ledger group per batch of promoter campaigns (a
        # transfer and its fee per promoter and day).
        "settlement_promoter_days_per_s": round(counts["promoter_days"] / settlement_s, 1),
        "target_views_per_s": TARGET_VIEWS_PER_S,
        "counts": counts,
    }
    print(
        f"  dedupe + validation + settlement: {pipeline:.2f} s,"
        f" {figures['pipeline_views_per_s']:,} views/s"
        f" ({figures['pipeline_to_copy']:.2f} x COPY); {counts}",
        flush=True,
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with database.scratch_server(
        args.database_url, keep=args.keep, name=args.scratch_database
    ) as server:
        figures["server"] = server.version
        figures.update(
            measure(
                server.url,
                views=args.views,
                campaigns=args.campaigns,
                promoters=args.promoters,
                days=args.days,
                duplicates=args.duplicates,
            )
        )
        from creatorhub.ledger.verify import verify

        violations = verify(server.url)
    figures["verify_violations"] = [str(v) for v in violations]
    figures["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"ledger violations: {len(violations)}", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written: {args.output}")
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
