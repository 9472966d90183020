"""Ledger benchmark: `make bench`, or `.venv/bin/python -m bench [options]`.

Everything runs in one run against one PostgreSQL server: a fresh embedded one (pgserver) by
default, or the one behind `--database-url`/`DATABASE_URL`, where the scratch database
`creatorhub_bench` is created, migrated, measured, verified and dropped.

1. pgbench: `pgbench -i -s 10`, then TPC-B (builtin) at each client count: the reference.
2. ledger: pgbench again, with scripts that call the ledger's functions, one statement per
   transaction: a transfer, a transfer with its platform fee (16 fee shards, then 1 fee
   account), a hold + post cycle.
3. batch: one `ledger.apply_transfers` call of 5,000 and of 20,000 transfers, from Python.
4. http: `POST /v1/funding` through the app, closed loop at each client count, then open loop
   at 70 % of the peak for the p99.

Then `creatorhub.ledger.verify` on the scratch database (zero violations expected: the run is
also a load test) and bench/results/latest.json. See docs/benchmarks.md, section "Ledger".
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import database, http_money, ledger, pgbench, report

SECTIONS = ("pgbench", "ledger", "batch", "http")
RESULTS = Path(__file__).resolve().parent / "results"
TPCB_SCALE = 10
BATCH_SIZES = (5_000, 20_000)
BATCH_REPEATS = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    parser.add_argument(
        "--clients", default="1,4,8,16", help="comma-separated client counts (default 1,4,8,16)"
    )
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"sections to run, of {','.join(SECTIONS)}"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL server to measure (default: DATABASE_URL, else a fresh embedded one)",
    )
    parser.add_argument("--port", type=int, default=8792, help="port of the app (http section)")
    parser.add_argument(
        "--app-processes",
        type=int,
        default=1,
        help="app processes serving the http section (`serve --workers N`, default 1: the load"
        " client and PostgreSQL share the machine's cores with them)",
    )
    parser.add_argument(
        "--output", type=Path, help="also write the results here (latest.json is always written)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (to inspect it)"
    )
    args = parser.parse_args(argv)
    args.client_counts = sorted({int(c) for c in args.clients.split(",") if c.strip()})
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if args.app_processes < 1:
        parser.error("--app-processes must be at least 1")
    if unknown or not args.client_counts or min(args.client_counts) < 1:
        parser.error(f"bad --only ({', '.join(sorted(unknown))}) or --clients")
    return args


def _by_clients(runs: list[pgbench.PgbenchRun]) -> dict[str, float]:
    return {str(r.clients): round(r.tps, 1) for r in runs}


WARMUP_SECONDS = 5


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
        print(f"pgbench -i -s {TPCB_SCALE} ...", flush=True)
        pgbench.initialize(tool, server, TPCB_SCALE)
    with tempfile.TemporaryDirectory() as directory:
        scripts = ledger.write_scripts(Path(directory))
        plan: list[tuple[str, str, str, Path | None]] = []  # key, title, unit, script
        if tpcb:
            plan.append(("pgbench_tpcb", "TPC-B", "tps", None))
        if ledger_scenarios:
            plan.extend((s.key, s.title, s.unit, scripts[s.key]) for s in ledger.scenarios())
        warmup_clients = min(8, max(args.client_counts))
        print(f"  warm-up: {WARMUP_SECONDS} s each at c={warmup_clients}", flush=True)
        for _key, _title, _unit, script in plan:
            pgbench.run(tool, server, clients=warmup_clients, seconds=WARMUP_SECONDS, script=script)
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


def run_batch_section(server: database.Server, figures: dict[str, Any]) -> None:
    runs = ledger.run_batches(server.url, BATCH_SIZES, BATCH_REPEATS)
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
    result = http_money.run(
        server, args.client_counts, float(args.duration), args.port, args.app_processes
    )
    figures["http"] = result.as_json()
    figures["http"]["app_processes"] = args.app_processes
    figures["http_money_op_peak_rps"] = (
        None if result.peak_rps is None else round(result.peak_rps, 1)
    )
    figures["http_money_op_p99_ms"] = result.p99_ms
    figures["http_money_op_by_clients"] = {
        str(r.clients): round(r.rps, 1) for r in result.by_clients
    }
    if result.skipped:
        print(f"  http skipped: {result.skipped}", flush=True)
    else:
        print(
            f"  http peak {result.peak_rps:,.0f} req/s, p99 {result.p99_ms} ms at 70 %", flush=True
        )


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
        "http_money_op_peak_rps",
        "http_money_op_p99_ms",
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
    with database.scratch_server(args.database_url, keep=args.keep) as server:
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
            "batch": lambda: run_batch_section(server, figures),
            "http": lambda: run_http_section(server, args, figures),
        }
        for name in SECTIONS:
            if name not in args.sections:
                continue
            print(f"[{name}]", flush=True)
            try:
                sections[name]()
            except Exception as error:  # report it, go on with the others
                traceback.print_exc()
                figures["errors"].append(f"{name}: {type(error).__name__}: {error}"[:2000])
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
    report.write(RESULTS / "latest.json", figures)
    if args.output is not None:
        report.write(args.output, figures)
    print(report.table(figures))
    print(f"\nwritten: {RESULTS / 'latest.json'}")
    return 1 if figures["errors"] or violations else 0


if __name__ == "__main__":
    sys.exit(main())
