"""Figures → ratios, targets, the JSON file and the table printed at the end of a run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def ratio(numerator: Any, denominator: Any) -> float | None:
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float):
        return None
    if denominator == 0:
        return None
    return round(numerator / denominator, 3)


@dataclass(frozen=True)
class Target:
    name: str
    rule: str
    value: float | None
    threshold: float | None
    extra_ok: bool | None = True  # a second condition (p99 for HTTP); None = not measured

    @property
    def passed(self) -> bool | None:
        if self.value is None or self.threshold is None or self.extra_ok is None:
            return None
        return self.value >= self.threshold and self.extra_ok

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rule": self.rule,
            "value": self.value,
            "threshold": None if self.threshold is None else round(self.threshold, 1),
            "pass": self.passed,
        }


def add_ratios(figures: dict[str, Any]) -> None:
    figures["ledger_transfer_vs_pgbench"] = ratio(
        figures.get("ledger_transfer_peak_tps"), figures.get("pgbench_tpcb_peak_tps")
    )
    figures["ledger_fee_vs_transfer"] = ratio(
        figures.get("ledger_transfer_with_fee_peak_tps"), figures.get("ledger_transfer_peak_tps")
    )
    figures["ledger_single_fee_account_vs_transfer"] = ratio(
        figures.get("ledger_transfer_with_single_fee_account_peak_tps"),
        figures.get("ledger_transfer_peak_tps"),
    )
    figures["ledger_hold_post_vs_pgbench"] = ratio(
        figures.get("ledger_hold_post_peak_ops"), figures.get("pgbench_tpcb_peak_tps")
    )
    figures["http_vs_pgbench"] = ratio(
        figures.get("http_money_op_peak_rps"), figures.get("pgbench_tpcb_peak_tps")
    )


def _times(value: Any, factor: float) -> float | None:
    return None if not isinstance(value, int | float) else value * factor


def targets(figures: dict[str, Any]) -> list[Target]:
    p99 = figures.get("http_money_op_p99_ms")
    return [
        Target(
            "single transfers vs pgbench",
            "ledger_transfer_peak_tps >= 1.5 x pgbench_tpcb_peak_tps",
            figures.get("ledger_transfer_peak_tps"),
            _times(figures.get("pgbench_tpcb_peak_tps"), 1.5),
        ),
        Target(
            "transfers with fee vs single",
            "ledger_transfer_with_fee_peak_tps >= 0.8 x ledger_transfer_peak_tps",
            figures.get("ledger_transfer_with_fee_peak_tps"),
            _times(figures.get("ledger_transfer_peak_tps"), 0.8),
        ),
        Target(
            "batch API",
            "ledger_batch_transfers_per_s >= 50,000",
            figures.get("ledger_batch_transfers_per_s"),
            50_000.0,
        ),
        Target(
            "HTTP money op",
            "http_money_op_peak_rps >= 0.7 x pgbench_tpcb_peak_tps and "
            "http_money_op_p99_ms <= 50 at 70 % of that peak",
            figures.get("http_money_op_peak_rps"),
            _times(figures.get("pgbench_tpcb_peak_tps"), 0.7),
            None if not isinstance(p99, int | float) else p99 <= 50.0,
        ),
    ]


def write(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(document: dict[str, Any]) -> str:
    lines: list[str] = []
    server = document["server"]
    lines.append(
        f"\nPostgreSQL {server['version']} ({'embedded' if server['embedded'] else 'external'}),"
        f" fsync={server['settings'].get('fsync')},"
        f" synchronous_commit={server['settings'].get('synchronous_commit')},"
        f" {document['machine']['cores']} cores, {document['date']},"
        f" {document['duration_s']} s per run, pgbench {document['pgbench']['version']}"
    )
    code = document.get("code") or {}
    lines.append(f"code {code.get('git')}, ledger SQL {code.get('ledger_sql_sha256')}")
    clients: list[int] = document["clients"]
    header = f"{'per pgbench transaction':<44}" + "".join(f"{f'c={c}':>9}" for c in clients)
    lines += ["", header + f"{'peak':>9}"]
    for key, title in document["rows"]:
        by = document.get(f"{key}_by_clients") or {}
        peak = document.get(f"{key}_peak_tps", document.get(f"{key}_peak_ops"))
        cells = "".join(f"{_fmt(by.get(str(c))):>9}" for c in clients)
        lines.append(f"{title:<44}{cells}{_fmt(peak):>9}")
    http = document.get("http") or {}
    if http.get("by_clients"):
        cells = "".join(f"{_fmt(r['rps']):>9}" for r in http["by_clients"])
        lines.append(
            f"{'HTTP POST /v1/funding (req/s)':<44}{cells}"
            f"{_fmt(document.get('http_money_op_peak_rps')):>9}"
        )
    elif http.get("skipped"):
        lines.append(f"{'HTTP POST /v1/funding':<44}skipped: {http['skipped'][:100]}")
    batch = document.get("ledger_batch") or []
    for run in batch:
        lines.append(
            f"batch of {run['size']:,} transfers: median {run['median_transfers_per_s']:,}/s,"
            f" best {run['best_transfers_per_s']:,}/s ({len(run['seconds'])} calls)"
        )
    if http.get("p99_ms_at_70pct") is not None:
        lines.append(
            f"HTTP open loop at {_fmt(http['open_loop_target_rate'])} req/s (70 % of peak): "
            f"p50 {http['p50_ms_at_70pct']} ms, p99 {http['p99_ms_at_70pct']} ms, "
            f"achieved {_fmt(http['open_loop_achieved_rate'])} req/s"
        )
    lines.append("")
    for name in (
        "ledger_transfer_vs_pgbench",
        "ledger_fee_vs_transfer",
        "ledger_single_fee_account_vs_transfer",
        "ledger_hold_post_vs_pgbench",
        "http_vs_pgbench",
    ):
        lines.append(f"{name:<44}{_fmt(document.get(name), 2):>9}")
    lines.append("")
    for target in document["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[target["pass"]]
        lines.append(
            f"{verdict:<6}{target['rule']}  (value {_fmt(target['value'])},"
            f" needs {_fmt(target['threshold'])})"
        )
    verify = document.get("verify") or {}
    lines.append(f"\nledger verify: {verify.get('violations', '-')} violations")
    for error in document.get("errors", []):
        lines.append(f"ERROR {error}")
    return "\n".join(lines)
