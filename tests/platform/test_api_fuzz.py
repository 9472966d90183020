"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

For every operation of `/openapi.json`, generated requests (valid ones, and invalid ones in
schemathesis' negative mode) must never get a 5xx, and every response must match what the
document promises: a documented status code, a documented content type, a body that fits the
documented schema. Operations that need a token are sent twice: as generated (no valid token)
and with the bearer token of a real account holding every role, so the handlers behind the
authorization checks are reached too.

Checks run: not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance, and negative_data_rejection (input that breaks the schema must get
a 4xx: the design's "bad input never gets a 500, it gets a 4xx"). Left out:

* positive_data_acceptance: it wants a 2xx for every schema-valid request, but valid-looking
  input is refused by design in ways the schema cannot express: a well-formed token or id that
  does not exist (401/404), a wrong current password (401), an address already taken (409),
  login throttling (429).
* ignored_auth, use_after_free, ensure_resource_availability and the other stateful checks:
  they need links between operations (the document has none) or replay requests with altered
  credentials, which the test does explicitly instead (anonymous and authenticated sends).
* max_response_time: timing is measured by bench/, never by tests.

One database and one app per operation. The app is reached in-process over ASGI; a small
wrapper gives requests a real client address, as uvicorn does (schemathesis' ASGI client
reports the host name "testclient", see `test_a_client_address_that_is_not_an_ip`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hypothesis
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.db import libpq_url

MAX_EXAMPLES = 12
CLIENT_ADDRESS = ("203.0.113.50", 50000)
PASSWORD = "fuzzing passphrase 1"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _static_operations() -> list[tuple[str, str, bool]]:
    """(method, path, needs a token) of every operation, read from the app's document.

    Only to parametrize the test at collection time (no database needed to build the
    document); the test itself fuzzes the `/openapi.json` that the running app serves.
    """
    document = create_app(make_settings("postgresql://schema-only@127.0.0.1/unused")).openapi()
    return [
        (method.upper(), path, bool(spec.get("security")))
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    ]


OPERATIONS = _static_operations()


def with_client_address(app: Any) -> Any:
    """The ASGI app, with every HTTP request coming from a real IP address."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": CLIENT_ADDRESS}
        await app(scope, receive, send)

    return wrapped


@pytest.fixture
def fuzz_app(database_url: str) -> Iterator[Any]:
    application = create_app(make_settings(database_url), database_url=database_url)
    try:
        yield with_client_address(application)
    finally:
        # schemathesis keeps an ASGI app's lifespan running across requests: end it (and its
        # database connections) before the test database goes away.
        asgi.shutdown_lifespans()


def _grant_admin(database_url: str, email: str) -> None:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(
            "UPDATE identity.users SET roles = ARRAY['admin','brand','creator','fan'] "
            "WHERE lower(email) = lower(%s)",
            (email,),
        )


class Session:
    """A real account with every role, and a valid access token for it."""

    def __init__(self, app: Any, database_url: str) -> None:
        self.app = app
        self.email = "fuzzer@example.com"
        with asgi.get_client(app) as client:
            created = client.post(
                "/v1/auth/register",
                json={
                    "email": self.email,
                    "password": PASSWORD,
                    "display_name": "Fuzzer",
                    "roles": ["fan", "creator", "brand"],
                },
            )
            assert created.status_code == 201, created.text
        _grant_admin(database_url, self.email)
        self.token = self.login()

    def login(self) -> str:
        with asgi.get_client(self.app) as client:
            response = client.post(
                "/v1/auth/login", json={"email": self.email, "password": PASSWORD}
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def still_valid(self) -> bool:
        with asgi.get_client(self.app) as client:
            response = client.get("/v1/me/status", headers=self.headers)
        return response.status_code == 200

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _describe(case: Case) -> str:
    parts = [f"{case.method} {case.formatted_path}"]
    for name in ("path_parameters", "query", "headers"):
        value = getattr(case, name, None)
        if value:
            parts.append(f"{name}={value!r}")
    body = getattr(case, "body", None)
    if body is not None and type(body).__name__ != "NotSet":
        parts.append(f"body={json.dumps(body, default=repr)[:500]}")
    return " ".join(parts)


@pytest.mark.parametrize(
    ("method", "path", "secured"),
    OPERATIONS,
    ids=[f"{method} {path}" for method, path, _ in OPERATIONS],
)
def test_operation_never_fails_and_conforms_to_its_schema(
    method: str, path: str, secured: bool, fuzz_app: Any, database_url: str
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operation = schema[path][method]
    session = Session(fuzz_app, database_url)
    statuses: dict[str, set[int]] = {"anonymous": set(), "authenticated": set()}

    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @hypothesis.given(case=strategy)
    def fuzz(case: Case) -> None:
        hypothesis.note(_describe(case))
        response = case.call_and_validate(checks=CHECKS)
        statuses["anonymous"].add(response.status_code)
        if not secured:
            return
        response = case.call_and_validate(headers=session.headers, checks=CHECKS)
        statuses["authenticated"].add(response.status_code)
        if not session.still_valid():
            # The case ended the session (logout): the next case gets a fresh token.
            session.token = session.login()

    fuzz()

    assert statuses["anonymous"], "no request was sent"
    if secured:
        # Without a valid token every secured operation refuses, and with one it gets past
        # authentication (anything but 401) at least once.
        assert statuses["anonymous"] <= {401, 403, 422}, statuses
        assert statuses["authenticated"] - {401}, statuses
