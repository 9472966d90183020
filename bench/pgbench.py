"""Running pgbench and reading its figures.

Every measured run uses the same client settings: `-c N -j min(N, 2) -T seconds -n`, the
simple query protocol (pgbench's default), and a CHECKPOINT just before, so that one run's dirty
pages are not flushed during the next.
"""

from __future__ import annotations

import re
import resource
import subprocess
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from bench.database import Pgbench, Server, server_cpu_seconds
from creatorhub.db import libpq_url


@dataclass(frozen=True)
class PgbenchRun:
    clients: int
    tps: float
    transactions: int
    failed: int
    latency_avg_ms: float | None
    # CPU per transaction: of the server's processes (None for a server on another machine)
    # and of pgbench itself; shows whether a figure is bound by CPU, by locks or by fsync.
    server_cpu_ms_per_tx: float | None = None
    client_cpu_ms_per_tx: float | None = None
    server_cores_busy: float | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class PgbenchError(RuntimeError):
    pass


def _number(pattern: str, text: str) -> float | None:
    match = re.search(pattern, text, flags=re.MULTILINE)
    return None if match is None else float(match.group(1))


def parse_output(clients: int, output: str) -> PgbenchRun:
    tps = _number(r"^tps = ([\d.]+) \(without initial connection time\)", output)
    if tps is None:  # pgbench before 14 printed two tps lines
        tps = _number(r"^tps = ([\d.]+) \(excluding connections establishing\)", output)
    if tps is None:
        raise PgbenchError(f"no tps in pgbench output:\n{output[-2000:]}")
    processed = _number(r"^number of transactions actually processed: (\d+)", output)
    failed = _number(r"^number of failed transactions: (\d+)", output)
    latency = _number(r"^latency average = ([\d.]+) ms", output)
    return PgbenchRun(
        clients=clients,
        tps=tps,
        transactions=int(processed or 0),
        failed=int(failed or 0),
        latency_avg_ms=latency,
    )


def checkpoint(server: Server) -> None:
    with psycopg.connect(libpq_url(server.url), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def initialize(pgbench: Pgbench, server: Server, scale: int) -> None:
    """`pgbench -i -s scale`: the TPC-B tables (100,000 accounts per scale unit)."""
    result = subprocess.run(
        [pgbench.path, "-i", "-s", str(scale), "-q"],
        env=server.libpq_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PgbenchError(f"pgbench -i failed:\n{result.stderr[-2000:]}")


def run(
    pgbench: Pgbench,
    server: Server,
    *,
    clients: int,
    seconds: int,
    script: Path | None = None,
) -> PgbenchRun:
    """One timed run: the builtin TPC-B script, or the custom `script`."""
    checkpoint(server)
    command = [
        pgbench.path,
        "-n",
        "-c",
        str(clients),
        "-j",
        str(min(clients, 2)),
        "-T",
        str(seconds),
    ]
    if script is not None:
        command += ["-f", str(script)]
    server_cpu = server_cpu_seconds(server.postmaster)
    client_cpu = _children_cpu_seconds()
    started = time.monotonic()
    result = subprocess.run(
        command, env=server.libpq_env(), capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - started
    time.sleep(0.3)  # the backends exit and are reaped: their CPU time moves to the postmaster
    server_cpu_after = server_cpu_seconds(server.postmaster)
    client_cpu = _children_cpu_seconds() - client_cpu
    output = result.stdout + "\n" + result.stderr
    if result.returncode != 0:
        raise PgbenchError(
            f"pgbench exited {result.returncode} ({' '.join(command[1:])}):\n{output[-3000:]}"
        )
    run = parse_output(clients, output)
    if run.failed:
        raise PgbenchError(f"{run.failed} failed transactions:\n{output[-3000:]}")
    if not run.transactions:
        return run
    server_ms = None
    busy = None
    if server_cpu is not None and server_cpu_after is not None:
        server_ms = round((server_cpu_after - server_cpu) * 1000 / run.transactions, 3)
        busy = round((server_cpu_after - server_cpu) / elapsed, 2)
    return replace(
        run,
        server_cpu_ms_per_tx=server_ms,
        client_cpu_ms_per_tx=round(client_cpu * 1000 / run.transactions, 3),
        server_cores_busy=busy,
    )


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
