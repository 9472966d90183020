"""Helpers shared by tests: accounts, logins, assertions on problem responses."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from creatorhub.db import Database

PASSWORD = "correct horse battery"
TOKEN_IN_MAIL = re.compile(r"\b(che_[A-Za-z0-9_\-]+)")
_counter = itertools.count(1)


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}@example.com"


async def register(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    roles: list[str] | None = None,
    password: str = PASSWORD,
    display_name: str = "Test User",
    verified: bool = True,
) -> dict[str, Any]:
    """A new account, through the API; returns it as `GET /v1/me` shows it.

    Registration answers 202 without the account (it answers a taken address alike), so the
    account is read after logging in. `verified`: its address is confirmed the way a person
    would, with the code of the verification mail (needs an in-process client: the mail is
    read from the app's outbox). Money moves only for verified accounts.
    """
    user, _ = await _register(client, email, roles, password, display_name, verified)
    return user


async def _register(
    client: httpx.AsyncClient,
    email: str | None,
    roles: list[str] | None,
    password: str,
    display_name: str,
    verified: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    body: dict[str, Any] = {
        "email": email or unique_email(),
        "password": password,
        "display_name": display_name,
    }
    if roles is not None:
        body["roles"] = roles
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 202, response.text
    tokens = await login(client, body["email"], password)
    if verified:
        await verify_email(client, body["email"])
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    user: dict[str, Any] = me.json()
    assert user["email_verified"] is verified, user
    return user, tokens


def app_database(client: httpx.AsyncClient) -> Database:
    """The database of the app behind an in-process (ASGI) test client."""
    app = getattr(client._transport, "app", None)
    assert app is not None, "this needs an in-process client (httpx.ASGITransport)"
    database: Database = app.state.db
    return database


async def mailed_token(database: Database, to_address: str, template: str) -> str:
    """The one-time code of the newest `template` mail to `to_address`, from the outbox."""
    body = await scalar(
        database,
        "SELECT body_text FROM mail.outbox WHERE lower(to_address) = lower(:to)"
        " AND template = :template ORDER BY created_at DESC LIMIT 1",
        to=to_address,
        template=template,
    )
    assert body is not None, f"no {template} mail to {to_address}"
    match = TOKEN_IN_MAIL.search(body)
    assert match, body
    return match.group(1)


async def verify_email(client: httpx.AsyncClient, email: str) -> None:
    """Confirm the address with the code its verification mail carries (the real flow)."""
    token = await mailed_token(app_database(client), email, "verify_email")
    response = await client.post("/v1/auth/verify-email", json={"token": token})
    assert response.status_code == 200, response.text
    assert response.json()["email_verified"] is True


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def account(
    client: httpx.AsyncClient,
    *,
    roles: list[str] | None = None,
    email: str | None = None,
    verified: bool = True,
) -> Account:
    """A logged-in account; verified unless `verified=False` (see `register`)."""
    user, tokens = await _register(client, email, roles, PASSWORD, "Test User", verified)
    return Account(
        id=user["id"],
        email=user["email"],
        password=PASSWORD,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def grant_roles(database: Database, user_id: str, *roles: str) -> None:
    """Give roles directly in the database (the API only lets an admin do it)."""
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE identity.users"
                " SET roles = ARRAY(SELECT DISTINCT unnest(roles || CAST(:roles AS text[])))"
                " WHERE id = CAST(:id AS uuid)"
            ),
            {"roles": list(roles), "id": user_id},
        )


def assert_problem(
    response: httpx.Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    if field is not None:
        assert body.get("field") == field, body
    assert body.get("request_id") == response.headers["x-request-id"]
    return body


async def scalar(database: Database, sql: str, **params: Any) -> Any:
    async with database.session_scope() as session:
        return (await session.execute(text(sql), params)).scalar()


# A transaction held across the call began before the call started to wait; the database's
# own short transactions meanwhile (a worker's heartbeat, a periodic job) last milliseconds.
# Looking once the call has waited this long tells one from the other.
HELD_SECONDS = 0.3


async def open_transactions(database: Database, table: str) -> list[str]:
    """Transactions of this database open for longer than HELD_SECONDS, other than the
    caller's: sessions idle inside one (waiting on something else than the database) and
    sessions holding a lock on `table`. Call it once the call has waited HELD_SECONDS."""
    async with database.session_scope() as session:
        rows = await session.execute(
            text(
                "SELECT a.state || ': ' || a.query FROM pg_stat_activity a"
                " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
                " AND a.xact_start < now() - make_interval(secs => :held)"
                " AND (a.state LIKE 'idle in transaction%' OR EXISTS (SELECT FROM pg_locks l"
                " WHERE l.pid = a.pid AND l.relation = CAST(:table AS regclass)))"
            ),
            {"table": table, "held": HELD_SECONDS},
        )
        return [str(what) for (what,) in rows]
