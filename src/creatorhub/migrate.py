"""Schema migrations: the Python API behind `creatorhub db ...` and `serve`, the tests, env.py.

* `upgrade`, `downgrade`, `current`, `head`: Alembic's commands on a database URL, with a
  configuration built here, so they work from any working directory.
* `pending_diff`: what autogenerate would still change (an empty list means the models match the
  migrations).
* `load_sql`, `execute_script`: the PL/pgSQL files of a module, for revisions to run.

The Alembic options every entry point must agree on (schemas considered, version table, the lock
that keeps two processes from migrating at once, the lock timeout that keeps a migration from
stalling traffic) live here and env.py uses them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import IncludeNameFn, NameFilterParentNames, NameFilterType
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from creatorhub.config import Settings, get_settings
from creatorhub.db import JOBS_SCHEMA, connection_options, sqlalchemy_url

# Inside the package, so an installed (not only an editable) creatorhub can migrate its database.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

VERSION_TABLE = "alembic_version"
VERSION_TABLE_SCHEMA = "public"

# Any fixed bigint works; it only has to be the same in every process that migrates.
# (The bytes spell "creatorh".)
MIGRATION_LOCK_KEY = 0x63726561746F7268

# PostgreSQL's lock_not_available: a lock wait ran past lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"

# Schemas that no model owns: autogenerate must neither propose dropping what is in them nor
# compare it. procrastinate's schema is installed from its own SQL by revision 0004.
_FOREIGN_SCHEMAS = frozenset({"public", "information_schema", JOBS_SCHEMA})
_PARTITION_SUFFIX = re.compile(r"_(p\d{6}|default)$")


def _is_our_schema(name: str | None) -> bool:
    # None is the connection's default schema (public).
    return name is not None and name not in _FOREIGN_SCHEMAS and not name.startswith("pg_")


def _partitioned_tables(metadata: MetaData) -> set[tuple[str | None, str]]:
    return {
        (table.schema, table.name)
        for table in metadata.tables.values()
        if table.dialect_options["postgresql"].get("partition_by")
    }


def make_include_name(metadata: MetaData) -> IncludeNameFn:
    """The autogenerate filter: only our schemas, and no partitions of partitioned tables.

    Partitions are created at run time (`audit.ensure_monthly_partitions`), so they have no
    model; a table whose name ends in `_pYYYYMM` or `_default` is skipped only when the name
    before the suffix is a partitioned table of the models, so an ordinary table can still use
    such a name.
    """
    partitioned = _partitioned_tables(metadata)

    def include_name(
        name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
    ) -> bool:
        if type_ == "schema":
            return _is_our_schema(name)
        if type_ == "table" and name is not None:
            match = _PARTITION_SUFFIX.search(name)
            if match is not None:
                parent = name[: match.start()]
                return (parent_names.get("schema_name"), parent) not in partitioned
        return True

    return include_name


def context_options(metadata: MetaData) -> dict[str, Any]:
    """Options of `context.configure` / `MigrationContext.configure` shared by every caller."""
    return {
        "target_metadata": metadata,
        "include_schemas": True,
        "include_name": make_include_name(metadata),
        "version_table": VERSION_TABLE,
        "version_table_schema": VERSION_TABLE_SCHEMA,
        "compare_type": True,
        "compare_server_default": True,
    }


def create_migration_engine(url: str, settings: Settings | None = None) -> Engine:
    """A synchronous engine for migrations, with the platform's connection options.

    No statement timeout: a migration may legitimately run long (an index on a big table), and
    a process waiting on the migration lock while another one migrates must not give up.
    NullPool, so no connection outlives the command (a template database can then be cloned).
    """
    options = connection_options(settings or get_settings()) + " -c statement_timeout=0"
    return create_engine(sqlalchemy_url(url), poolclass=NullPool, connect_args={"options": options})


class MigrationLockTimeout(RuntimeError):
    """A migration gave up waiting for a lock; its transaction rolled back, nothing changed."""


def lock_migrations(connection: Connection, settings: Settings) -> None:
    """Wait until no other process migrates this database; held until the transaction ends.

    Call it first in the migration transaction: the revision to start from is read after it,
    so a process that waited sees the work of the one that went first and has nothing to do.

    Then every other lock the transaction waits for is bounded by
    `CREATORHUB_MIGRATION_LOCK_TIMEOUT_MS`. Waiting for the migration lock only delays another
    migrating process, so it has no bound; but an `ALTER TABLE` or `CREATE INDEX` waiting behind
    a long transaction makes every later query on that table queue behind it: better to give up
    (`MigrationLockTimeout`) and retry than to stall the traffic.
    """
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    connection.execute(
        text("SELECT set_config('lock_timeout', :timeout, true)"),
        {"timeout": f"{settings.migration_lock_timeout_ms}ms"},
    )


@contextmanager
def lock_timeout_explained(settings: Settings) -> Iterator[None]:
    """Turn PostgreSQL's lock timeout inside the block into `MigrationLockTimeout`, which tells
    the operator what happened and what to do."""
    try:
        yield
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise MigrationLockTimeout(
            f"the migration waited {settings.migration_lock_timeout_ms} ms for a lock that other "
            "sessions hold, and gave up (CREATORHUB_MIGRATION_LOCK_TIMEOUT_MS) so as not to "
            "stall the queries queued behind it; it was rolled back and changed nothing. Run it "
            "again: if it keeps failing, end or wait out the long transactions on the table it "
            "changes (pg_stat_activity, pg_locks), or migrate at a quieter time. It waited in: "
            f"{error.statement}"
        ) from error


def alembic_config() -> Config:
    """Alembic's configuration, built here rather than read from alembic.ini.

    The repository's alembic.ini is for the `alembic` command line; the platform itself must not
    depend on the working directory.
    """
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise RuntimeError(
            f"Alembic migrations not found at {MIGRATIONS_DIR}: the creatorhub installation "
            "is incomplete (the package ships them in creatorhub/migrations)"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@contextmanager
def _connection(url: str, settings: Settings | None = None) -> Iterator[Connection]:
    engine = create_migration_engine(url, settings)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _run_command(
    url: str, fn: Callable[[Config, str], None], revision: str, settings: Settings | None
) -> None:
    settings = settings or get_settings()
    config = alembic_config()
    with _connection(url, settings) as connection:
        # A fresh connection, not in a transaction: env.py's transaction commits the work.
        config.attributes["connection"] = connection
        config.attributes["settings"] = settings
        fn(config, revision)


def upgrade(url: str, revision: str = "head", *, settings: Settings | None = None) -> None:
    """Migrate up to `revision`, with `settings` (default: the process's own configuration)."""
    _run_command(url, command.upgrade, revision, settings)


def downgrade(url: str, revision: str, *, settings: Settings | None = None) -> None:
    _run_command(url, command.downgrade, revision, settings)


def current(url: str) -> str | None:
    """The revision the database is at; None if it was never migrated (or is at base)."""
    with _connection(url) as connection:
        context = MigrationContext.configure(
            connection,
            opts={"version_table": VERSION_TABLE, "version_table_schema": VERSION_TABLE_SCHEMA},
        )
        return context.get_current_revision()


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no revisions in {MIGRATIONS_DIR / 'versions'}")
    return revision


def pending_diff(url: str) -> list[Any]:
    """Differences between the models and the database (Alembic autogenerate's diff tuples).

    Run on a database at head, an empty list means the migrations build what the models
    declare. Alembic does not compare CHECK constraints, triggers or functions.
    """
    from creatorhub import all_models

    with _connection(url) as connection:
        context = MigrationContext.configure(connection, opts=context_options(all_models.metadata))
        diff: list[Any] = list(compare_metadata(context, all_models.metadata))
        return diff


def load_sql(package: str, name: str) -> str:
    """The text of `<package>/sql/<name>`.

    For example `load_sql("creatorhub.audit", "audit_001_functions.sql")`.

    Revisions load a numbered file and never edit it afterwards, so replaying an old revision
    builds what it built the first time; a change is a new file loaded by a new revision.
    """
    return resources.files(package).joinpath("sql", name).read_text(encoding="utf-8")


def execute_script(connection: Connection, script: str) -> None:
    """Run several SQL statements as one string, `$$` bodies and `%` signs included.

    Without parameters psycopg sends the text as it is, in one round trip (the simple query
    protocol, which accepts several statements); with even an empty parameter list it would
    parse `%` as placeholders and refuse several statements.
    """
    connection.exec_driver_sql(script, execution_options={"no_parameters": True})


def function_definitions(script: str, names: Sequence[str]) -> str:
    """The `CREATE FUNCTION` statements of `names` in `script`, as `CREATE OR REPLACE`.

    A downgrade that must bring back the functions an upgrade replaced takes them from the
    released file that first defined them, rather than from a copy kept in the revision.
    """
    found = []
    for name in names:
        match = re.search(
            rf"^CREATE FUNCTION {re.escape(name)}\(.*?^\$\$;$", script, re.MULTILINE | re.DOTALL
        )
        if match is None:
            raise ValueError(f"no CREATE FUNCTION {name} in the script")
        found.append(match.group(0).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    return "\n\n".join(found)
