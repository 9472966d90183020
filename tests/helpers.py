"""Helpers shared by tests: accounts, logins, assertions on problem responses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from creatorhub.db import Database

PASSWORD = "correct horse battery"
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
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": email or unique_email(),
        "password": password,
        "display_name": display_name,
    }
    if roles is not None:
        body["roles"] = roles
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def account(
    client: httpx.AsyncClient, *, roles: list[str] | None = None, email: str | None = None
) -> Account:
    user = await register(client, email=email, roles=roles)
    tokens = await login(client, user["email"])
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
