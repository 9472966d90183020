"""Alembic environment of creatorhub.

The database, in order of precedence:

1. `config.attributes["connection"]`: a SQLAlchemy Connection handed over by the caller
   (`creatorhub.migrate`, the CLI, the tests);
2. `alembic -x url=postgresql://... upgrade head`;
3. the platform's own configuration: DATABASE_URL, or the embedded server.

Only online migrations are supported: revisions run PL/pgSQL files and procrastinate's schema
through the connection, which a `--sql` script could not reproduce faithfully.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from creatorhub import all_models, migrate
from creatorhub.config import Settings, get_settings
from creatorhub.embedded_db import resolve_database_url

config = context.config

if config.config_file_name is not None:
    # Keep the platform's loggers (structlog) when Alembic runs inside the platform.
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _migrate(connection: Connection, settings: Settings) -> None:
    context.configure(connection=connection, **migrate.context_options(all_models.metadata))
    # One transaction for the whole run: a lock timeout in any revision rolls back all of them.
    with migrate.lock_timeout_explained(settings), context.begin_transaction():
        migrate.lock_migrations(connection, settings)
        context.run_migrations()


def _database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    return resolve_database_url(get_settings())


def run_migrations_online() -> None:
    settings = config.attributes.get("settings") or get_settings()
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection, settings)
        return
    engine = migrate.create_migration_engine(_database_url(), settings)
    try:
        with engine.connect() as connection:
            _migrate(connection, settings)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("creatorhub migrations run online only (no --sql): see migrations/env.py")
run_migrations_online()
