"""The `creatorhub` command line."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Annotated, Any

import typer

from creatorhub.config import Settings, get_settings
from creatorhub.embedded_db import EmbeddedServerError, resolve_database_url
from creatorhub.giveaways.cli import draw_cli
from creatorhub.observability import configure_logging

cli = typer.Typer(
    help="creatorhub: a self-hostable backend for creator-economy platforms.\n\n"
    "Without DATABASE_URL every command uses the embedded PostgreSQL in "
    "CREATORHUB_DATA_DIR (default ./.creatorhub), starting it when needed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
user_cli = typer.Typer(help="Account administration.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
ledger_cli = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
cli.add_typer(user_cli, name="user")
cli.add_typer(ledger_cli, name="ledger")
keys_cli = typer.Typer(help="Encryption keys of the OAuth tokens at rest.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(draw_cli, name="draw")


def _prepare(settings: Settings, *, migrate: bool) -> str:
    from creatorhub import migrate as migrations

    configure_logging(settings.log_level, settings.log_json)
    try:
        url = resolve_database_url(settings)
    except EmbeddedServerError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    if migrate:
        migrations.upgrade(url)
    return url


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo data first")] = False,
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker",
            help="Run a job worker in this process (default: only with the embedded database)",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="App processes serving requests (each with its own connection pool and, when"
            " the job worker runs in process, its own job worker)",
        ),
    ] = 1,
) -> None:
    """Migrate the database, then serve the API, the docs and the pages.

    With the embedded database a job worker runs in the same process, so this one command
    runs everything. One Python process uses one core: `--workers` (e.g. the number of cores)
    starts that many app processes on the same port.
    """
    settings = get_settings()
    # The links the platform gives out follow the address actually served (unless
    # CREATORHUB_PUBLIC_BASE_URL says otherwise).
    updates: dict[str, Any] = {"host": host or settings.host, "port": port or settings.port}
    if worker is not None:
        updates["run_worker_in_process"] = worker
    settings = settings.model_copy(update=updates)
    with _stops_embedded_servers():
        _serve(settings, demo=demo, workers=workers)


@contextlib.contextmanager
def _stops_embedded_servers() -> Iterator[None]:
    """Stop the embedded PostgreSQL this process started when it ends, by SIGTERM or SIGINT too.

    The server runs in a process group of its own, so a signal to the terminal's or the
    supervisor's group does not reach it. uvicorn shuts down gracefully on either signal and
    then raises it again with the handler that was there before it ran: for SIGTERM the
    default one, which ends the process at once, skipping every exit handler (pgserver's
    included). The handlers installed here turn both into an exception that unwinds to the
    `finally` below.
    """
    from creatorhub.embedded_db import stop_all_embedded_servers

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stopped as stopped:
        log_stop = signal.Signals(stopped.signum).name
        typer.echo(f"creatorhub stopped ({log_stop})", err=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_all_embedded_servers()


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _serve(settings: Settings, *, demo: bool, workers: int) -> None:
    import uvicorn

    from creatorhub.app import create_app

    url = _prepare(settings, migrate=True)
    if demo:
        from creatorhub.demo import load_demo

        asyncio.run(load_demo(url, settings))
    host, port = settings.host, settings.port
    base = settings.link_base_url
    where = (
        f"embedded, in {settings.data_dir}" if settings.uses_embedded_database else "DATABASE_URL"
    )
    jobs = "in this process" if settings.worker_runs_in_process else "run `creatorhub worker`"
    if settings.worker_runs_in_process and workers > 1:
        jobs = f"in each of the {workers} app processes"
    typer.echo(
        "\ncreatorhub is starting\n"
        f"  pages         {base}/\n"
        f"  API docs      {base}/docs\n"
        f"  OpenAPI       {base}/openapi.json\n"
        f"  health        {base}/healthz  {base}/readyz\n"
        f"  metrics       {base}/metrics\n"
        f"  database      {where}\n"
        f"  job worker    {jobs}\n"
        f"  app processes {workers}\n"
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }
    if workers == 1:
        uvicorn.run(create_app(settings, database_url=url), **options)
        return
    # uvicorn starts each app process afresh and builds its app from the environment: hand it
    # the database this process started and migrated, and this process's choice about the
    # job worker.
    os.environ["CREATORHUB_DATABASE_URL"] = url
    os.environ["CREATORHUB_HOST"], os.environ["CREATORHUB_PORT"] = host, str(port)
    os.environ["CREATORHUB_RUN_WORKER_IN_PROCESS"] = str(settings.worker_runs_in_process).lower()
    factory = "creatorhub.app:create_app_from_environment"
    uvicorn.run(factory, factory=True, workers=workers, **options)


@cli.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once")] = None,
    queue: Annotated[
        list[str] | None,
        typer.Option(help="Only this queue (repeatable: mail, maintenance, ...); default all"),
    ] = None,
) -> None:
    """Run a background job worker (as many as you like, on any machine).

    It runs until SIGTERM or SIGINT (then finishes its running jobs and exits 0; a second
    signal ends it at once), and waits out database outages, reconnecting by itself.
    """
    from creatorhub.db import Database
    from creatorhub.jobs import JobRuntime, WorkerSupervisor

    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    url = _prepare(settings, migrate=False)

    async def run() -> None:
        database = Database.connect(url, settings)
        supervisor = WorkerSupervisor(JobRuntime(database, settings), queues=queue or None)
        try:
            with supervisor.stop_on_signals():
                await supervisor.run_standalone()
        finally:
            await database.dispose()

    asyncio.run(run())


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from creatorhub import migrate as migrations

    url = _prepare(get_settings(), migrate=False)
    migrations.upgrade(url, revision)
    typer.echo(f"database at {migrations.current(url)}")


@db_cli.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision, `-1` for one step, `base` for empty")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Undo migrations down to REVISION. Data in dropped tables is lost."""
    from creatorhub import migrate as migrations

    if not yes and not typer.confirm(f"Downgrade to {revision}? Dropped tables lose their data"):
        raise typer.Exit(1)
    url = _prepare(get_settings(), migrate=False)
    migrations.downgrade(url, revision)
    typer.echo(f"database at {migrations.current(url) or 'base (empty)'}")


@db_cli.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one available."""
    from creatorhub import migrate as migrations

    url = _prepare(get_settings(), migrate=False)
    current, head = migrations.current(url), migrations.head()
    typer.echo(f"current: {current or 'base (empty)'}\nhead:    {head}")
    if current != head:
        typer.echo("run `creatorhub db upgrade` to apply the newer migrations")


@ledger_cli.command("verify")
def ledger_verify() -> None:
    """Check the money invariants I1-I6; exit 1 and name the rows at fault on a violation."""
    from creatorhub.ledger.verify import CHECKS, verify

    url = _prepare(get_settings(), migrate=False)
    violations = verify(url)
    for violation in violations:
        typer.echo(f"VIOLATION {violation}", err=True)
    if violations:
        typer.echo(f"{len(violations)} of {len(CHECKS)} checks failed", err=True)
        raise typer.Exit(1)
    typer.echo(f"ledger sound: {len(CHECKS)} checks of I1-I6 passed")


@cli.command()
def demo() -> None:
    """Load the demo data (idempotent: running it again changes nothing)."""
    from creatorhub.demo import load_demo

    settings = get_settings()
    url = _prepare(settings, migrate=True)
    asyncio.run(load_demo(url, settings))


@user_cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="E-mail address of the administrator")],
    display_name: Annotated[str, typer.Option(help="Name shown to others")] = "Administrator",
    password: Annotated[
        str | None,
        typer.Option(help="Password (asked for when omitted; avoid it on shared machines)"),
    ] = None,
) -> None:
    """Create an administrator account, or give an existing account the admin role."""
    from pydantic import TypeAdapter, ValidationError

    from creatorhub.db import Database
    from creatorhub.identity.passwords import password_problem
    from creatorhub.identity.schemas import Email
    from creatorhub.identity.service import create_admin as create

    try:
        email = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        typer.echo(f"not a valid e-mail address: {email}", err=True)
        raise typer.Exit(2) from None
    if password is None:
        password = getpass.getpass("Password: ")
    problem = password_problem(password, email=email)
    if problem:
        typer.echo(f"password {problem}", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    url = _prepare(settings, migrate=True)

    async def run() -> str:
        database = Database.connect(url, settings)
        try:
            async with database.session_scope() as session:
                user = await create(
                    session, email=email, password=password, display_name=display_name
                )
                return str(user.id)
        finally:
            await database.dispose()

    user_id = asyncio.run(run())
    typer.echo(f"administrator {email} ({user_id}) is ready")


@keys_cli.command("generate")
def keys_generate(
    key_id: Annotated[
        str | None, typer.Option(help="Id of the new key (default: k<YYYYMMDD>)")
    ] = None,
) -> None:
    """Print a new random AES-256 key as `id:base64` for CREATORHUB_TOKEN_ENCRYPTION_KEYS.

    Put it first in the list (it becomes the active key), keep the old keys after it, then run
    `creatorhub keys rotate`.
    """
    from datetime import UTC, datetime

    from creatorhub.kit.crypto import generate_key

    key_id = key_id or datetime.now(UTC).strftime("k%Y%m%d")
    typer.echo(f"{key_id}:{generate_key()}")


@keys_cli.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction")] = 200,
) -> None:
    """Re-encrypt every stored OAuth token with the active key (the first of
    CREATORHUB_TOKEN_ENCRYPTION_KEYS). Idempotent; afterwards the old keys can be removed."""
    from creatorhub import all_models  # noqa: F401 - every table known, for the foreign keys
    from creatorhub.db import Database
    from creatorhub.kit.crypto import KeyringError, keyring_from_settings
    from creatorhub.social.keyrotation import RotationError, rotate_keys

    settings = get_settings()
    try:
        ring = keyring_from_settings(settings)
    except KeyringError as error:
        typer.echo(f"cannot rotate: {error}", err=True)
        raise typer.Exit(1) from None
    url = _prepare(settings, migrate=False)

    async def run() -> None:
        database = Database.connect(url, settings)
        try:
            await rotate_keys(database, ring, batch_size=batch_size, progress=typer.echo)
        finally:
            await database.dispose()

    try:
        asyncio.run(run())
    except RotationError as error:
        typer.echo(f"cannot rotate: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"every stored token is sealed with key {ring.active_id}")


def main() -> None:
    from pydantic import ValidationError

    try:
        cli(prog_name="creatorhub")
    except ValidationError as error:
        if error.title != Settings.__name__:
            raise
        # A setting that cannot be used: say which and why, without a traceback.
        problems = "\n".join(
            f"  {problem['msg'].removeprefix('Value error, ')}" for problem in error.errors()
        )
        typer.echo(f"creatorhub cannot start, its settings are not valid:\n{problems}", err=True)
        raise SystemExit(2) from None
    except Exception as error:
        # Imported here, as every command's modules are: `--help` stays fast.
        from creatorhub.migrate import MigrationLockTimeout

        if not isinstance(error, MigrationLockTimeout):
            raise
        # Not a defect: the message says what to do, a traceback would bury it.
        typer.echo(f"creatorhub: {error}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
