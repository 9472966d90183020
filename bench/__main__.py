"""The benchmark: `make bench`, or `.venv/bin/python -m bench [options]`.

Everything runs in one run against one PostgreSQL server: a fresh embedded one (pgserver) by
default, or the one behind `--database-url`/`DATABASE_URL`, where the scratch database
(`creatorhub_bench`) is created, migrated, measured, verified and dropped.

1. pgbench: `pgbench -i -s 10`, then TPC-B (builtin) at each client count: the reference.
2. ledger: pgbench again, with scripts that call the ledger's functions, one statement per
   transaction: a transfer, a transfer with its platform fee (16 fee shards, then 1 fee
   account), a hold + post cycle.
3. batch: one `ledger.apply_transfers` call of 5,000 and of 20,000 transfers, from Python.
4. http: wrk against the reference endpoint (bench/reference_app.py) and the product's
   `POST /v1/funding` and claims, with 1 and 2 app processes (bench/http_money.py).
5. views: dedupe + validation + settlement of `--views` raw campaign views (1,000,000),
   against `COPY` of the same rows (bench/views.py).
6. profile (only when asked, `--only profile`): where an app process spends its CPU under
   wrk's load, sampled by py-spy (bench/profile.py).

Then `creatorhub.ledger.verify` on the scratch database (zero violations expected: the run is
also a load test), the results (bench/results/latest.json and latest.md) and, with `--docs`,
the tables in docs/benchmarks.md. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import database, http_money, ledger, pgbench, report, views

SECTIONS = ("pgbench", "ledger", "batch", "http", "views", "profile")
DEFAULT_SECTIONS = ("pgbench", "ledger", "batch", "http", "views")
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"


def _counts(text: str) -> list[int]:
    return sorted({int(c) for c in text.split(",") if c.strip()})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=(__doc__ or "").split("\n\n")[0]
    )
    add = parser.add_argument
    add("--duration", type=int, default=15, help="seconds per measured run (default 15)")
    add("--clients", default="1,4,8,16", help="pgbench client counts (default 1,4,8,16)")
    add(
        "--connections",
        default="1,4,8,16,32",
        help="HTTP: wrk connection counts of the closed loop (default 1,4,8,16,32)",
    )
    add(
        "--app-processes",
        default="1,2",
        help="HTTP: app process counts, each measured in turn (default 1,2)",
    )
    add(
        "--open-loop-connections",
        type=int,
        default=64,
        help="HTTP: wrk connections at the fixed rate (more than requests in flight; default 64)",
    )
    add("--wrk-threads", type=int, default=1, help="wrk threads (default 1: it shares the cores)")
    add("--creators", type=int, default=128, help="HTTP: users the requests spread over")
    add("--job-window", type=int, default=64, help="HTTP: jobs claimed at once (default 64)")
    add(
        "--http-operations",
        default="",
        help="HTTP: the product's operations to measure, of funding,claim,tracking,sales"
        " (default all; the reference endpoint always runs)",
    )
    add("--profile-connections", type=int, default=16, help="profile: wrk connections")
    add(
        "--only",
        default=",".join(DEFAULT_SECTIONS),
        help=f"sections to run, of {','.join(SECTIONS)} (default: all but profile)",
    )
    add(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL server to measure (default: DATABASE_URL, else a fresh embedded one)",
    )
    add(
        "--scratch-database",
        default=database.SCRATCH_DATABASE,
        help=f"the scratch database's name (default {database.SCRATCH_DATABASE})",
    )
    add("--port", type=int, default=8792, help="port of the app servers (http, profile)")
    add(
        "--warmup",
        type=int,
        default=5,
        help="unmeasured seconds first: pgbench, per script (default 5); HTTP, per operation and"
        " server (at most 3)",
    )
    add("--tpcb-scale", type=int, default=10, help="pgbench -i -s (default 10)")
    add("--batch-sizes", default="5000,20000", help="batch: transfers per call")
    add("--batch-repeats", type=int, default=5, help="batch: calls per size")
    add("--views", type=int, default=1_000_000, help="views: raw views (default 1,000,000)")
    add(
        "--output",
        type=Path,
        default=RESULTS / "latest.json",
        help="the results (default bench/results/latest.json; latest.md beside it); profiles"
        " go to the same directory",
    )
    add("--docs", action="store_true", help="write the tables into docs/benchmarks.md")
    add("--keep", action="store_true", help="keep the scratch database (to inspect it)")
    args = parser.parse_args(argv)
    args.client_counts = _counts(args.clients)
    args.connection_counts = _counts(args.connections)
    args.process_counts = _counts(args.app_processes)
    args.batch_size_list = tuple(_counts(args.batch_sizes))
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown --only sections: {', '.join(sorted(unknown))}")
    lists = {
        "client_counts": "--clients",
        "connection_counts": "--connections",
        "process_counts": "--app-processes",
        "batch_size_list": "--batch-sizes",
    }
    for name, option in lists.items():
        values = getattr(args, name)
        if not values or min(values) < 1:
            parser.error(f"{option}: a comma-separated list of positive integers")
    return args


def http_options(args: argparse.Namespace) -> http_money.Options:
    return http_money.Options(
        connections=args.connection_counts,
        app_processes=args.process_counts,
        seconds=args.duration,
        warmup_seconds=min(3, args.warmup),
        open_loop_connections=args.open_loop_connections,
        wrk_threads=args.wrk_threads,
        creators=args.creators,
        window=args.job_window,
        port=args.port,
        operations=tuple(o.strip() for o in args.http_operations.split(",") if o.strip()),
    )


def _by_clients(runs: list[pgbench.PgbenchRun]) -> dict[str, float]:
    return {str(r.clients): round(r.tps, 1) for r in runs}


def run_pgbench_and_ledger_sections(
    tool: database.Pgbench,
    server: database.Server,
    args: argparse.Namespace,
    figures: dict[str, Any],
    *,
    tpcb: bool,
    ledger_scenarios: bool,
) -> None:
    """TPC-B and the ledger's scripts, interleaved: for each client count, TPC-B first, then
    every ledger scenario. The machine's speed drifts over minutes (it is shared), so each
    ledger figure is measured within a few minutes of the reference it is compared with.

    An unmeasured warm-up (TPC-B, then each script, a few seconds each at 8 clients) comes first:
    a new server creates its WAL segment files as it first writes (zero-filling each one),
    which would otherwise be charged to whichever run comes first.
    """
    if tpcb:
        print(f"pgbench -i -s {args.tpcb_scale} ...", flush=True)
        pgbench.initialize(tool, server, args.tpcb_scale)
    with tempfile.TemporaryDirectory() as directory:
        scripts = ledger.write_scripts(Path(directory))
        plan: list[tuple[str, str, str, Path | None]] = []  # key, title, unit, script
        if tpcb:
            plan.append(("pgbench_tpcb", "TPC-B", "tps", None))
        if ledger_scenarios:
            plan.extend((s.key, s.title, s.unit, scripts[s.key]) for s in ledger.scenarios())
        warmup_clients = min(8, max(args.client_counts))
        if args.warmup > 0:
            print(f"  warm-up: {args.warmup} s each at c={warmup_clients}", flush=True)
            for _key, _title, _unit, script in plan:
                pgbench.run(
                    tool, server, clients=warmup_clients, seconds=args.warmup, script=script
                )
        runs: dict[str, list[pgbench.PgbenchRun]] = {key: [] for key, *_ in plan}
        for clients in args.client_counts:
            for key, title, unit, script in plan:
                run = pgbench.run(
                    tool, server, clients=clients, seconds=args.duration, script=script
                )
                print(f"  {title} c={clients}: {run.tps:,.0f} {unit}", flush=True)
                runs[key].append(run)
    for key, _title, unit, _script in plan:
        figures[f"{key}_by_clients"] = _by_clients(runs[key])
        figures[f"{key}_peak_{unit}"] = round(max(r.tps for r in runs[key]), 1)
        figures["runs"][key] = [r.as_json() for r in runs[key]]
    if ledger_scenarios:
        for scenario in ledger.scenarios():
            figures["scripts"][scenario.key] = scenario.script


def run_batch_section(
    server: database.Server, args: argparse.Namespace, figures: dict[str, Any]
) -> None:
    runs = ledger.run_batches(server.url, args.batch_size_list, args.batch_repeats)
    for run in runs:
        print(f"  batch of {run.size:,}: {[round(r) for r in run.rates]} transfers/s", flush=True)
    figures["ledger_batch"] = [r.as_json() for r in runs]
    # The headline: the median call of the better batch size.
    figures["ledger_batch_transfers_per_s"] = max(
        r.as_json()["median_transfers_per_s"] for r in runs
    )
    figures["ledger_batch_statistic"] = "median call of the better batch size"


def run_http_section(
    server: database.Server, args: argparse.Namespace, figures: dict[str, Any]
) -> None:
    """The HTTP section and/or the profile: one setup, one set of servers for both."""
    profiling = None
    if "profile" in args.sections:
        profiling = http_money.Profiling(args.output.parent, args.profile_connections)
    result = http_money.run(
        server, http_options(args), http="http" in args.sections, profiling=profiling
    )
    figures["profile"] = result.pop("profile")
    if "http" in args.sections:
        figures["http"] = result
    elif result["errors"] or result["skipped"]:
        figures["errors"] += result["errors"] or [f"profile: {result['skipped']}"]
    if result["skipped"]:
        print(f"  skipped: {result['skipped']}", flush=True)


def code_version() -> dict[str, str | None]:
    """Which ledger the figures are of: the commit, whether the tree had changes, and a digest
    of the ledger's SQL as migrated (the functions change between commits)."""
    import hashlib
    import subprocess

    from creatorhub.migrate import load_sql

    root = Path(__file__).resolve().parent.parent
    try:
        described = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        described = None
    sql = "".join(
        load_sql("creatorhub.ledger", name)
        for name in ("ledger_001_functions.sql", "ledger_002_chain_in_transfers.sql")
    )
    return {
        "git": described,
        "ledger_sql_sha256": hashlib.sha256(sql.encode()).hexdigest()[:16],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    figures: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "duration_s": args.duration,
        "clients": args.client_counts,
        "sections": args.sections,
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # Anything else busy on the machine (a test run, say) lowers every figure.
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "code": code_version(),
        "runs": {},
        "scripts": {},
        "section_seconds": {},
        "errors": [],
    }
    # Every figure the JSON promises, null until measured.
    for key in (
        "pgbench_tpcb_peak_tps",
        "ledger_transfer_peak_tps",
        "ledger_transfer_with_fee_peak_tps",
        "ledger_transfer_with_single_fee_account_peak_tps",
        "ledger_hold_post_peak_ops",
        "ledger_batch_transfers_per_s",
    ):
        figures[key] = None
    load = os.getloadavg()[0]
    if load > 0.5:
        print(
            f"warning: load average {load:.1f} before the run: other work on the machine "
            "lowers every figure",
            flush=True,
        )
    print("starting the scratch database ...", flush=True)
    with database.scratch_server(
        args.database_url, keep=args.keep, name=args.scratch_database
    ) as server:
        tool = database.find_pgbench(server.major)
        figures["server"] = {
            "version": server.version,
            "embedded": server.embedded,
            "settings": server.settings,
            "fsync": server.settings.get("fsync"),
        }
        figures["pgbench"] = {"path": tool.path, "version": tool.version}
        print(
            f"PostgreSQL {server.version} ({'embedded' if server.embedded else 'external'});"
            f" {tool.version} at {tool.path}",
            flush=True,
        )
        ledger.setup_accounts(server.url)
        sections = {
            # One interleaved pass for both (see run_pgbench_and_ledger_sections).
            "pgbench": lambda: run_pgbench_and_ledger_sections(
                tool,
                server,
                args,
                figures,
                tpcb=True,
                ledger_scenarios="ledger" in args.sections,
            ),
            "ledger": lambda: (
                None
                if "pgbench" in args.sections
                else run_pgbench_and_ledger_sections(
                    tool, server, args, figures, tpcb=False, ledger_scenarios=True
                )
            ),
            "batch": lambda: run_batch_section(server, args, figures),
            "http": lambda: run_http_section(server, args, figures),
            "views": lambda: figures.__setitem__(
                "campaign_views",
                views.measure(
                    server.url,
                    views=args.views,
                    campaigns=10,
                    promoters=100,
                    days=4,
                    duplicates=0.1,
                ),
            ),
            # With the HTTP section when both run (see run_http_section).
            "profile": lambda: (
                None if "http" in args.sections else run_http_section(server, args, figures)
            ),
        }
        for name in SECTIONS:
            if name not in args.sections:
                continue
            print(f"[{name}]", flush=True)
            began = time.monotonic()
            try:
                sections[name]()
            except Exception as error:  # report it, go on with the others
                traceback.print_exc()
                figures["errors"].append(f"{name}: {type(error).__name__}: {error}"[:2000])
            figures["section_seconds"][name] = round(time.monotonic() - began, 1)
        from creatorhub.ledger.verify import verify

        print("[verify]", flush=True)
        violations = verify(server.url)
        figures["verify"] = {
            "violations": len(violations),
            "details": [str(v) for v in violations],
        }
    report.add_ratios(figures)
    figures["rows"] = [
        ("pgbench_tpcb", "pgbench TPC-B (reference), tps"),
        *((s.key, f"ledger: {s.title}, {s.unit}") for s in ledger.scenarios()),
    ]
    figures["targets"] = [t.as_json() for t in report.targets(figures)]
    figures["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    tables = report.markdown(figures)
    print(report.table(figures))
    if args.sections == ["profile"]:
        # A profile alone measures nothing else: the last full run's results stay.
        print(f"\nnot written: {args.output} (a profile-only run keeps the last full run's)")
    else:
        report.write(args.output, figures)
        args.output.with_suffix(".md").write_text(tables)
        print(f"\nwritten: {args.output} and {args.output.with_suffix('.md')}")
    if args.docs and args.sections != ["profile"]:
        if report.update_docs(DOCS, tables):
            print(f"written: the tables in {DOCS}")
        else:
            print(f"not written: {DOCS} has no result markers ({report.DOCS_START})")
    http_errors = (figures.get("http") or {}).get("errors") or []
    return 1 if figures["errors"] or http_errors or violations else 0


if __name__ == "__main__":
    sys.exit(main())
