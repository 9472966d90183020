"""Figures → ratios, targets, the JSON file, the table printed at the end of a run, and the
Markdown table `--docs` writes into docs/benchmarks.md (between its two result markers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MONEY_OPERATIONS = ("funding", "claim")
TRACKING = "tracking"  # a campaign's tracking link, GET /t/{code} (issue 14)
SALES = "sales"  # a salesman campaign's signed sales webhook (issue 15): compared, no target
HTTP_OPERATIONS = (*MONEY_OPERATIONS, TRACKING, SALES)
DOCS_START = "<!-- bench results: written by `make bench` (bench/report.py); do not edit -->"
DOCS_END = "<!-- end of bench results -->"
# Issue #12's targets for the money operations, reported against, never asserted.
VS_REFERENCE, VS_PGBENCH, P99_MS, APP_CPU_MS = 0.4, 0.15, 50.0, 2.0
# Issue #14's target for the tracking redirect.
TRACKING_VS_REFERENCE = 0.5


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
    extra_ok: bool | None = True  # a second condition; None = not measured
    at_most: bool = False  # value <= threshold passes (latency, CPU) instead of >=

    @property
    def passed(self) -> bool | None:
        if self.value is None or self.threshold is None or self.extra_ok is None:
            return None
        within = self.value <= self.threshold if self.at_most else self.value >= self.threshold
        return within and self.extra_ok

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rule": self.rule,
            "value": self.value,
            "threshold": None if self.threshold is None else round(self.threshold, 2),
            "pass": self.passed,
        }


def http_figures(figures: dict[str, Any], operation: str, processes: str) -> dict[str, Any]:
    http = figures.get("http") or {}
    operations = http.get("operations") or {}
    by: dict[str, Any] = (operations.get(operation) or {}).get("by_processes") or {}
    return by.get(processes) or {}


def process_counts(figures: dict[str, Any]) -> list[str]:
    return [str(p) for p in (figures.get("http") or {}).get("app_processes") or []]


def add_ratios(figures: dict[str, Any]) -> None:
    tpcb = figures.get("pgbench_tpcb_peak_tps")
    figures["ledger_transfer_vs_pgbench"] = ratio(figures.get("ledger_transfer_peak_tps"), tpcb)
    figures["ledger_fee_vs_transfer"] = ratio(
        figures.get("ledger_transfer_with_fee_peak_tps"), figures.get("ledger_transfer_peak_tps")
    )
    figures["ledger_single_fee_account_vs_transfer"] = ratio(
        figures.get("ledger_transfer_with_single_fee_account_peak_tps"),
        figures.get("ledger_transfer_peak_tps"),
    )
    figures["ledger_hold_post_vs_pgbench"] = ratio(figures.get("ledger_hold_post_peak_ops"), tpcb)
    ratios: dict[str, dict[str, dict[str, float | None]]] = {}
    for operation in ("reference", *HTTP_OPERATIONS):
        peaks = {
            p: http_figures(figures, operation, p).get("peak_rps") for p in process_counts(figures)
        }
        figures[f"http_{operation}_peak_rps"] = {p: v for p, v in peaks.items() if v is not None}
        ratios[operation] = {
            p: {
                "vs_reference": ratio(peak, http_figures(figures, "reference", p).get("peak_rps")),
                "vs_pgbench": ratio(peak, tpcb),
            }
            for p, peak in peaks.items()
        }
    figures["http_ratios"] = ratios


def _times(value: Any, factor: float) -> float | None:
    return None if not isinstance(value, int | float) else value * factor


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) else None


def targets(figures: dict[str, Any]) -> list[Target]:
    found = [
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
    ]
    for operation in MONEY_OPERATIONS:
        for p in process_counts(figures):
            op = http_figures(figures, operation, p)
            ref = http_figures(figures, "reference", p)
            where = f"{operation}, {p} app process{'es' if p != '1' else ''}"
            peak = _number(op.get("peak_rps"))
            found += [
                Target(
                    f"{where}: vs reference",
                    f"peak >= {VS_REFERENCE} x the reference endpoint's peak",
                    peak,
                    _times(ref.get("peak_rps"), VS_REFERENCE),
                ),
                Target(
                    f"{where}: vs TPC-B",
                    f"peak >= {VS_PGBENCH} x pgbench_tpcb_peak_tps",
                    peak,
                    _times(figures.get("pgbench_tpcb_peak_tps"), VS_PGBENCH),
                ),
                Target(
                    f"{where}: p99 at 70 %",
                    f"p99 <= {P99_MS:g} ms at 70 % of the peak",
                    _number(op.get("p99_ms")),
                    P99_MS,
                    at_most=True,
                ),
                Target(
                    f"{where}: app CPU",
                    f"app CPU <= {APP_CPU_MS:g} ms per request (at the peak)",
                    _number(op.get("app_cpu_ms_per_request")),
                    APP_CPU_MS,
                    at_most=True,
                ),
            ]
    views = figures.get("campaign_views")
    if views:
        found.append(
            Target(
                "campaign views: dedupe + validation + settlement",
                f"views/s >= {views['target_views_per_s']:,}",
                _number(views.get("pipeline_views_per_s")),
                float(views["target_views_per_s"]),
            )
        )
    for p in process_counts(figures):
        op = http_figures(figures, TRACKING, p)
        if not op:
            continue
        ref = http_figures(figures, "reference", p)
        found.append(
            Target(
                f"tracking redirect, {p} app process{'es' if p != '1' else ''}: vs reference",
                f"peak >= {TRACKING_VS_REFERENCE} x the reference endpoint's peak",
                _number(op.get("peak_rps")),
                _times(ref.get("peak_rps"), TRACKING_VS_REFERENCE),
            )
        )
    return found


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


def _verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[passed]


def _heading(document: dict[str, Any]) -> list[str]:
    server = document.get("server") or {}
    settings = server.get("settings") or {}
    code = document.get("code") or {}
    machine = document.get("machine") or {}
    return [
        f"PostgreSQL {server.get('version')}"
        f" ({'embedded' if server.get('embedded') else 'external'}),"
        f" fsync={settings.get('fsync')}, synchronous_commit={settings.get('synchronous_commit')},"
        f" {machine.get('cores')} cores, load average {machine.get('loadavg_at_start')} at the"
        f" start, {document.get('duration_s')} s per run,"
        f" {(document.get('pgbench') or {}).get('version')},"
        f" {(document.get('http') or {}).get('wrk') or 'no wrk'}",
        f"code {code.get('git')}, ledger SQL {code.get('ledger_sql_sha256')}",
    ]


def _http_rows(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(operation, processes, figures) for every HTTP measurement of the run."""
    http = document.get("http") or {}
    return [
        (operation, p, http_figures(document, operation, p))
        for operation in ("reference", *HTTP_OPERATIONS)
        if operation in (http.get("operations") or {})
        for p in process_counts(document)
    ]


def table(document: dict[str, Any]) -> str:
    """The plain-text summary printed at the end of a run."""
    lines = ["", f"{document.get('date')}: " + _heading(document)[0], _heading(document)[1]]
    clients: list[int] = document["clients"]
    header = f"{'per pgbench transaction':<44}" + "".join(f"{f'c={c}':>9}" for c in clients)
    lines += ["", header + f"{'peak':>9}"]
    for key, title in document["rows"]:
        by = document.get(f"{key}_by_clients") or {}
        if not by:
            continue  # the section did not run
        peak = document.get(f"{key}_peak_tps", document.get(f"{key}_peak_ops"))
        cells = "".join(f"{_fmt(by.get(str(c))):>9}" for c in clients)
        lines.append(f"{title:<44}{cells}{_fmt(peak):>9}")
    for run in document.get("ledger_batch") or []:
        lines.append(
            f"batch of {run['size']:,} transfers: median {run['median_transfers_per_s']:,}/s,"
            f" best {run['best_transfers_per_s']:,}/s ({len(run['seconds'])} calls)"
        )
    http = document.get("http") or {}
    if http.get("skipped"):
        lines.append(f"\nHTTP skipped: {http['skipped']}")
    elif http:
        connections: list[int] = http.get("connections") or []
        lines += [
            "",
            f"{'HTTP, req/s (wrk, closed loop)':<36}"
            + "".join(f"{f'c={c}':>8}" for c in connections)
            + f"{'peak':>8}{'CPU ms':>8}{'p50':>7}{'p99':>8}{'trips':>6}",
        ]
        trips = http.get("round_trips") or {}
        for operation, p, f in _http_rows(document):
            runs = {r["connections"]: r for r in f.get("runs") or []}
            cells = "".join(f"{_fmt((runs.get(c) or {}).get('rps')):>8}" for c in connections)
            lines.append(
                f"{f'{operation}, {p} proc':<36}{cells}{_fmt(f.get('peak_rps')):>8}"
                f"{_fmt(f.get('app_cpu_ms_per_request'), 2):>8}{_fmt(f.get('p50_ms'), 1):>7}"
                f"{_fmt(f.get('p99_ms'), 1):>8}"
                f"{_fmt((trips.get(operation) or {}).get('count')):>6}"
            )
        lines.append("(CPU: app CPU per request at the peak; p50/p99 ms at 70 % of the peak)")
    lines.append("")
    for name in (
        "ledger_transfer_vs_pgbench",
        "ledger_fee_vs_transfer",
        "ledger_single_fee_account_vs_transfer",
        "ledger_hold_post_vs_pgbench",
    ):
        lines.append(f"{name:<44}{_fmt(document.get(name), 2):>9}")
    for operation, by in (document.get("http_ratios") or {}).items():
        if operation == "reference":
            continue
        for p, r in by.items():
            lines.append(
                f"{f'{operation}, {p} proc: x reference / x TPC-B':<44}"
                f"{_fmt(r['vs_reference'], 2):>9}{_fmt(r['vs_pgbench'], 2):>9}"
            )
    lines.append("")
    for target in document["targets"]:
        lines.append(
            f"{_verdict(target['pass']):<6}{target['name']}: {target['rule']}"
            f"  (value {_fmt(target['value'], 2)}, threshold {_fmt(target['threshold'], 2)})"
        )
    verify = document.get("verify") or {}
    lines.append(f"\nledger verify: {verify.get('violations', '-')} violations")
    for error in document.get("errors", []) + (http.get("errors") or []):
        lines.append(f"ERROR {error}")
    return "\n".join(lines)


def _cell(value: Any, digits: int = 0, passed: bool | None = None) -> str:
    text = _fmt(value, digits)
    return f"**{text}**" if passed is False else text


def markdown(document: dict[str, Any]) -> str:
    """The run as Markdown tables, for docs/benchmarks.md."""
    lines = [
        f"Run of {document.get('date')} to {document.get('finished')}: "
        + "; ".join(_heading(document))
        + ".",
        "",
    ]
    clients: list[int] = document["clients"]
    if any(document.get(f"{key}_by_clients") for key, _ in document["rows"]):
        lines += [
            "| pgbench, per client count | " + " | ".join(f"c={c}" for c in clients) + " | peak |",
            "| --- |" + " ---: |" * (len(clients) + 1),
        ]
        for key, title in document["rows"]:
            by = document.get(f"{key}_by_clients") or {}
            if not by:
                continue
            peak = document.get(f"{key}_peak_tps", document.get(f"{key}_peak_ops"))
            cells = " | ".join(_fmt(by.get(str(c))) for c in clients)
            lines.append(f"| {title} | {cells} | {_fmt(peak)} |")
        lines.append("")
    http = document.get("http") or {}
    if http.get("skipped"):
        lines += [f"HTTP section skipped: {http['skipped']}", ""]
    elif http:
        connections: list[int] = http.get("connections") or []
        trips = http.get("round_trips") or {}
        ratios = document.get("http_ratios") or {}
        lines += [
            "| HTTP (wrk), req/s by connections | "
            + " | ".join(f"c={c}" for c in connections)
            + " | peak | × reference | × TPC-B | app CPU ms/req | p50 / p99 ms at 70 %"
            " | round trips |",
            "| --- |" + " ---: |" * (len(connections) + 6),
        ]
        for operation, p, f in _http_rows(document):
            runs = {r["connections"]: r for r in f.get("runs") or []}
            r = (ratios.get(operation) or {}).get(p) or {}
            money = operation in MONEY_OPERATIONS
            vs_ref, vs_pg = r.get("vs_reference"), r.get("vs_pgbench")
            ref_target = (
                VS_REFERENCE if money else TRACKING_VS_REFERENCE if operation == TRACKING else None
            )
            ref_cell = (
                _cell(vs_ref, 2, None)
                if operation == SALES
                else "-"
                if ref_target is None
                else _cell(vs_ref, 2, _at_least(vs_ref, ref_target))
            )
            cpu, p99 = f.get("app_cpu_ms_per_request"), f.get("p99_ms")
            latency = f"{_fmt(f.get('p50_ms'), 1)} / {_cell(p99, 1, _at_most(money, p99, P99_MS))}"
            if f.get("late_share"):
                latency += f" ({f['late_share']:.0%} late)"
            lines.append(
                f"| `{http.get('endpoints', {}).get(operation, operation)}`, {p} process"
                f"{'es' if p != '1' else ''} | "
                + " | ".join(_fmt((runs.get(c) or {}).get("rps")) for c in connections)
                + f" | {_fmt(f.get('peak_rps'))}"
                f" | {ref_cell}"
                f" | {_cell(vs_pg, 2, _at_least(vs_pg, VS_PGBENCH) if money else None)}"
                f" | {_cell(cpu, 2, _at_most(money, cpu, APP_CPU_MS))}"
                f" | {latency}"
                f" | {_fmt((trips.get(operation) or {}).get('count'))} |"
            )
        lines += [
            "",
            f"Targets (bold where missed): a money operation's peak ≥ {VS_REFERENCE}× the"
            f" reference endpoint's and ≥ {VS_PGBENCH}× TPC-B's, p99 ≤ {P99_MS:g} ms at 70 % of"
            f" its peak, app CPU ≤ {APP_CPU_MS:g} ms per request (at the peak); the tracking"
            f" redirect's peak ≥ {TRACKING_VS_REFERENCE}× the reference endpoint's.",
            "",
        ]
    lines += [
        "| ledger | value |",
        "| --- | ---: |",
        f"| single transfer vs TPC-B (target ≥ 1.5) | {_fmt(document.get('ledger_transfer_vs_pgbench'), 2)} |",  # noqa: E501
        f"| transfer with fee vs single (target ≥ 0.8) | {_fmt(document.get('ledger_fee_vs_transfer'), 2)} |",  # noqa: E501
        f"| hold + post vs TPC-B | {_fmt(document.get('ledger_hold_post_vs_pgbench'), 2)} |",
        f"| batch, transfers/s (median call of the better size) | {_fmt(document.get('ledger_batch_transfers_per_s'))} |",  # noqa: E501
        f"| `ledger verify` violations after the run | {_fmt((document.get('verify') or {}).get('violations'))} |",  # noqa: E501
    ]
    views = document.get("campaign_views")
    if views:
        lines += [
            "",
            f"| campaign views ({views['views']:,} raw, `bench/views.py`) | seconds | views/s |",
            "| --- | ---: | ---: |",
            f"| `COPY` of the raw rows (reference) | {_fmt(views['copy_seconds'], 2)} | {_fmt(views['copy_views_per_s'])} |",  # noqa: E501
            f"| dedupe | {_fmt(views['dedupe_seconds'], 2)} | |",
            f"| validation + settlement | {_fmt(views['validation_and_settlement_seconds'], 2)} | {_fmt(views['settlement_views_per_s'])} |",  # noqa: E501
            f"| dedupe + validation + settlement (target ≥ {views['target_views_per_s']:,}) | | {_bold_if_missed(views['pipeline_views_per_s'], views['target_views_per_s'])} ({_fmt(views['pipeline_to_copy'], 2)}× COPY) |",  # noqa: E501
        ]
    errors = document.get("errors", []) + (http.get("errors") or [])
    if errors:
        lines += ["", *(f"- error: {e[:300]}" for e in errors)]
    return "\n".join(lines) + "\n"


def _bold_if_missed(value: Any, threshold: float) -> str:
    text = _fmt(value)
    return f"**{text}**" if _at_least(value, threshold) is False else text


def _at_least(value: Any, threshold: float) -> bool | None:
    return None if not isinstance(value, int | float) else value >= threshold


def _at_most(applies: bool, value: Any, threshold: float) -> bool | None:
    if not applies or not isinstance(value, int | float):
        return None
    return value <= threshold


def update_docs(path: Path, text: str) -> bool:
    """Replace what stands between the result markers of `path` with `text`; False when the
    markers are missing (the page is left alone)."""
    page = path.read_text()
    start, end = page.find(DOCS_START), page.find(DOCS_END)
    if start < 0 or end < start:
        return False
    head = page[: start + len(DOCS_START)]
    path.write_text(f"{head}\n\n{text}\n{page[end:]}")
    return True
