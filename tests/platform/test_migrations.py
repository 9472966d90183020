"""Migrations: up and down cleanly, build what the models declare, and the database's own rules
(triggers, partitions, case-insensitive uniqueness, procrastinate's schema) hold."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import procrastinate
import psycopg
import pytest
from alembic.script import ScriptDirectory
from psycopg import errors, sql
from psycopg.types.json import Jsonb
from sqlalchemy.exc import DBAPIError

from creatorhub import all_models, migrate
from creatorhub.config import Settings
from creatorhub.db import JOBS_SCHEMA, connection_options, libpq_url

OUR_SCHEMAS = (
    "identity",
    "audit",
    "mail",
    JOBS_SCHEMA,
    "api",
    "ledger",
    "payments",
    "marketplace",
    "social",
    "workspace",
)
REVISIONS = (
    "0001_identity",
    "0002_audit",
    "0003_mail",
    "0004_jobs",
    "0005_idempotency",
    "0006_ledger",
    "0007_payments",
    "0008_marketplace",
    "0009_social_workspace",
    "0010_ledger_chain",
    "0011_idempotency_exact_replay",
    "0012_review_links_by_shoot",
    "0013_provider_call_leases",
)


@contextmanager
def connect(url: str, *, autocommit: bool = True) -> Iterator[psycopg.Connection]:
    """A connection as the platform opens them (search path, UTC)."""
    options = connection_options(Settings(database_url=url))
    with psycopg.connect(libpq_url(url), autocommit=autocommit, options=options) as conn:
        yield conn


def schemas(url: str) -> set[str]:
    with connect(url) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace").fetchall()
    return {name for (name,) in rows}


def objects(url: str) -> dict[str, list[str]]:
    """Everything outside PostgreSQL's own schemas except Alembic's version table."""
    queries = {
        "schemas": "SELECT nspname FROM pg_namespace WHERE nspname <> ALL(%(system)s)"
        " AND nspname NOT LIKE 'pg\\_%%' AND nspname <> 'public'",
        "relations": "SELECT oid::regclass::text FROM pg_class"
        " WHERE relnamespace::regnamespace::text <> ALL(%(system)s)"
        " AND relname NOT IN ('alembic_version', 'alembic_version_pkc')",
        "functions": "SELECT oid::regprocedure::text FROM pg_proc"
        " WHERE pronamespace::regnamespace::text <> ALL(%(system)s)",
        "types": "SELECT oid::regtype::text FROM pg_type"
        " WHERE typnamespace::regnamespace::text <> ALL(%(system)s)"
        " AND typname NOT IN ('alembic_version', '_alembic_version')",
        "triggers": "SELECT tgrelid::regclass::text || ' ' || tgname FROM pg_trigger"
        " WHERE NOT tgisinternal",
        # A revision may only change a column's type or collation.
        "columns": "SELECT attrelid::regclass::text || '.' || attname || ' '"
        " || format_type(atttypid, atttypmod) || coalesce(' COLLATE ' || collname, '')"
        " FROM pg_attribute JOIN pg_class ON pg_class.oid = attrelid"
        " LEFT JOIN pg_collation ON pg_collation.oid = attcollation AND attcollation <> 100"
        " WHERE attnum > 0 AND NOT attisdropped"
        " AND relnamespace::regnamespace::text <> ALL(%(system)s)"
        " AND relname NOT IN ('alembic_version', 'alembic_version_pkc')",
    }
    system = {"system": ["pg_catalog", "information_schema", "pg_toast"]}
    with connect(url) as conn:
        found = {
            key: sorted(row[0] for row in conn.execute(query, system))
            for key, query in queries.items()
        }
    return {key: names for key, names in found.items() if names}


def leftovers(url: str) -> dict[str, list[str]]:
    """What a database at base still holds besides an empty version table (should be nothing)."""
    found = objects(url)
    with connect(url) as conn:
        versions = conn.execute("SELECT version_num FROM public.alembic_version").fetchall()
    if versions:
        found["versions"] = [version for (version,) in versions]
    return found


# --- (a) up, down, up ---------------------------------------------------------------------


def test_revisions_form_one_linear_chain() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    chain = [rev.revision for rev in script.walk_revisions("base", "heads")]
    assert script.get_heads() == [migrate.head()]
    assert tuple(reversed(chain))[: len(REVISIONS)] == REVISIONS


def test_missing_migrations_directory_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", tmp_path / "migrations")
    with pytest.raises(RuntimeError, match="migrations not found"):
        migrate.head()


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    url = empty_database_url
    assert migrate.current(url) is None

    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert set(OUR_SCHEMAS) <= schemas(url)

    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert not set(OUR_SCHEMAS) & schemas(url)
    assert leftovers(url) == {}

    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert migrate.pending_diff(url) == []


def test_each_downgrade_undoes_its_upgrade(empty_database_url: str) -> None:
    """Up one revision, down one, up again: each downgrade leaves what its upgrade found."""
    url = empty_database_url
    previous: str | None = None
    for revision in REVISIONS:
        found = objects(url)
        migrate.upgrade(url, revision)
        assert objects(url) != found, f"{revision} created nothing"
        migrate.downgrade(url, previous or "base")
        assert migrate.current(url) == previous
        assert objects(url) == found, f"downgrade of {revision} left a difference"
        migrate.upgrade(url, revision)
        assert migrate.current(url) == revision
        previous = revision
    migrate.downgrade(url, "base")
    assert leftovers(url) == {}


def test_migration_waits_for_the_lock(empty_database_url: str) -> None:
    url = empty_database_url
    errors_seen: list[BaseException] = []

    def run() -> None:
        try:
            migrate.upgrade(url)
        except BaseException as exc:  # reported by the assertion below
            errors_seen.append(exc)

    with connect(url) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrate.MIGRATION_LOCK_KEY,))
        worker = threading.Thread(target=run)
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive(), "upgrade did not wait for the migration lock"
        assert migrate.current(url) is None
        holder.execute("SELECT pg_advisory_unlock(%s)", (migrate.MIGRATION_LOCK_KEY,))
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert errors_seen == []
    assert migrate.current(url) == migrate.head()


def test_processes_starting_at_once_both_succeed(empty_database_url: str) -> None:
    """Two processes (Alembic's context is global, so not threads) upgrading the same database."""
    src = str(Path(migrate.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    code = "import sys; from creatorhub import migrate; migrate.upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, empty_database_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert migrate.current(empty_database_url) == migrate.head()


def test_migration_gives_up_on_a_held_lock_instead_of_stalling_traffic(
    empty_database_url: str,
) -> None:
    """A revision that needs a lock an open transaction holds fails after the lock timeout,
    rolled back, with what to do; left waiting, it would queue every later query on the table
    behind it. Once the lock is gone, running it again succeeds."""
    url = empty_database_url
    migrate.upgrade(url, "0011_idempotency_exact_replay")
    settings = Settings(database_url=url, migration_lock_timeout_ms=300)
    with connect(url, autocommit=False) as writer:
        # What any write in flight holds; 0012's CREATE INDEX needs SHARE, which conflicts.
        writer.execute("LOCK TABLE workspace.review_links IN ROW EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(migrate.MigrationLockTimeout) as raised:
            migrate.upgrade(url, "0012_review_links_by_shoot", settings=settings)
        waited = time.monotonic() - started
        assert migrate.current(url) == "0011_idempotency_exact_replay"
        writer.rollback()

    # The wait is the timeout plus a migration run's own time (connecting, loading Alembic).
    assert 0.3 <= waited < 5, waited
    assert str(raised.value) == (
        "the migration waited 300 ms for a lock that other sessions hold, and gave up "
        "(CREATORHUB_MIGRATION_LOCK_TIMEOUT_MS) so as not to stall the queries queued behind "
        "it; it was rolled back and changed nothing. Run it again: if it keeps failing, end or "
        "wait out the long transactions on the table it changes (pg_stat_activity, pg_locks), "
        "or migrate at a quieter time. It waited in: CREATE INDEX idx_review_links_shoot ON "
        "workspace.review_links (shoot_id, created_at)"
    )
    cause = raised.value.__cause__
    assert isinstance(cause, DBAPIError)
    assert isinstance(cause.orig, errors.LockNotAvailable)

    migrate.upgrade(url, settings=settings)
    assert migrate.current(url) == migrate.head()


# --- (b) models match migrations ----------------------------------------------------------


def test_models_match_migrations(database_url: str) -> None:
    assert migrate.pending_diff(database_url) == []


# The tables of the models' schemas, partitions left out (they have no model).
MODEL_TABLES = sql.SQL(
    "(SELECT oid FROM pg_class WHERE relnamespace::regnamespace::text = ANY(%(schemas)s)"
    " AND relkind IN ('r', 'p') AND NOT relispartition)"
)
CATALOG_QUERIES = {
    "columns": sql.SQL(
        "SELECT a.attrelid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod),"
        " a.attnotnull, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attrelid IN {tables} AND a.attnum > 0 AND NOT a.attisdropped"
    ),
    "constraints": sql.SQL(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
        " FROM pg_constraint WHERE conrelid IN {tables}"
    ),
    "indexes": sql.SQL(
        "SELECT indrelid::regclass::text, pg_get_indexdef(indexrelid)"
        " FROM pg_index WHERE indrelid IN {tables}"
    ),
    "partitioning": sql.SQL(
        "SELECT partrelid::regclass::text, pg_get_partkeydef(partrelid)"
        " FROM pg_partitioned_table WHERE partrelid IN {tables}"
    ),
}


def catalog(url: str, schemas: list[str]) -> dict[str, set[tuple[object, ...]]]:
    """The tables as PostgreSQL renders them: columns, defaults, constraints, indexes, keys."""
    with connect(url) as conn:
        return {
            key: {
                tuple(row)
                for row in conn.execute(query.format(tables=MODEL_TABLES), {"schemas": schemas})
            }
            for key, query in CATALOG_QUERIES.items()
        }


def test_migrations_build_what_create_all_builds(
    database_url: str, empty_database_url: str
) -> None:
    """Also covers what autogenerate does not compare: CHECK constraints, partitioning."""
    tables = all_models.metadata.tables.values()
    model_schemas = sorted({table.schema for table in tables if table.schema})
    engine = migrate.create_migration_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            for schema in model_schemas:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            all_models.metadata.create_all(conn)
    finally:
        engine.dispose()

    migrated = catalog(database_url, model_schemas)
    declared = catalog(empty_database_url, model_schemas)
    for key in declared:
        assert migrated[key] - declared[key] == set(), f"{key} only in the migrations"
        assert declared[key] - migrated[key] == set(), f"{key} only in the models"


# --- (c) the audit trail -------------------------------------------------------------------


def partition_of(conn: psycopg.Connection, table: str, key: str, value: object) -> str:
    row = conn.execute(
        sql.SQL("SELECT tableoid::regclass::text FROM audit.{} WHERE {} = %s").format(
            sql.Identifier(table), sql.Identifier(key)
        ),
        (value,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_audit_rows_route_to_monthly_and_default_partitions(database_url: str) -> None:
    this_month = datetime.now(UTC).strftime("%Y%m")
    long_ago = datetime(2001, 5, 17, 12, tzinfo=UTC)
    with connect(database_url) as conn:
        recent, old = uuid.uuid4(), uuid.uuid4()
        conn.execute(
            "INSERT INTO audit.audit_logs (id, action, entity_type) VALUES (%s, 'x.created', 'x')",
            (recent,),
        )
        conn.execute(
            "INSERT INTO audit.audit_logs (id, created_at, action, entity_type)"
            " VALUES (%s, %s, 'x.created', 'x')",
            (old, long_ago),
        )
        assert partition_of(conn, "audit_logs", "id", recent) == f"audit.audit_logs_p{this_month}"
        assert partition_of(conn, "audit_logs", "id", old) == "audit.audit_logs_default"

        conn.execute(
            "INSERT INTO audit.system_logs (uid, component, data) VALUES (%s, 'ledger', '{}')",
            (recent,),
        )
        conn.execute(
            "INSERT INTO audit.system_logs (uid, log_time, component, data)"
            " VALUES (%s, %s, 'ledger', '{}')",
            (old, long_ago),
        )
        assert (
            partition_of(conn, "system_logs", "uid", recent) == f"audit.system_logs_p{this_month}"
        )
        assert partition_of(conn, "system_logs", "uid", old) == "audit.system_logs_default"


@pytest.mark.parametrize(
    ("table", "insert", "change"),
    [
        (
            "audit_logs",
            "INSERT INTO audit.audit_logs (action, entity_type) VALUES ('x.created', 'x')",
            "UPDATE {} SET description = 'rewritten'",
        ),
        (
            "audit_logs",
            "INSERT INTO audit.audit_logs (action, entity_type) VALUES ('x.created', 'x')",
            "DELETE FROM {}",
        ),
        (
            "system_logs",
            "INSERT INTO audit.system_logs (component, data) VALUES ('ledger', '{}')",
            "UPDATE {} SET level = 'info'",
        ),
        (
            "system_logs",
            "INSERT INTO audit.system_logs (component, data) VALUES ('ledger', '{}')",
            "DELETE FROM {}",
        ),
    ],
)
@pytest.mark.parametrize("through", ["parent", "partition"])
def test_audit_rows_cannot_change(
    database_url: str, table: str, insert: str, change: str, through: str
) -> None:
    with connect(database_url) as conn:
        conn.execute(insert)
        target = f"audit.{table}"
        if through == "partition":
            target = partition_of_any(conn, table)
        statement = change.format(target)
        with pytest.raises(errors.RaiseException, match=f"audit.{table} is append-only") as raised:
            conn.execute(statement)
        assert raised.value.sqlstate == "P0001"
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM audit.{}").format(sql.Identifier(table))
        ).fetchone()
        assert count == (1,)


def partition_of_any(conn: psycopg.Connection, table: str) -> str:
    row = conn.execute(
        sql.SQL("SELECT tableoid::regclass::text FROM audit.{} LIMIT 1").format(
            sql.Identifier(table)
        )
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_retention_drops_whole_partitions(database_url: str) -> None:
    this_month = datetime.now(UTC).strftime("%Y%m")
    with connect(database_url) as conn:
        conn.execute("INSERT INTO audit.audit_logs (action, entity_type) VALUES ('x.created', 'x')")
        conn.execute(
            f"ALTER TABLE audit.audit_logs DETACH PARTITION audit.audit_logs_p{this_month}"
        )
        conn.execute(f"DROP TABLE audit.audit_logs_p{this_month}")
        assert conn.execute("SELECT count(*) FROM audit.audit_logs").fetchone() == (0,)


def test_ensure_monthly_partitions(database_url: str) -> None:
    with connect(database_url) as conn:

        def ensure(start: date, months: int) -> int:
            row = conn.execute(
                "SELECT audit.ensure_monthly_partitions('audit.audit_logs', %s, %s)",
                (start, months),
            ).fetchone()
            assert row is not None
            return int(row[0])

        # The revision made the current month and the next two.
        assert ensure(datetime.now(UTC).date(), 3) == 0
        # Bounds are UTC months whatever the session's time zone.
        conn.execute("SET TIME ZONE 'Pacific/Auckland'")
        assert ensure(date(2030, 12, 31), 2) == 2
        assert ensure(date(2030, 12, 1), 2) == 0
        conn.execute("SET TIME ZONE 'UTC'")  # pg_get_expr shows bounds in the session's zone
        bounds = conn.execute(
            "SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
            " WHERE oid = 'audit.audit_logs_p203101'::regclass"
        ).fetchone()
        assert bounds == (
            "FOR VALUES FROM ('2031-01-01 00:00:00+00') TO ('2031-02-01 00:00:00+00')",
        )
        # A created partition is guarded like the others.
        conn.execute(
            "INSERT INTO audit.audit_logs (created_at, action, entity_type)"
            " VALUES ('2031-01-31 23:59:59+00', 'x.created', 'x')"
        )
        assert partition_of_any(conn, "audit_logs") == "audit.audit_logs_p203101"
        with pytest.raises(errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM audit.audit_logs_p203101")

        with pytest.raises(errors.WrongObjectType):
            conn.execute(
                "SELECT audit.ensure_monthly_partitions('identity.users', '2030-01-01', 1)"
            )


def test_ensure_monthly_partitions_concurrently(database_url: str) -> None:
    """The second caller waits for the first and finds the partitions made: no duplicate error."""
    query = "SELECT audit.ensure_monthly_partitions('audit.system_logs', '2040-01-01', 2)"
    results: list[object] = []

    def second() -> None:
        try:
            with connect(database_url) as conn:
                results.append(conn.execute(query).fetchone())
        except Exception as exc:  # reported by the assertion below
            results.append(exc)

    with connect(database_url, autocommit=False) as first:
        assert first.execute(query).fetchone() == (2,)
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive(), "the second caller did not wait for the first"
        first.commit()
    waiting.join(timeout=30)
    assert results == [(0,)]


# --- (d), (e) identity ----------------------------------------------------------------------


def insert_user(conn: psycopg.Connection, email: str, username: str | None = None) -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO identity.users (email, display_name, username) VALUES (%s, 'Someone', %s)"
        " RETURNING id",
        (email, username),
    ).fetchone()
    assert row is not None
    user_id: uuid.UUID = row[0]
    return user_id


def test_updated_at_follows_updates(database_url: str) -> None:
    with connect(database_url) as conn:
        user_id = insert_user(conn, "touch@example.com")
        conn.execute(
            "INSERT INTO identity.creator_profiles (user_id, slug) VALUES (%s, 'touch')", (user_id,)
        )
        conn.execute(
            "INSERT INTO identity.brand_profiles (user_id, company_name) VALUES (%s, 'Touch')",
            (user_id,),
        )
        tables = ("users", "creator_profiles", "brand_profiles")
        key = {"users": "id", "creator_profiles": "user_id", "brand_profiles": "user_id"}

        def stamps() -> dict[str, datetime]:
            found = {}
            for table in tables:
                query = sql.SQL("SELECT updated_at FROM identity.{} WHERE {} = %s").format(
                    sql.Identifier(table), sql.Identifier(key[table])
                )
                row = conn.execute(query, (user_id,)).fetchone()
                assert row is not None
                found[table] = row[0]
            return found

        before = stamps()
        conn.execute("UPDATE identity.users SET display_name = 'Renamed' WHERE id = %s", (user_id,))
        conn.execute(
            "UPDATE identity.creator_profiles SET skills = '{photo}' WHERE user_id = %s", (user_id,)
        )
        # Even a value set by hand is replaced: updated_at is the database's to keep.
        conn.execute(
            "UPDATE identity.brand_profiles SET updated_at = '2000-01-01' WHERE user_id = %s",
            (user_id,),
        )
        after = stamps()
        for table in tables:
            assert after[table] > before[table], table


def test_email_is_unique_whatever_its_case(database_url: str) -> None:
    with connect(database_url) as conn:
        insert_user(conn, "Alice@Example.com")
        with pytest.raises(errors.UniqueViolation) as raised:
            insert_user(conn, "alice@EXAMPLE.COM")
        assert raised.value.diag.constraint_name == "uq_users_email_lower"


def test_username_is_unique_whatever_its_case(database_url: str) -> None:
    with connect(database_url) as conn:
        insert_user(conn, "one@example.com", "Sam.Smith")
        with pytest.raises(errors.UniqueViolation) as raised:
            insert_user(conn, "two@example.com", "sam.smith")
        assert raised.value.diag.constraint_name == "uq_users_username_lower"


def test_check_constraints_carry_convention_names(database_url: str) -> None:
    with connect(database_url) as conn, pytest.raises(errors.CheckViolation) as raised:
        conn.execute(
            "INSERT INTO identity.users (email, display_name, roles) VALUES"
            " ('x@example.com', 'X', '{wizard}')"
        )
    assert raised.value.diag.constraint_name == "ck_users_roles_known"


# --- (f) procrastinate ------------------------------------------------------------------------


def test_procrastinate_objects_live_in_their_schema(database_url: str) -> None:
    with connect(database_url) as conn:
        placed = conn.execute(
            "SELECT c.relnamespace::regnamespace::text, c.relname FROM pg_class c"
            " WHERE c.relname LIKE 'procrastinate%' AND c.relkind IN ('r', 'p')"
        ).fetchall()
        functions = conn.execute(
            "SELECT DISTINCT pronamespace::regnamespace::text FROM pg_proc"
            " WHERE proname LIKE 'procrastinate%'"
        ).fetchall()
        public = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relname <> 'alembic_version' AND relname <> 'alembic_version_pkc'"
        ).fetchone()
    assert {table for _, table in placed} >= {
        "procrastinate_jobs",
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_workers",
    }
    assert {schema for schema, _ in placed} == {JOBS_SCHEMA}
    assert functions == [(JOBS_SCHEMA,)]
    assert public == (0,)


async def test_procrastinate_runs_jobs_in_its_schema(database_url: str) -> None:
    options = connection_options(Settings(database_url=database_url))
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_url(database_url), kwargs={"options": options}
        )
    )
    seen: list[int] = []

    @app.task(name="tests.migrations.remember", queue="migration_test")
    async def remember(value: int) -> None:
        seen.append(value)

    async with app.open_async():
        assert await app.check_connection_async()
        job_id = await remember.defer_async(value=42)
        await app.run_worker_async(
            queues=["migration_test"], wait=False, install_signal_handlers=False
        )
        jobs = await app.job_manager.list_jobs_async(id=job_id)

    assert seen == [42]
    assert [job.status for job in jobs] == ["succeeded"]


# --- 0010: the balance chain moves into the transfer rows, with the data ------------------

CHAIN_SQL = (
    "SELECT account_id, account_version, transfer_id, amount, previous_balance, new_balance"
    " FROM ledger.entries ORDER BY account_id, account_version"
)


def _apply(conn: psycopg.Connection, transfers: list[tuple[str, str, int, str]]) -> None:
    payload = [
        {
            "debit_account_id": d,
            "credit_account_id": c,
            "amount": a,
            "kind": "t",
            "idempotency_key": k,
        }
        for d, c, a, k in transfers
    ]
    conn.execute("SELECT count(*) FROM ledger.apply_transfers(%s::jsonb)", (Jsonb(payload),))


def test_0010_keeps_every_entry_of_an_existing_ledger(empty_database_url: str) -> None:
    from creatorhub.ledger.verify import verify

    url = empty_database_url
    migrate.upgrade(url, "0009_social_workspace")
    clearing, alice, bob = (str(uuid.uuid4()) for _ in range(3))
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO ledger.accounts (id, owner_type, owner_id, kind, currency,"
            " allow_negative) VALUES (%s, 'platform', %s, 'provider_clearing', 'USD', true)",
            (clearing, uuid.UUID(int=0)),
        )
        for wallet in (alice, bob):
            conn.execute(
                "INSERT INTO ledger.accounts (id, owner_type, owner_id, kind, currency)"
                " VALUES (%s, 'user', %s, 'wallet_available', 'USD')",
                (wallet, wallet),
            )
        _apply(conn, [(clearing, alice, 1_000, "f-1"), (alice, bob, 300, "t-1")])
        _apply(conn, [(bob, alice, 10, f"b-{n}") for n in range(20)])  # the set-based path
        before = conn.execute(CHAIN_SQL).fetchall()
    assert len(before) == 44

    migrate.upgrade(url)
    with connect(url) as conn:
        assert conn.execute(CHAIN_SQL).fetchall() == before
        _apply(conn, [(alice, bob, 1, "after-1")])  # each chain goes on where it stopped
        after = conn.execute(CHAIN_SQL).fetchall()
    assert verify(url) == []
    assert len(after) == 46

    migrate.downgrade(url, "0009_social_workspace")
    with connect(url) as conn:
        assert conn.execute(CHAIN_SQL).fetchall() == after
        _apply(conn, [(alice, bob, 1, "after-2")])  # the 0006 functions are back
        assert len(conn.execute(CHAIN_SQL).fetchall()) == 48
    assert verify(url) == []
