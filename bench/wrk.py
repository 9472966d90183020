"""Driving an HTTP server with wrk: the load of the HTTP section comes from it, not from Python.

Debian's `wrk` (4.1, LuaJIT) runs the Lua script `wrk_load.lua` beside this file, which gives
every request a fresh `Idempotency-Key`, its user's token and, for claims, a job that user has
not claimed yet (see the script). Two ways to run it:

* closed loop (`rate=None`): `connections` keep-alive connections, each sending its next
  request when the previous one answered → the peak;
* fixed arrival rate (`rate=r`): the script's delay() holds the threads to r requests per second
  whatever the answers do; wrk measures latency from when a request is sent, so a request that
  found every connection busy when it was due is counted as late, and `late_share` says how far
  the latencies can be trusted (give it more connections than requests in flight).

`hey` (Debian's too) is not used: it sends the same headers with every request (`-H`), so every
request after the first would be an idempotent replay of the first, and it has no way to vary
the token or the path per request.

Around each run: the CPU time of the app's processes (utime + stime from /proc/<pid>/stat,
the process and its descendants) and of wrk itself, divided by the requests served.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().with_name("wrk_load.lua")
PLAN_ENV = "BENCH_WRK_PLAN"
TIMEOUT = "30s"  # wrk's default (2 s) would drop the slow tail from the latencies
LATE_MS = 1.0  # the script counts a request as late past this


def find_wrk() -> str | None:
    return shutil.which("wrk")


def wrk_version(path: str) -> str:
    """wrk's first line of `--version` (it exits 1 after printing its usage)."""
    result = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0].split(" Copyright")[0] if lines else path


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name (field 2) may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The process's live children, their children, and so on."""
    found: list[int] = []
    try:
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return found
    for child in children:
        found += [child, *descendants(child)]
    return found


def process_tree_cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds of a process and its live descendants (uvicorn's app processes)."""
    if pid is None:
        return None
    own = process_cpu_seconds(pid)
    if own is None:
        return None
    return own + sum(process_cpu_seconds(child) or 0.0 for child in descendants(pid))


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Plan:
    """What the script sends; see wrk_load.lua for how each mode uses these."""

    mode: str  # "reference", "funding", "claim", "tracking" or "sales"
    tokens: Sequence[str] = ()  # Authorization header values
    jobs: Sequence[str] = ()  # claim: job uids, in windows of `window`
    window: int = 1
    body: str = ""  # funding: the JSON body
    wallets: int = 0  # reference: wallets 1..wallets
    codes: Sequence[str] = ()  # tracking: the links' codes (GET /t/{code})
    sales: Sequence[Mapping[str, str]] = ()  # sales: campaigns' id, webhook secret, coupon


@dataclass
class WrkRun:
    connections: int
    rate: float | None  # the target arrival rate (req/s); None: closed loop
    seconds: float  # as wrk measured it
    requests: int  # answered, errors included
    errors: int  # 4xx/5xx answers, socket errors, timeouts
    rps: float  # answered without error, per second
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    late: int = 0  # fixed rate: requests sent more than LATE_MS after they were due
    late_max_ms: float = 0.0
    exhausted: int = 0  # claim: requests the set-up jobs did not cover
    first_error: str | None = None
    client_cpu_ms_per_request: float | None = None  # wrk's own CPU
    app_cpu_ms_per_request: float | None = None
    app_cores_busy: float | None = None  # CPU seconds of the app per wall second
    next_offset: int = 0

    @property
    def late_share(self) -> float:
        return self.late / self.requests if self.requests else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "rate_target": None if self.rate is None else round(self.rate, 1),
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "errors": self.errors,
            "rps": round(self.rps, 1),
            "mean_ms": round(self.mean_ms, 2),
            "p50_ms": round(self.p50_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "late": self.late,
            "late_share": round(self.late_share, 4),
            "late_max_ms": round(self.late_max_ms, 1),
            "exhausted": self.exhausted,
            "first_error": self.first_error,
            "client_cpu_ms_per_request": _round(self.client_cpu_ms_per_request, 3),
            "app_cpu_ms_per_request": _round(self.app_cpu_ms_per_request, 3),
            "app_cores_busy": _round(self.app_cores_busy, 2),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class WrkError(RuntimeError):
    pass


_SAFE = re.compile(r"^[\x20-\x7e]*$")


def _lua(value: Any) -> str:
    """A Lua literal of a plan value (JSON's string syntax is Lua's for printable ASCII)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if not _SAFE.match(value):
            raise ValueError(f"not printable ASCII: {value!r}")
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "{" + ",".join(_lua(item) for item in value) + "}"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{key}={_lua(item)}" for key, item in value.items()) + "}"
    raise TypeError(type(value))


@contextmanager
def _plan_file(values: Mapping[str, Any]) -> Iterator[Path]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-plan-") as handle:
        handle.write("return " + _lua(values) + "\n")
        handle.flush()
        yield Path(handle.name)


def parse_output(output: str) -> dict[str, Any]:
    match = re.search(r"^BENCH_RESULT (.*)$", output, flags=re.MULTILINE)
    if match is None:
        raise WrkError(f"no result line in wrk's output:\n{output[-2000:]}")
    values: dict[str, Any] = {}
    for pair in match.group(1).split():
        key, _, text = pair.partition("=")
        values[key] = float(text)
    error = re.search(r"^BENCH_ERROR (.*)$", output, flags=re.MULTILINE)
    values["first_error"] = None if error is None else error.group(1)[:400]
    return values


async def run(
    wrk: str,
    base_url: str,
    plan: Plan,
    *,
    connections: int,
    seconds: int,
    offset: int,
    key_prefix: str,
    threads: int = 1,
    rate: float | None = None,
    app_pid: int | None = None,
) -> WrkRun:
    """One wrk run; `offset` numbers its requests (see wrk_load.lua), the result's next_offset
    is where the next run of the same plan starts."""
    threads = max(1, min(threads, connections))
    values = {
        "mode": plan.mode,
        "offset": offset,
        "threads": threads,
        "rate": 0 if rate is None else float(rate),
        "key_prefix": key_prefix,
        "tokens": list(plan.tokens),
        "jobs": list(plan.jobs),
        "window": plan.window,
        "body": plan.body,
        "wallets": plan.wallets,
        "codes": list(plan.codes),
        "sales": [dict(campaign) for campaign in plan.sales],
    }
    command = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, int(seconds))}s",
        "--timeout",
        TIMEOUT,
        "-s",
        str(SCRIPT),
        base_url,
    ]
    with _plan_file(values) as path:
        env = {**os.environ, PLAN_ENV: str(path)}
        app_before = process_tree_cpu_seconds(app_pid)
        client_before = _children_cpu_seconds()
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *command,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        stdout, _ = await process.communicate()
        wall = time.monotonic() - started
        app_after = process_tree_cpu_seconds(app_pid)
        client_cpu = _children_cpu_seconds() - client_before
    output = stdout.decode(errors="replace")
    if process.returncode != 0:
        raise WrkError(f"wrk exited {process.returncode}:\n{output[-2000:]}")
    v = parse_output(output)
    requests = int(v["requests"])
    errors = int(
        v["status_errors"]
        + v["connect_errors"]
        + v["read_errors"]
        + v["write_errors"]
        + v["timeouts"]
    )
    duration = v["duration_us"] / 1e6 or float(seconds)
    served = max(requests - int(v["status_errors"]), 0)
    app_cpu = None if app_before is None or app_after is None else app_after - app_before
    return WrkRun(
        connections=connections,
        rate=rate,
        seconds=duration,
        requests=requests,
        errors=errors,
        rps=served / duration,
        mean_ms=v["mean_us"] / 1000,
        p50_ms=v["p50_us"] / 1000,
        p90_ms=v["p90_us"] / 1000,
        p99_ms=v["p99_us"] / 1000,
        max_ms=v["max_us"] / 1000,
        late=int(v["late"]),
        late_max_ms=v["late_max_ms"],
        exhausted=int(v["exhausted"]),
        first_error=v["first_error"],
        client_cpu_ms_per_request=client_cpu * 1000 / requests if requests else None,
        app_cpu_ms_per_request=(
            app_cpu * 1000 / requests if app_cpu is not None and requests else None
        ),
        app_cores_busy=None if app_cpu is None else app_cpu / wall,
        next_offset=int(v["next_offset"]),
    )
