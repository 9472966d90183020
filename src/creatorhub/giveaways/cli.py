"""`creatorhub draw ...`: a giveaway draw's certificate checked offline (no database).

`draw_cli` is a Typer sub-app; the main CLI registers it under the name `draw`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from creatorhub.giveaways.proof.verify import verify_certificate

draw_cli = typer.Typer(
    help="Giveaway draws: verify a certificate offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_MARKS = {"pass": "ok  ", "fail": "FAIL", "skipped": "skip"}


@draw_cli.callback()
def _group() -> None:
    """Giveaway draws: verify a certificate offline."""
    # A callback keeps `verify` a named sub-command even while it is the only one.


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        typer.echo(f"cannot read the {what} {path}: {error.strerror}", err=True)
        raise typer.Exit(2) from None


@draw_cli.command()
def verify(
    certificate: Annotated[Path, typer.Argument(help="The certificate (JSON)", metavar="CERT")],
    entries: Annotated[
        Path | None,
        typer.Argument(help="The ENTRIES file (JSON lines), to check entries and exclusions"),
    ] = None,
    trust_key: Annotated[
        list[str] | None,
        typer.Option(
            "--trust-key",
            metavar="HEX",
            help="A trusted Ed25519 public key (hex); repeatable. Without one the signature"
            " shows the certificate is intact, not who issued it",
        ),
    ] = None,
) -> None:
    """Check every step of a draw's certificate; exit 0 if none failed, 1 otherwise."""
    cert_bytes = _read(certificate, "certificate")
    entries_bytes = None if entries is None else _read(entries, "ENTRIES file")
    trusted = None if not trust_key else set(trust_key)
    report = verify_certificate(cert_bytes, entries_bytes, trusted)
    width = max(len(step.name) for step in report.steps)
    for step in report.steps:
        typer.echo(f"{_MARKS[step.status]}  {step.name:<{width}}  {step.message}")
    if report.ok:
        typer.echo("the certificate verifies")
    else:
        typer.echo(f"the certificate does NOT verify: {', '.join(report.failed())}")
        raise typer.Exit(1)
