"""Registration, login, tokens, e-mail and password flows, through the HTTP API."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from creatorhub.db import Database
from creatorhub.identity.schemas import REGISTRATION_ACCEPTED
from helpers import (
    PASSWORD,
    account,
    assert_problem,
    login,
    mailed_token,
    register,
    scalar,
    unique_email,
)


async def count_users(database: Database) -> int:
    return int(await scalar(database, "SELECT count(*) FROM identity.users"))


async def users_snapshot(database: Database) -> list[dict[str, Any]]:
    """Every account row as it is: a refused or taken registration must leave them all."""
    rows = await scalar(
        database,
        "SELECT coalesce(jsonb_agg(to_jsonb(u) ORDER BY u.id), '[]') FROM identity.users u",
    )
    return list(rows)


def comparable(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body bytes and headers, but the request id (new for every request)."""
    headers = sorted(
        (name, value) for name, value in response.headers.items() if name != "x-request-id"
    )
    return response.status_code, response.content, headers


# --- registration ---------------------------------------------------------------------------


async def test_register_creates_account_mail_and_job_in_one_transaction(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={
            "email": "Ann@Example.com",
            "password": PASSWORD,
            "display_name": "Ann",
            "roles": ["creator", "fan"],
        },
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "detail": REGISTRATION_ACCEPTED}
    assert "Ann@" not in response.text and "password" not in response.text

    tokens = await login(client, "ann@example.com")
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    user = me.json()
    assert user["email"] == "Ann@example.com"  # domain normalised, local part kept
    assert user["email_verified"] is False
    assert user["roles"] == ["creator", "fan"]
    assert user["status"] == "active"

    assert (
        await scalar(
            database, "SELECT count(*) FROM mail.outbox WHERE to_address = 'Ann@example.com'"
        )
        == 1
    )
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM procrastinate.procrastinate_jobs "
            "WHERE task_name LIKE '%deliver_mail' AND status = 'todo'",
        )
        == 1
    )
    audit = await scalar(
        database,
        "SELECT request_id FROM audit.audit_logs"
        " WHERE action = 'user.registered' AND entity_id = :id",
        id=user["id"],
    )
    assert audit == response.headers["x-request-id"]
    stored = await scalar(
        database,
        "SELECT password_hash FROM identity.users WHERE id = CAST(:id AS uuid)",
        id=user["id"],
    )
    assert stored.startswith("$argon2id$")


async def test_a_taken_address_gets_the_answer_of_a_new_one_and_its_owner_a_mail(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await register(client, email="dup@example.com", display_name="Owner")
    users = await users_snapshot(database)
    audit_rows = await scalar(database, "SELECT count(*) FROM audit.audit_logs")
    taken = await client.post(
        "/v1/auth/register",
        json={
            "email": "DUP@example.com",
            "password": "another passphrase 1",
            "display_name": "Other",
            "roles": ["brand"],
        },
    )
    new = await client.post(
        "/v1/auth/register",
        json={
            "email": "NEW@example.com",
            "password": "another passphrase 1",
            "display_name": "Other",
            "roles": ["brand"],
        },
    )
    # Status, body and headers alike: the answer does not tell which address had an account.
    assert comparable(taken) == comparable(new)
    assert taken.status_code == 202

    # The taken address: no account made, the owner's untouched, its owner told by mail.
    after = await users_snapshot(database)
    assert len(after) == len(users) + 1  # the new address's account only
    owner_before = [row for row in users if row["id"] == owner["id"]]
    assert [row for row in after if row["id"] == owner["id"]] == owner_before
    notice = await scalar(
        database,
        "SELECT jsonb_agg(jsonb_build_object('subject', subject, 'body', body_text,"
        " 'user_id', user_id)) FROM mail.outbox"
        " WHERE to_address = 'dup@example.com' AND template = 'registration_attempt'",
    )
    assert len(notice) == 1
    assert notice[0]["user_id"] == owner["id"]
    assert "already belongs to your account" in notice[0]["body"]
    assert "http://testserver/reset-password" in notice[0]["body"]
    assert "POST /v1/auth/login" in notice[0]["body"]
    assert "che_" not in notice[0]["body"]  # no token: the attempt grants nothing
    # Only the new account's registration was audited.
    assert await scalar(database, "SELECT count(*) FROM audit.audit_logs") == audit_rows + 1
    # The owner's password is still theirs; the attempt's does not log in.
    await login(client, "dup@example.com")
    refused = await client.post(
        "/v1/auth/login", json={"email": "dup@example.com", "password": "another passphrase 1"}
    )
    assert_problem(refused, 401, "invalid_credentials")


async def test_notices_to_a_taken_address_are_capped_per_hour(
    client: httpx.AsyncClient, database: Database
) -> None:
    await register(client, email="often@example.com")
    body = {"email": "often@example.com", "password": PASSWORD, "display_name": "Again"}
    for _ in range(5):
        assert (await client.post("/v1/auth/register", json=body)).status_code == 202
    notices = await scalar(
        database,
        "SELECT count(*) FROM mail.outbox"
        " WHERE to_address = 'often@example.com' AND template = 'registration_attempt'",
    )
    assert notices == 3


async def test_concurrent_registrations_of_one_email_create_exactly_one_account(
    client: httpx.AsyncClient, database: Database
) -> None:
    body = {"email": "race@example.com", "password": PASSWORD, "display_name": "Racer"}
    responses = await asyncio.gather(
        *(client.post("/v1/auth/register", json=body) for _ in range(12))
    )
    assert [r.status_code for r in responses] == [202] * 12
    assert len({r.content for r in responses}) == 1
    assert (
        await scalar(
            database, "SELECT count(*) FROM identity.users WHERE lower(email) = 'race@example.com'"
        )
        == 1
    )
    mails = await scalar(
        database,
        "SELECT jsonb_object_agg(template, n) FROM (SELECT template, count(*) AS n"
        " FROM mail.outbox WHERE to_address = 'race@example.com' GROUP BY template) m",
    )
    # One verification mail; the eleven others were told (the per-address cap: 3 an hour).
    assert mails == {"verify_email": 1, "registration_attempt": 3}


async def test_registration_is_rate_limited_per_client_address(database_url: str) -> None:
    from conftest import make_settings
    from creatorhub.app import create_app
    from creatorhub.config import Settings

    default = Settings.model_fields["register_max_per_ip"].default
    assert default == 10
    app = create_app(
        make_settings(database_url, register_max_per_ip=default), database_url=database_url
    )
    async with app.router.lifespan_context(app):
        db: Database = app.state.db
        transport = httpx.ASGITransport(app=app, client=("198.51.100.23", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for n in range(10):
                r = await http.post(
                    "/v1/auth/register",
                    json={"email": f"r{n}@example.com", "password": PASSWORD, "display_name": "R"},
                )
                assert r.status_code == 202, r.text
            users = await count_users(db)
            mails = await scalar(db, "SELECT count(*) FROM mail.outbox")
            assert users == 10
            blocked = await http.post(
                "/v1/auth/register",
                json={"email": "r10@example.com", "password": PASSWORD, "display_name": "R"},
            )
            assert_problem(blocked, 429, "rate_limited")
            assert 1 <= int(blocked.headers["retry-after"]) <= 900
            assert await count_users(db) == users
            assert await scalar(db, "SELECT count(*) FROM mail.outbox") == mails
            logged = await scalar(
                db,
                "SELECT count(*) FROM audit.system_logs WHERE component = 'identity.register'"
                " AND data->>'action' = 'register_rate_limited' AND data->>'ip' = '198.51.100.23'",
            )
            assert logged == 1
            # A taken address is refused alike past the limit: the 429 tells nothing either.
            again = await http.post(
                "/v1/auth/register",
                json={"email": "r0@example.com", "password": PASSWORD, "display_name": "R"},
            )
            assert_problem(again, 429, "rate_limited")
        # Another client address is not held back by this one.
        other = httpx.ASGITransport(app=app, client=("198.51.100.24", 1234))
        async with httpx.AsyncClient(transport=other, base_url="http://testserver") as http:
            r = await http.post(
                "/v1/auth/register",
                json={"email": "r11@example.com", "password": PASSWORD, "display_name": "R"},
            )
            assert r.status_code == 202, r.text
        assert await count_users(db) == users + 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD, "display_name": "A"}, "body.email"),
        ({"email": "a@example.com", "password": "short", "display_name": "A"}, "body.password"),
        ({"email": "a@example.com", "password": "x" * 129, "display_name": "A"}, "body.password"),
        (
            {"email": "a@example.com", "password": "password123", "display_name": "A"},
            "body.password",
        ),
        (
            {"email": "a@example.com", "password": PASSWORD, "display_name": "A" * 101},
            "body.display_name",
        ),
        ({"email": "a@example.com", "password": PASSWORD, "display_name": 12}, "body.display_name"),
        (
            {"email": "a@example.com", "password": PASSWORD, "display_name": "A", "is_admin": True},
            "body.is_admin",
        ),
        (
            {
                "email": "a@example.com",
                "password": PASSWORD,
                "display_name": "A",
                "roles": ["admin"],
            },
            "body.roles.0",
        ),
        ({"email": "a@example.com", "password": PASSWORD}, "body.display_name"),
        (
            {"email": "e" * 250 + "@example.com", "password": PASSWORD, "display_name": "A"},
            "body.email",
        ),
    ],
)
async def test_register_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient, database: Database, payload: dict[str, object], field: str
) -> None:
    response = await client.post("/v1/auth/register", json=payload)
    body = assert_problem(response, 422, "validation_error")
    assert field in [error["field"] for error in body["errors"]], body
    assert await count_users(database) == 0


async def test_password_containing_the_email_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={"email": "margaret@example.com", "password": "margaret-2026!", "display_name": "M"},
    )
    assert_problem(response, 422, "validation_error")


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/register",
        content=b'{"email": "a@example.com",',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 422, "malformed_json")


async def test_oversize_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/register",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 413, "payload_too_large")


# --- login and tokens -----------------------------------------------------------------------


async def test_wrong_password_and_unknown_email_get_the_same_401(client: httpx.AsyncClient) -> None:
    await register(client, email="known@example.com")
    wrong = await client.post(
        "/v1/auth/login", json={"email": "known@example.com", "password": "wrong password!"}
    )
    unknown = await client.post(
        "/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong password!"}
    )
    a = assert_problem(wrong, 401, "invalid_credentials")
    b = assert_problem(unknown, 401, "invalid_credentials")
    a.pop("request_id"), b.pop("request_id")
    assert a == b
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")


async def test_login_is_case_insensitive_on_email(client: httpx.AsyncClient) -> None:
    await register(client, email="mixed@example.com")
    tokens = await login(client, "MIXED@example.com")
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "mixed@example.com"


async def test_login_attempts_are_rate_limited_per_account(
    client: httpx.AsyncClient, database: Database
) -> None:
    await register(client, email="target@example.com")
    for _ in range(5):
        r = await client.post(
            "/v1/auth/login", json={"email": "target@example.com", "password": "not the password"}
        )
        assert r.status_code == 401
    blocked = await client.post(
        "/v1/auth/login", json={"email": "target@example.com", "password": PASSWORD}
    )
    assert_problem(blocked, 429, "too_many_attempts")
    assert 1 <= int(blocked.headers["retry-after"]) <= 900
    logged = await scalar(
        database,
        "SELECT count(*) FROM audit.system_logs WHERE component = 'identity.login' "
        "AND data->>'action' = 'login_rate_limited' AND data->>'email' = 'target@example.com'",
    )
    assert logged == 1
    # Another account from the same address is not locked out by this one.
    await register(client, email="bystander@example.com")
    await login(client, "bystander@example.com")


async def test_concurrent_login_attempts_cannot_exceed_the_limit(client: httpx.AsyncClient) -> None:
    await register(client, email="burst@example.com")
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/auth/login",
                json={"email": "burst@example.com", "password": "not the password"},
            )
            for _ in range(15)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 10, statuses


async def test_login_attempts_are_rate_limited_per_ip(app, settings, database_url: str) -> None:  # type: ignore[no-untyped-def]
    from conftest import make_settings
    from creatorhub.app import create_app

    strict = create_app(
        make_settings(database_url, login_max_attempts_per_ip=3), database_url=database_url
    )
    async with strict.router.lifespan_context(strict):
        transport = httpx.ASGITransport(app=strict, client=("198.51.100.9", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for n in range(3):
                r = await http.post(
                    "/v1/auth/login",
                    json={"email": f"x{n}@example.com", "password": "whatever pass"},
                )
                assert r.status_code == 401
            r = await http.post(
                "/v1/auth/login", json={"email": "x9@example.com", "password": "whatever pass"}
            )
            assert_problem(r, 429, "too_many_attempts")


async def test_refresh_rotates_and_reuse_revokes_the_session(client: httpx.AsyncClient) -> None:
    me = await account(client)
    first = await client.post("/v1/auth/refresh", json={"refresh_token": me.refresh_token})
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != me.refresh_token
    new_headers = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await client.get("/v1/me", headers=new_headers)).status_code == 200

    replay = await client.post("/v1/auth/refresh", json={"refresh_token": me.refresh_token})
    assert_problem(replay, 401, "token_reused")
    # The thief's replay killed the whole family: the rotated tokens die too.
    assert_problem(await client.get("/v1/me", headers=new_headers), 401, "token_revoked")
    again = await client.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert_problem(again, 401, "token_revoked")


async def test_concurrent_refresh_with_one_token_succeeds_once_then_ends_the_session(
    client: httpx.AsyncClient,
) -> None:
    """Eight refreshes of one token at once run one after another (the token's row lock): the
    first rotates it (200); the second presents a spent token, which revokes the session
    (`token_reused`); the six others find the session revoked (`token_revoked`). The pair the
    first one got dies with the session."""
    me = await account(client)
    responses = await asyncio.gather(
        *(
            client.post("/v1/auth/refresh", json={"refresh_token": me.refresh_token})
            for _ in range(8)
        )
    )
    outcomes = Counter(
        "200" if r.status_code == 200 else f"{r.status_code} {r.json()['code']}" for r in responses
    )
    assert outcomes == {"200": 1, "401 token_reused": 1, "401 token_revoked": 6}, outcomes
    for refused in responses:
        if refused.status_code != 200:
            assert_problem(refused, 401, refused.json()["code"])
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    rotated = {"Authorization": f"Bearer {winner['access_token']}"}
    assert_problem(await client.get("/v1/me", headers=rotated), 401, "token_revoked")
    again = await client.post("/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    assert_problem(again, 401, "token_revoked")


async def test_logout_revokes_access_and_refresh(client: httpx.AsyncClient) -> None:
    me = await account(client)
    r = await client.post("/v1/auth/logout", headers=me.headers)
    assert r.status_code == 204
    assert_problem(await client.get("/v1/me", headers=me.headers), 401, "token_revoked")
    r = await client.post("/v1/auth/refresh", json={"refresh_token": me.refresh_token})
    assert_problem(r, 401, "token_revoked")


async def test_expired_access_token_is_401(client: httpx.AsyncClient, database: Database) -> None:
    me = await account(client)
    async with database.session_scope() as session:
        from sqlalchemy import text

        await session.execute(
            text(
                "UPDATE identity.auth_tokens SET expires_at = now() - interval '1 second'"
                " WHERE kind = 'access'"
            )
        )
    assert_problem(await client.get("/v1/me", headers=me.headers), 401, "token_expired")


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 500],
)
async def test_missing_or_bad_credentials_are_401(
    client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.get("/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "invalid_token"}


# --- e-mail verification, password reset, e-mail change ------------------------------------


async def test_email_verification_token_works_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client, verified=False)
    token = await mailed_token(database, me.email, "verify_email")
    r = await client.post("/v1/auth/verify-email", json={"token": token})
    assert r.status_code == 200 and r.json()["email_verified"] is True
    assert (await client.get("/v1/me", headers=me.headers)).json()["email_verified"] is True
    assert_problem(
        await client.post("/v1/auth/verify-email", json={"token": token}), 410, "token_used"
    )
    assert_problem(
        await client.post("/v1/auth/verify-email", json={"token": "che_" + "A" * 43}),
        401,
        "invalid_token",
    )
    assert_problem(
        await client.post("/v1/auth/verify-email/resend", headers=me.headers),
        409,
        "already_verified",
    )


async def test_expired_verification_token_is_410(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client, verified=False)
    token = await mailed_token(database, me.email, "verify_email")
    async with database.session_scope() as session:
        from sqlalchemy import text

        await session.execute(
            text("UPDATE identity.email_tokens SET expires_at = now() - interval '1 minute'")
        )
    assert_problem(
        await client.post("/v1/auth/verify-email", json={"token": token}), 410, "token_expired"
    )
    me_now = (await client.get("/v1/me", headers=me.headers)).json()
    assert me_now["email_verified"] is False


async def test_password_reset_flow(client: httpx.AsyncClient, database: Database) -> None:
    me = await account(client)
    unknown = await client.post("/v1/auth/password-reset", json={"email": "ghost@example.com"})
    known = await client.post("/v1/auth/password-reset", json={"email": me.email})
    assert unknown.status_code == known.status_code == 202
    assert (
        await scalar(
            database, "SELECT count(*) FROM mail.outbox WHERE to_address = 'ghost@example.com'"
        )
        == 0
    )

    token = await mailed_token(database, me.email, "reset_password")
    weak = await client.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"}
    )
    assert_problem(weak, 422, "validation_error", field="body.new_password")
    r = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "a brand new passphrase"},
    )
    assert r.status_code == 204
    # Every session ended; the old password no longer works; the new one does.
    assert_problem(await client.get("/v1/me", headers=me.headers), 401, "token_revoked")
    bad = await client.post("/v1/auth/login", json={"email": me.email, "password": PASSWORD})
    assert_problem(bad, 401, "invalid_credentials")
    await login(client, me.email, "a brand new passphrase")
    reuse = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "another new passphrase"},
    )
    assert_problem(reuse, 410, "token_used")


async def test_reset_mails_are_capped_per_hour(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client)
    for _ in range(6):
        assert (
            await client.post("/v1/auth/password-reset", json={"email": me.email})
        ).status_code == 202
    sent = await scalar(
        database,
        "SELECT count(*) FROM mail.outbox WHERE template = 'reset_password' AND to_address = :e",
        e=me.email,
    )
    assert sent == 3


async def test_change_password_keeps_this_session_and_ends_the_others(
    client: httpx.AsyncClient,
) -> None:
    me = await account(client)
    other = await login(client, me.email)
    wrong = await client.post(
        "/v1/me/password",
        headers=me.headers,
        json={"current_password": "not my password", "new_password": "fresh passphrase 1"},
    )
    assert_problem(wrong, 403, "wrong_password", field="body.current_password")
    r = await client.post(
        "/v1/me/password",
        headers=me.headers,
        json={"current_password": PASSWORD, "new_password": "fresh passphrase 1"},
    )
    assert r.status_code == 204
    assert (await client.get("/v1/me", headers=me.headers)).status_code == 200
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert_problem(await client.get("/v1/me", headers=other_headers), 401, "token_revoked")
    await login(client, me.email, "fresh passphrase 1")


async def test_change_email_needs_confirmation_from_the_new_address(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client)
    taken = await register(client)
    r = await client.post(
        "/v1/me/email",
        headers=me.headers,
        json={"new_email": taken["email"], "current_password": PASSWORD},
    )
    assert_problem(r, 409, "email_taken", field="body.new_email")
    r = await client.post(
        "/v1/me/email",
        headers=me.headers,
        json={"new_email": "moved@example.com", "current_password": PASSWORD},
    )
    assert r.status_code == 202
    assert (await client.get("/v1/me", headers=me.headers)).json()["email"] == me.email  # not yet
    token = await mailed_token(database, "moved@example.com", "change_email")
    r = await client.post("/v1/auth/confirm-email-change", json={"token": token})
    assert r.status_code == 200
    profile = (await client.get("/v1/me", headers=me.headers)).json()
    assert profile["email"] == "moved@example.com" and profile["email_verified"] is True
    await login(client, "moved@example.com")
    notice = await scalar(
        database,
        "SELECT count(*) FROM mail.outbox"
        " WHERE template = 'email_changed_notice' AND to_address = :e",
        e=me.email,
    )
    assert notice == 1


async def test_deleted_account_cannot_log_in_and_frees_the_email(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client)
    r = await client.post("/v1/me/delete", headers=me.headers, json={"current_password": PASSWORD})
    assert r.status_code == 204
    assert (await client.get("/v1/me", headers=me.headers)).status_code == 401
    bad = await client.post("/v1/auth/login", json={"email": me.email, "password": PASSWORD})
    assert_problem(bad, 401, "invalid_credentials")
    status = await scalar(
        database, "SELECT status FROM identity.users WHERE id = CAST(:id AS uuid)", id=me.id
    )
    assert status == "deleted"
    await register(client, email=me.email)


async def test_unique_email_helper_gives_distinct_addresses() -> None:
    assert unique_email() != unique_email()
