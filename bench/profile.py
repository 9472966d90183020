"""Where the time goes: a py-spy profile of one app process under wrk load (`--only profile`).

The product with one app process (`creatorhub serve --no-worker`), set up as the HTTP section
sets it up (bench/http_money.py runs this on its 1-process server, after its measurements when
both are asked for); for each money operation, wrk's closed loop at `--profile-connections` while
`py-spy record --nonblocking` samples the app process (not paused, so the figures are those of a
run without the profiler, give or take the sampling's own CPU). py-spy records only samples in
which the process runs Python or C called from it, not the waits in the event loop, so the
samples add up to the app's CPU time.

Written to the results directory: `profile-<operation>.txt` (py-spy's raw collapsed stacks, for
flamegraph.pl or speedscope) and `profile-<operation>.md` (the summary printed at the end: the
share of samples and the milliseconds per request by package, by the platform's own functions
including what they call, and by the frames that were on the CPU themselves).

py-spy comes with the dev extras (PyPI's py-spy). It attaches to a running process: root, or
ptrace allowed (`/proc/sys/kernel/yama/ptrace_scope` 0, or CAP_SYS_PTRACE).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.http_money import Driver

ENDPOINTS = {
    "funding": "POST /v1/funding",
    "claim": "POST /v1/marketplace/jobs/{uid}/claims",
}

OPERATIONS = ("funding", "claim")
SAMPLE_RATE = 250  # per second


def find_py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.is_file() else shutil.which("py-spy")


def _frame(frame: str) -> tuple[str, str]:
    """'function (path/file.py:12)' → ('function', 'path/file.py')."""
    name, _, where = frame.rpartition(" (")
    return (name or frame), where.rstrip(")").rpartition(":")[0]


def _package(path: str) -> str:
    parts = path.split("/")
    if parts[0] == "creatorhub" and len(parts) > 2:
        return f"creatorhub.{parts[1]}"
    return parts[0].removesuffix(".py") or "?"


def summarize(raw: str, cpu_ms_per_request: float | None, top: int = 15) -> dict[str, Any]:
    """Shares of the samples in py-spy's collapsed stacks, and ms per request from them."""
    self_by_package: Counter[str] = Counter()
    self_by_frame: Counter[str] = Counter()
    ours: Counter[str] = Counter()  # the platform's functions, including what they call
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame(f) for f in stack.split(";")]
        name, path = frames[-1]
        self_by_package[_package(path)] += count
        self_by_frame[f"{name} ({path})"] += count
        # Not the command-line entry (`serve`), under which every request runs.
        for key in {
            f"{n} ({p})"
            for n, p in frames
            if p.startswith("creatorhub/") and p != "creatorhub/cli.py"
        }:
            ours[key] += count

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {
                "what": key,
                "share": round(count / total, 4),
                "ms_per_request": (
                    None
                    if cpu_ms_per_request is None
                    else round(count / total * cpu_ms_per_request, 3)
                ),
            }
            for key, count in counter.most_common(top)
        ]

    if total == 0:
        return {"samples": 0}
    return {
        "samples": total,
        "app_cpu_ms_per_request": cpu_ms_per_request,
        "self_by_package": rows(self_by_package),
        "platform_functions_inclusive": rows(ours),
        "self_by_frame": rows(self_by_frame),
    }


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.2f}"


def markdown(operation: str, summary: dict[str, Any]) -> str:
    lines = [
        f"# Where the time goes: {ENDPOINTS[operation]}",
        "",
        f"{summary.get('samples', 0)} samples of one app process under wrk's closed loop;"
        f" app CPU {_ms(summary.get('app_cpu_ms_per_request'))} ms per request.",
    ]
    titles = {
        "self_by_package": "On the CPU, by package (self)",
        "platform_functions_inclusive": "The platform's functions (including what they call)",
        "self_by_frame": "On the CPU, by frame (self)",
    }
    for key, title in titles.items():
        lines += [
            "",
            f"## {title}",
            "",
            "| what | share | ms per request |",
            "| --- | ---: | ---: |",
        ]
        for row in summary.get(key, []):
            lines.append(f"| `{row['what']}` | {row['share']:.1%} | {_ms(row['ms_per_request'])} |")
    return "\n".join(lines) + "\n"


async def profile(
    driver: Driver,
    base: str,
    pid: int,
    results: Path,
    connections: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Each money operation under wrk's closed loop while py-spy samples process `pid`."""
    py_spy = find_py_spy()
    if py_spy is None:
        return {"skipped": "py-spy is not installed (it comes with the dev extras)"}
    out: dict[str, Any] = {"skipped": None, "connections": connections, "operations": {}}
    seconds = driver.options.seconds
    for operation in OPERATIONS:
        warmup = driver.options.warmup_seconds
        if warmup > 0:
            await driver.run(operation, base, pid, connections=4, seconds=warmup)
        raw = results / f"profile-{operation}.txt"
        spy = await asyncio.create_subprocess_exec(
            *(py_spy, "record", "--pid", str(pid), "--nonblocking"),
            *("--rate", str(SAMPLE_RATE), "--duration", str(seconds)),
            *("--format", "raw", "--output", str(raw)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        run = await driver.run(operation, base, pid, connections=connections, seconds=seconds)
        spy_output, _ = await spy.communicate()
        stacks = await asyncio.to_thread(_read, raw)
        if spy.returncode != 0 or stacks is None:
            text = spy_output.decode(errors="replace")[-800:]
            out["operations"][operation] = {"error": f"py-spy exited {spy.returncode}: {text}"}
            say(f"  profile of {operation}: py-spy failed: {text}")
            continue
        summary = summarize(stacks, run.app_cpu_ms_per_request)
        summary["run"] = run.as_json()
        summary["raw"] = str(raw)
        report = results / f"profile-{operation}.md"
        await asyncio.to_thread(report.write_text, markdown(operation, summary))
        summary["report"] = str(report)
        out["operations"][operation] = summary
        say(f"  profile of {operation}: {run.rps:,.0f} req/s while sampled → {report}")
    return out


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None
