"""Refusals of a signed-in account's own changes (password, e-mail): each answers its code and
changes nothing (the password, the sessions, the outbox, the audit trail)."""

from __future__ import annotations

import httpx

from creatorhub.db import Database
from helpers import PASSWORD, Account, account, assert_problem, scalar


async def trace(database: Database, user: Account) -> tuple[object, ...]:
    """What a change of password or e-mail would touch."""
    return (
        await scalar(
            database,
            "SELECT password_hash || email FROM identity.users WHERE id = CAST(:id AS uuid)",
            id=user.id,
        ),
        await scalar(
            database,
            "SELECT count(*) FILTER (WHERE revoked_at IS NULL) FROM identity.auth_sessions"
            " WHERE user_id = CAST(:id AS uuid)",
            id=user.id,
        ),
        await scalar(database, "SELECT count(*) FROM mail.outbox"),
        await scalar(database, "SELECT count(*) FROM identity.email_tokens"),
        await scalar(database, "SELECT count(*) FROM audit.audit_logs"),
    )


async def test_a_new_password_containing_the_address_is_weak(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client)
    local = me.email.split("@", 1)[0]
    before = await trace(database, me)
    # Long enough and varied (the schema's checks pass): only the account's own address,
    # which the schema does not know, makes it weak.
    response = await client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": f"My{local}Secret!"},
        headers=me.headers,
    )
    body = assert_problem(response, 422, "weak_password", field="body.new_password")
    assert "e-mail" in body["detail"]
    assert await trace(database, me) == before
    logged_in = await client.post("/v1/auth/login", json={"email": me.email, "password": PASSWORD})
    assert logged_in.status_code == 200, logged_in.text


async def test_changing_to_the_same_address_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client)
    before = await trace(database, me)
    # Whatever its case: addresses are compared as the account stores them.
    response = await client.post(
        "/v1/me/email",
        json={"new_email": me.email.upper(), "current_password": PASSWORD},
        headers=me.headers,
    )
    assert_problem(response, 409, "same_email", field="body.new_email")
    assert await trace(database, me) == before
