"""The HTTP section: money over HTTP, driven by wrk, against a reference endpoint.

For each app process count (`--app-processes`, default 1 and 2), on the run's scratch database:

1. the reference endpoint (bench/reference_app.py: one `SELECT ledger.transfer(...)` behind
   FastAPI, a psycopg pool and uvicorn, nothing else) with that many processes;
2. the product (`creatorhub serve --no-worker --workers N`) with that many processes:
   * `POST /v1/funding`: creates a funding intent (no money moves until the provider confirms);
   * `POST /v1/marketplace/jobs/{uid}/claims`: the operation that moves money in one request.
     A claim reserves the slot's share of the job's escrow for the creator (a ledger hold) in
     the request's transaction. Funding a job from a wallet moves money in one request too, but
     each request would need a job created by another request just before it; claims repeat
     from a pool of jobs set up ahead (bench/http_setup.py), at any rate wrk can send;
   * `POST /v1/campaigns/{id}/sales-events` (issue 15): a salesman campaign's shop reporting a
     sale, signed (HMAC-SHA256, computed by wrk's script through OpenSSL), its commission held
     on the escrow; a new order each, over 16 campaigns;
   * `GET /t/{code}` (issue 14): a campaign's tracking link, one statement per click, each
     click a new visitor (an address of its own as X-Forwarded-For, which the served app takes
     from its local proxy; one of three browsers), so counted: its campaign's row locked; over
     16 campaigns x 8 links.

Each operation: a short warm-up, then wrk's closed loop at each connection count
(`--connections`, default 1/4/8/16/32) → the peak; then a fixed arrival rate of 70 % of that
peak on `--open-loop-connections` connections → p50/p99. Every run records the app's CPU per
request (its processes' utime + stime from /proc, before and after, over the requests answered)
and wrk's. Round trips per request come from one counted request of each operation
(http_setup.count_round_trips).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import http_setup, wrk
from bench import profile as where_time_goes
from bench.database import Server
from bench.ledger import WALLETS

ROOT = Path(__file__).resolve().parent.parent
OPEN_LOOP_LOAD = 0.7
OPERATIONS = ("reference", "funding", "claim", "tracking", "sales")
MONEY_OPERATIONS = ("funding", "claim")
# What the product's server is measured on: the money operations, then a campaign's tracking
# link (issue 14: redirects per second against the same reference).
PRODUCT_OPERATIONS = (*MONEY_OPERATIONS, "tracking", "sales")
ENDPOINTS = {
    "reference": "POST /transfer (bench/reference_app.py)",
    "funding": "POST /v1/funding",
    "claim": "POST /v1/marketplace/jobs/{uid}/claims",
    "tracking": "GET /t/{code} (302, a new visitor each)",
    "sales": "POST /v1/campaigns/{id}/sales-events (a signed new sale each, its commission held)",
}
# Jobs are set up before each claim run for this many times the best rate seen so far (of claims,
# or else of funding, measured just before on the same server), or the floor, per second.
CLAIM_HEADROOM, CLAIM_FLOOR_RPS = 2.0, 100.0


@dataclass(frozen=True)
class Options:
    connections: Sequence[int] = (1, 4, 8, 16, 32)
    app_processes: Sequence[int] = (1, 2)
    seconds: int = 15
    warmup_seconds: int = 3
    open_loop_connections: int = 64
    wrk_threads: int = 1
    creators: int = 128
    window: int = 64
    port: int = 8792
    operations: Sequence[str] = ()  # of the product's: () = all (PRODUCT_OPERATIONS)


async def wait_ready(base: str, process: asyncio.subprocess.Process, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"exited with {process.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"no answer on {base}/readyz within {within:.0f} s")


@contextlib.asynccontextmanager
async def serving(command: list[str], env: dict[str, str], port: int) -> AsyncIterator[int]:
    """Run a server; yields its pid once /readyz answers; stops it (SIGTERM) at the end."""
    with tempfile.TemporaryFile("w+b") as log:
        process = await asyncio.create_subprocess_exec(
            *command, env=env, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=log
        )
        try:
            try:
                await wait_ready(f"http://127.0.0.1:{port}", process)
            except RuntimeError as error:
                log.seek(0)
                tail = log.read()[-1500:].decode(errors="replace")
                raise RuntimeError(f"{command[0]} did not start ({error}):\n{tail}") from None
            yield process.pid
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


def product_command(port: int, processes: int) -> list[str]:
    creatorhub = Path(sys.executable).with_name("creatorhub")
    return [
        str(creatorhub),
        *("serve", "--port", str(port), "--no-worker", "--workers", str(processes)),
    ]


def product_environment(server: Server, data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATORHUB_")}
    return {
        **env,
        **http_setup.SERVER_ENVIRONMENT,
        "DATABASE_URL": server.url,
        "CREATORHUB_DATA_DIR": data_dir,
    }


def reference_command(server: Server, port: int, processes: int) -> list[str]:
    return [
        sys.executable,
        *("-m", "bench.reference_app", "--database-url", server.url),
        *("--port", str(port), "--workers", str(processes)),
    ]


class Driver:
    """wrk runs against one server, numbering requests across runs (see wrk_load.lua)."""

    def __init__(
        self,
        tool: str,
        options: Options,
        local: http_setup.LocalApp,
        population: http_setup.Population,
    ) -> None:
        self.tool = tool
        self.options = options
        self.local = local
        self.population = population
        self.offsets = dict.fromkeys(OPERATIONS, 0)
        self.best_rps = dict.fromkeys(OPERATIONS, 0.0)
        self.run_id = uuid.uuid4().hex[:10]

    def plan(self, operation: str) -> wrk.Plan:
        if operation == "reference":
            return wrk.Plan("reference", wallets=WALLETS)
        if operation == "funding":
            return wrk.Plan("funding", tokens=self.population.tokens, body=http_setup.FUNDING_BODY)
        if operation == "tracking":
            return wrk.Plan("tracking", codes=self.population.codes)
        if operation == "sales":
            return wrk.Plan("sales", sales=self.population.sales)
        return wrk.Plan(
            "claim",
            tokens=self.population.tokens,
            jobs=list(self.population.jobs),
            window=self.population.window,
        )

    async def run(
        self,
        operation: str,
        base: str,
        app_pid: int,
        *,
        connections: int,
        seconds: int,
        rate: float | None = None,
    ) -> wrk.WrkRun:
        offset = self.offsets[operation]
        if operation == "claim":
            best = self.best_rps["claim"] or self.best_rps["funding"]
            expected = max(best * CLAIM_HEADROOM, CLAIM_FLOOR_RPS) * (seconds + 1)
            await http_setup.ensure_claims(
                self.local, self.population, offset + int(expected) + 4 * connections
            )
        result = await wrk.run(
            self.tool,
            base,
            self.plan(operation),
            connections=connections,
            seconds=seconds,
            offset=offset,
            key_prefix=f"bench-{self.run_id}-{operation}-",
            threads=self.options.wrk_threads,
            rate=rate,
            app_pid=app_pid,
        )
        self.offsets[operation] = result.next_offset
        self.best_rps[operation] = max(self.best_rps[operation], result.rps)
        return result

    async def measure(
        self, operation: str, base: str, app_pid: int, say: Callable[[str], None]
    ) -> dict[str, Any]:
        """Warm-up, closed loop at each connection count, then 70 % of the peak."""
        o = self.options
        out: dict[str, Any] = {"runs": [], "error": None}
        if o.warmup_seconds > 0:
            warm = await self.run(
                operation,
                base,
                app_pid,
                connections=min(4, max(o.connections)),
                seconds=o.warmup_seconds,
            )
            if warm.errors:
                out["error"] = f"warm-up: {warm.errors} errors, first: {warm.first_error}"
                say(f"    {operation}: {out['error']}")
                return out
        runs: list[wrk.WrkRun] = []
        for connections in o.connections:
            run = await self.run(
                operation, base, app_pid, connections=connections, seconds=o.seconds
            )
            runs.append(run)
            say(
                f"    {operation} c={connections}: {run.rps:,.0f} req/s, p99 {run.p99_ms:.1f} ms,"
                f" app CPU {_ms(run.app_cpu_ms_per_request)} ms/req"
                + (f", {run.errors} errors ({run.first_error})" if run.errors else "")
            )
        out["runs"] = [r.as_json() for r in runs]
        failing = [r for r in runs if r.errors]
        if failing:
            out["error"] = (
                f"{failing[0].errors} errors at {failing[0].connections} connections:"
                f" {failing[0].first_error}"
            )
        peak = max(runs, key=lambda r: r.rps)
        out.update(
            peak_rps=round(peak.rps, 1),
            peak_connections=peak.connections,
            app_cpu_ms_per_request=_round(peak.app_cpu_ms_per_request, 3),
            app_cores_busy_at_peak=_round(peak.app_cores_busy, 2),
            client_cpu_ms_per_request=_round(peak.client_cpu_ms_per_request, 3),
        )
        if peak.rps <= 0:
            return out
        rate = OPEN_LOOP_LOAD * peak.rps
        fixed = await self.run(
            operation,
            base,
            app_pid,
            connections=max(o.open_loop_connections, 1),
            seconds=o.seconds,
            rate=rate,
        )
        out["open_loop"] = fixed.as_json()
        out.update(
            rate_target=round(rate, 1),
            rate_achieved=round(fixed.rps, 1),
            p50_ms=round(fixed.p50_ms, 2),
            p99_ms=round(fixed.p99_ms, 2),
            late_share=round(fixed.late_share, 4),
            app_cpu_ms_per_request_at_70pct=_round(fixed.app_cpu_ms_per_request, 3),
        )
        if fixed.errors and out["error"] is None:
            out["error"] = f"{fixed.errors} errors at 70 %: {fixed.first_error}"
        say(
            f"    {operation} at {rate:,.0f} req/s: p50 {fixed.p50_ms:.1f} ms,"
            f" p99 {fixed.p99_ms:.1f} ms, {fixed.late_share:.1%} sent late"
        )
        return out


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _say(text: str) -> None:
    print(text, flush=True)


@dataclass(frozen=True)
class Profiling:
    """The "where the time goes" mode (bench/profile.py): where its files go, how many wrk
    connections load the app while py-spy samples it."""

    results: Path
    connections: int = 16


async def measure(
    server: Server,
    options: Options,
    say: Callable[[str], None],
    *,
    http: bool = True,
    profiling: Profiling | None = None,
) -> dict[str, Any]:
    """The HTTP section (`http`) and/or the profile (`profiling`), on one setup: the profile
    samples the product's 1-process server after (or instead of) its measurements."""
    tool = wrk.find_wrk()
    processes_list = list(options.app_processes) if http else [1]
    if profiling is not None and 1 not in processes_list:
        processes_list.append(1)
    result: dict[str, Any] = {
        "skipped": None,
        "errors": [],
        "connections": list(options.connections),
        "app_processes": list(options.app_processes) if http else [],
        "seconds": options.seconds,
        "open_loop_load": OPEN_LOOP_LOAD,
        "open_loop_connections": options.open_loop_connections,
        "wrk_threads": options.wrk_threads,
        "creators": options.creators,
        "job_window": options.window,
        "endpoints": ENDPOINTS,
        "operations": {op: {"by_processes": {}} for op in OPERATIONS},
        "profile": None,
    }
    if tool is None:
        result["skipped"] = (
            "wrk is not installed (`make bench` installs Debian's wrk where apt-get is usable)"
        )
        return result
    result["wrk"] = wrk.wrk_version(tool)
    say(f"  setting up {options.creators} creators, a brand and its jobs (in process) ...")
    async with http_setup.local_app(server.url) as local:
        population = await http_setup.populate(local, options.creators, options.window)
        operations_asked = options.operations or PRODUCT_OPERATIONS
        if "tracking" in operations_asked:
            population.codes = await http_setup.tracking_links(local)
        if "sales" in operations_asked:
            population.sales = await http_setup.sales_campaigns(local)
        result["round_trips"] = await http_setup.count_round_trips(local, population)
        say(
            "  round trips per request: "
            + ", ".join(f"{op} {v['count']}" for op, v in result["round_trips"].items())
        )
        driver = Driver(tool, options, local, population)
        port = options.port
        base = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory() as data_dir:
            for processes in processes_list:
                measured = http and processes in options.app_processes
                # (command, environment, operations, whether it is the product)
                servers: list[tuple[list[str], dict[str, str], tuple[str, ...], bool]] = [
                    (
                        product_command(port, processes),
                        product_environment(server, data_dir),
                        tuple(o for o in PRODUCT_OPERATIONS if o in operations_asked)
                        if measured
                        else (),
                        True,
                    ),
                ]
                if measured:
                    reference = reference_command(server, port, processes)
                    servers.insert(0, (reference, dict(os.environ), ("reference",), False))
                for command, env, operations, product in servers:
                    say(f"  {', '.join(operations) or 'profile'}: {processes} app process(es)")
                    try:
                        async with serving(command, env, port) as pid:
                            for operation in operations:
                                figures = await driver.measure(operation, base, pid, say)
                                by = result["operations"][operation]["by_processes"]
                                by[str(processes)] = figures
                                if figures["error"]:
                                    result["errors"].append(
                                        f"{operation}, {processes} process(es): {figures['error']}"
                                    )
                            if profiling is not None and processes == 1 and product:
                                result["profile"] = await where_time_goes.profile(
                                    driver, base, pid, profiling.results, profiling.connections, say
                                )
                    except (RuntimeError, OSError, wrk.WrkError) as error:
                        result["errors"].append(f"{', '.join(operations)}: {error}"[:2000])
                        say(f"    failed: {error}")
        result["claim_jobs"] = len(population.jobs)
    return result


def run(
    server: Server,
    options: Options,
    say: Callable[[str], None] = _say,
    *,
    http: bool = True,
    profiling: Profiling | None = None,
) -> dict[str, Any]:
    if profiling is not None:
        profiling.results.mkdir(parents=True, exist_ok=True)
    return asyncio.run(measure(server, options, say, http=http, profiling=profiling))
