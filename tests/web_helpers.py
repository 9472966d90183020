"""Driving the web app's forms over HTTP as a browser would: GET the form, send it back with
its CSRF token and the cookies the client keeps."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
from fastapi import FastAPI

from helpers import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SESSION_COOKIE = "creatorhub_session"
PRE_SESSION_COOKIE = "creatorhub_csrf"
ROLE_COOKIE = "creatorhub_role"


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, f"no csrf_token field in the page: {html[:600]}"
    return match.group(1)


async def form_token(client: httpx.AsyncClient, path: str) -> str:
    """The CSRF token of the form on the page at `path` (a GET, as a browser opens it)."""
    page = await client.get(path)
    assert page.status_code == 200, page.text[:600]
    return csrf_of(page.text)


async def page_register(
    client: httpx.AsyncClient,
    email: str,
    *,
    roles: Sequence[str] = ("creator",),
    display_name: str = "Page User",
    password: str = PASSWORD,
) -> httpx.Response:
    token = await form_token(client, "/register")
    return await client.post(
        "/register",
        data={
            "csrf_token": token,
            "email": email,
            "display_name": display_name,
            "password": password,
            "roles": list(roles),
        },
    )


async def page_login(
    client: httpx.AsyncClient, email: str, *, password: str = PASSWORD, next_path: str = ""
) -> httpx.Response:
    token = await form_token(client, "/login")
    return await client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": password, "next": next_path},
    )


def session_cookie(client: httpx.AsyncClient) -> str | None:
    return client.cookies.get(SESSION_COOKIE)


def set_cookie_header(response: httpx.Response, name: str) -> str:
    """The response's Set-Cookie header for `name` (its attributes included)."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


@contextlib.asynccontextmanager
async def signed_in_browser(
    app: FastAPI, email: str, *, address: tuple[str, int] = ("203.0.113.30", 40030)
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookies), signed in on the pages as `email` (an account
    made through the API or the pages, with the test password)."""
    transport = httpx.ASGITransport(app=app, client=address)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        signed_in = await page_login(browser, email)
        assert signed_in.status_code == 303, signed_in.text[:600]
        yield browser


@contextlib.contextmanager
def recording_in(recorder: Any, browser: httpx.AsyncClient) -> Iterator[None]:
    """The round-trip recorder of tests/platform/test_round_trips.py calling through `browser`
    (a signed-in page session) for a while, then through its own client again."""
    before = recorder.client
    recorder.client = browser
    try:
        yield
    finally:
        recorder.client = before
