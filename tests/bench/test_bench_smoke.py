"""The benchmark's own code runs: `python -m bench`, every section, about a second per part.

Benchmarks are not tests: nothing here looks at how large a figure is (timings taken on a machine
running the suite mean nothing). What it proves is that each part of a run still works end to
end on the test server (pgbench and the ledger's scripts, a batch, the HTTP section with wrk
against the reference endpoint and the product's two money operations, the round-trip count,
the profile with py-spy, the verify, the JSON and the Markdown) and produced its figures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components import require_component
from process_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _may_trace_other_processes() -> bool:
    """py-spy attaches to the app server, a sibling of its own process: root, or Yama off."""
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    return os.geteuid() == 0 or not scope.exists() or scope.read_text().strip() == "0"


def _http(figures: dict[str, Any], operation: str) -> dict[str, Any]:
    by: dict[str, Any] = figures["http"]["operations"][operation]["by_processes"]
    return dict(by["1"])


@pytest.mark.timeout(280)
def test_a_short_run_of_every_section_produces_its_figures(
    pg_server_url: str, tmp_path: Path
) -> None:
    if shutil.which("wrk") is None:
        require_component("wrk", "not on PATH (`make test` installs Debian's wrk)")
    if not Path(sys.executable).with_name("py-spy").is_file():
        require_component("py-spy", "not in the virtualenv (it is one of the dev extras)")
    output = tmp_path / "latest.json"
    docs = ROOT / "docs" / "benchmarks.md"
    docs_before = docs.read_text()
    command = [
        sys.executable,
        *("-m", "bench", "--database-url", pg_server_url),
        *("--scratch-database", f"creatorhub_bench_smoke_{os.getpid()}"),
        *("--only", "pgbench,ledger,batch,http,views,profile"),
        *("--views", "3000"),
        *("--duration", "1", "--warmup", "0", "--clients", "2", "--tpcb-scale", "1"),
        *("--batch-sizes", "1000", "--batch-repeats", "1"),
        *("--connections", "2", "--app-processes", "1", "--open-loop-connections", "8"),
        *("--creators", "16", "--job-window", "4", "--profile-connections", "4"),
        *("--port", str(free_port()), "--output", str(output)),
    ]
    run = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=260, check=False
    )
    assert run.returncode == 0, f"{run.stdout[-6000:]}\n{run.stderr[-4000:]}"
    figures = json.loads(output.read_text())

    assert figures["errors"] == [], figures["errors"]
    assert figures["verify"]["violations"] == 0
    assert figures["pgbench_tpcb_peak_tps"] > 0
    for key, _title in figures["rows"]:
        assert figures[f"{key}_by_clients"]["2"] > 0, key
    assert figures["ledger_batch_transfers_per_s"] > 0

    http = figures["http"]
    assert http["skipped"] is None and http["errors"] == [], http
    assert http["round_trips"]["reference"]["count"] == 1
    for operation in ("reference", "funding", "claim", "sales"):
        measured = _http(figures, operation)
        assert measured["error"] is None, (operation, measured)
        assert measured["peak_rps"] > 0, operation
        assert measured["app_cpu_ms_per_request"] > 0, operation
        assert measured["p99_ms"] > 0, operation
        assert measured["open_loop"]["requests"] > 0, operation
        if operation != "reference":
            trips = http["round_trips"][operation]
            assert trips["count"] >= 2 and trips["statements"], (operation, trips)
            assert figures["http_ratios"][operation]["1"]["vs_reference"] is not None
    money_targets = [t for t in figures["targets"] if t["name"].startswith(("funding", "claim"))]
    assert len(money_targets) == 8 and all(t["value"] is not None for t in money_targets)

    views = figures["campaign_views"]
    assert views["views"] == 3000 and views["counts"]["validated"] > 2000
    assert views["counts"]["paid_views"] == views["counts"]["validated"]
    assert views["pipeline_views_per_s"] > 0 and views["copy_views_per_s"] > 0
    (views_target,) = [t for t in figures["targets"] if t["name"].startswith("campaign views")]
    assert views_target["value"] == views["pipeline_views_per_s"]

    tables = output.with_suffix(".md").read_text()
    assert "| campaign views (3,000 raw, `bench/views.py`) |" in tables
    assert "| HTTP (wrk), req/s by connections |" in tables
    assert "POST /v1/marketplace/jobs/{uid}/claims" in tables
    assert docs.read_text() == docs_before  # only `--docs` (make bench) writes the page

    profile = figures["profile"]
    assert profile["skipped"] is None, profile
    for operation in ("funding", "claim"):
        sampled = profile["operations"][operation]
        if not _may_trace_other_processes():
            continue  # py-spy may not attach here: its error is reported, not a failure
        assert "error" not in sampled, sampled
        assert sampled["samples"] > 0
        assert Path(sampled["raw"]).is_file() and Path(sampled["report"]).is_file()
