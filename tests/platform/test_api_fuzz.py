"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

For every operation of `/openapi.json`, generated requests (valid ones, invalid ones in
schemathesis' negative mode, and the document's own examples completed with generated values)
must never get a 5xx, and every response must match what the document promises: a documented
status code, a documented content type, a body that fits the documented schema, formats
included (`response_schema_conformance` validates `format` with jsonschema_rs:
`test_the_checks_validate_formats` below proves it). Every operation is sent twice: as
generated (no valid token) and with the bearer token of a real account holding every role, so
the handlers behind the authorization checks are reached too (except negative cases that remove
the credentials: schemathesis sends those without any). Path parameters are also drawn from
things that exist (a second account's id, the fuzzing account's creator slug) so the handlers
get past lookups. The examples matter: random "valid" bodies seldom pass the rules a schema
cannot state (a known currency, a date in range), so without them few handlers answered with a
body, and `format: time` answers ("14:30:00", no offset) went unseen.

Checks run: not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance, and negative_data_rejection (input that breaks the schema must get
a 4xx: the design's "bad input never gets a 500, it gets a 4xx"). Left out:

* positive_data_acceptance: it wants a 2xx for every schema-valid request, but valid-looking
  input is refused by design in ways the schema cannot express: a well-formed token or id that
  does not exist (401/404), a wrong current password (403), an address already taken (409),
  login throttling (429).
* ignored_auth, use_after_free, ensure_resource_availability and the other stateful checks:
  they need links between operations (the document has none) or replay requests with altered
  credentials, which the test does explicitly instead (anonymous and authenticated sends).
* max_response_time: timing is measured by bench/, never by tests.

One database and one app per operation, reached in-process over ASGI; at most `MAX_EXAMPLES`
cases and `FUZZ_TIMEOUT_SECONDS` per operation. Hypothesis does not
shrink a failing example (the `shrink` phase is off): shrinking replays hundreds of requests
that each log a full traceback, minutes per failure; the failing request is reported as
generated, with its curl command.

Defects the fuzz found and that were fixed have explicit regression tests after it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import time
from typing import Any

import httpx
import hypothesis
import psycopg
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from pydantic import BaseModel
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
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
from helpers import account, assert_problem, grant_roles

MAX_EXAMPLES = 25
# One operation's fuzzing, setup included, fails past this (it takes 1 to 10 s here).
FUZZ_TIMEOUT_SECONDS = 120
PASSWORD = "fuzzing passphrase 1"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

# These answer 202 with no body, and document it so (regression test below): every check,
# body checks included, applies to them like to the rest.
EMPTY_202 = frozenset(
    {
        ("POST", "/v1/auth/verify-email/resend"),
        ("POST", "/v1/auth/password-reset"),
        ("POST", "/v1/me/email"),
    }
)


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


@pytest.fixture
def fuzz_app(database_url: str) -> Iterator[Any]:
    application = create_app(make_settings(database_url), database_url=database_url)
    try:
        yield application
    finally:
        # schemathesis keeps an ASGI app's lifespan running across requests: end it (and its
        # database connections) before the test database goes away.
        asgi.shutdown_lifespans()


def _grant_admin(database_url: str, email: str) -> None:
    """Every role, and a verified address, so that the money handlers are reached too."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(
            "UPDATE identity.users SET roles = ARRAY['admin','brand','creator','fan'], "
            "email_verified_at = now() WHERE lower(email) = lower(%s)",
            (email,),
        )


CREATOR_SLUG = "fuzzing-creator"


class Session:
    """A real account with every role and a creator profile, a valid access token for it, and
    a second account (`target_id`) for the operations that take a user id."""

    def __init__(self, app: Any, database_url: str) -> None:
        self.app = app
        self.email = "fuzzer@example.com"
        self.target_id = self._register("target@example.com", ["fan"])
        self._register(self.email, ["fan", "creator", "brand"])
        _grant_admin(database_url, self.email)
        self.token = self.login()
        with asgi.get_client(app) as client:
            profile = client.put(
                "/v1/me/creator-profile", json={"slug": CREATOR_SLUG}, headers=self.headers
            )
        assert profile.status_code == 200, profile.text

    def _register(self, email: str, roles: list[str]) -> str:
        with asgi.get_client(self.app) as client:
            created = client.post(
                "/v1/auth/register",
                json={
                    "email": email,
                    "password": PASSWORD,
                    "display_name": "Fuzzer",
                    "roles": roles,
                },
            )
            # 202 without the account (a taken address gets the same): its id comes from /v1/me.
            assert created.status_code == 202, created.text
            me = client.get("/v1/me", headers={"Authorization": f"Bearer {self.login(email)}"})
        assert me.status_code == 200, me.text
        user_id: str = me.json()["id"]
        return user_id

    def login(self, email: str | None = None) -> str:
        with asgi.get_client(self.app) as client:
            response = client.post(
                "/v1/auth/login", json={"email": email or self.email, "password": PASSWORD}
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

    def existing_path_parameters(self, path: str) -> dict[str, str] | None:
        """Path parameters naming things that exist, so handlers get past their lookups."""
        if "{user_id}" in path:
            return {"user_id": self.target_id}
        if "{slug}" in path:
            return {"slug": CREATOR_SLUG}
        return None


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


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
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

    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    # The document's own examples, completed with generated values: requests that pass
    # validation, so the handlers answer with the bodies a client gets (random positive data
    # seldom passes the rules the schema cannot state: a known currency, a date in range).
    examples = operation.get_strategies_from_examples(fill_missing=True)
    if examples:
        strategies.append(st.one_of(examples))
    existing = session.existing_path_parameters(path)
    if existing is not None:
        strategies.append(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=existing)
        )
    strategy = st.one_of(strategies)

    def send(case: Case, kind: str, headers: dict[str, str] | None = None) -> None:
        response = case.call(headers=headers)
        statuses[kind].add(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @hypothesis.given(case=strategy)
    def fuzz(case: Case) -> None:
        hypothesis.note(_describe(case))
        send(case, "anonymous")
        if secured and schema.is_security_param_negated(case):
            # A negative case that removes the credentials is sent without them, whatever
            # the caller adds: the anonymous send covered it.
            return
        # Every operation with a token too: the public ones must not trip over one either.
        send(case, "authenticated", session.headers)
        if not session.still_valid():
            # The case ended the session (logout): the next case gets a fresh token.
            session.token = session.login()

    fuzz()

    assert statuses["anonymous"], "no request was sent"
    assert statuses["authenticated"], "no request was sent with a token"
    if secured:
        # Without a valid token every secured operation refuses, and with one it gets past
        # authentication (anything but 401) at least once.
        assert statuses["anonymous"] <= {401, 403, 422}, statuses
        assert statuses["authenticated"] - {401}, statuses


# --- defects the fuzz found, fixed: explicit regressions ---------------------------------------
# (The fuzz is derandomized, but what it draws changes with the code; these do not.)


@pytest.mark.parametrize(
    "body",
    [b"\xf35\xb2X1A\x04]", b'{"email": "\xff@example.com"}', b"[" * 100_000],
    ids=["not utf-8", "not utf-8 inside a string", "nested past the recursion limit"],
)
async def test_an_undecodable_json_body_is_422_malformed_json(
    client: httpx.AsyncClient, body: bytes
) -> None:
    # Was a bare 400 `http_error`, which no operation documents (fixed in kit/errors.py).
    response = await client.post(
        "/v1/auth/login", content=body, headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 422, "malformed_json", field="body")
    assert problem["errors"][0]["code"] == "json_invalid"


async def test_patch_me_with_null_socials_clears_them(client: httpx.AsyncClient) -> None:
    # Was a 500: null was stored as a JSON null and UserOut.socials refused it (fixed in
    # identity/schemas.py: null clears, as it does for the other optional fields).
    user = await account(client)
    filled = await client.patch(
        "/v1/me", json={"socials": {"instagram": "@me"}}, headers=user.headers
    )
    assert filled.status_code == 200, filled.text
    cleared = await client.patch("/v1/me", json={"bio": "1", "socials": None}, headers=user.headers)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["socials"] == {}
    assert (await client.get("/v1/me", headers=user.headers)).json()["socials"] == {}


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (
            "/v1/me/brand-profile",
            {"company_name": "x", "business_categories": ["a\u0000"]},
            "body.business_categories",
        ),
        ("/v1/me/creator-profile", {"slug": "nul-test", "skills": ["a\u0000b"]}, "body.skills"),
        ("/v1/me", {"bio": "a\u0000"}, "body.bio"),
    ],
)
async def test_a_nul_character_in_a_body_string_is_a_422_naming_the_field(
    client: httpx.AsyncClient, database: Any, url: str, body: dict[str, Any], field: str
) -> None:
    # Was a 500: PostgreSQL text cannot hold U+0000 (fixed in identity/schemas.py).
    user = await account(client)
    await grant_roles(database, user.id, "creator", "brand")
    method = client.patch if url == "/v1/me" else client.put
    response = await method(url, json=body, headers=user.headers)
    assert_problem(response, 422, "validation_error", field=field)


# --- known defects, pinned ----------------------------------------------------------------------


def test_bodiless_202_responses_are_documented_without_a_body() -> None:
    document = create_app(make_settings("postgresql://schema-only@127.0.0.1/unused")).openapi()
    declared = {
        (method, path): document["paths"][path][method.lower()]["responses"]["202"].get("content")
        for method, path in sorted(EMPTY_202)
    }
    assert declared == dict.fromkeys(sorted(EMPTY_202))


@pytest.mark.parametrize(
    "url",
    ["/v1/creators/a%00b", "/v1/admin/audit-logs?entity_id=a%00b"],
    ids=["creator slug (identity/api.py)", "audit entity_id (audit/api.py)"],
)
async def test_nul_in_a_path_or_query_parameter_is_a_client_error(app: Any, url: str) -> None:
    transport = httpx.ASGITransport(
        app=app, client=("203.0.113.7", 40000), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        admin = await account(client)
        await grant_roles(app.state.db, admin.id, "admin")
        response = await client.get(url, headers=admin.headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


def test_the_checks_validate_formats() -> None:
    """`response_schema_conformance` checks `format`, not only types: an answer that is a
    string but not the declared format (a `time` without its offset) fails the fuzz."""
    demo = FastAPI()

    class Slot(BaseModel):
        at: time

    @demo.get("/slot", response_model=Slot)
    async def slot() -> dict[str, str]:
        return {"at": "14:30:00"}  # what a naive `time` field answers

    schema = schemathesis.openapi.from_asgi("/openapi.json", demo)
    assert schema.raw_schema["components"]["schemas"]["Slot"]["properties"]["at"] == {
        "type": "string",
        "format": "time",
        "title": "At",
    }
    case = schema["/slot"]["GET"].Case()
    with pytest.raises(FailureGroup, match='is not a "time"'):
        case.validate_response(case.call(), checks=CHECKS)


def test_no_answer_declares_format_time() -> None:
    # Was `format: time` on ShootOut.time and UploadOut.time while the server answers "14:30:00"
    # (fixed in workspace/schemas.py: a pattern, for requests and answers alike).
    document = create_app(make_settings("postgresql://schema-only@127.0.0.1/unused")).openapi()
    formats = re.findall(r'"format": "([^"]+)"', json.dumps(document))
    assert "time" not in formats and "date-time" in formats
    for name in ("ShootOut", "UploadOut"):
        declared = document["components"]["schemas"][name]["properties"]["time"]["anyOf"][0]
        assert declared["type"] == "string" and "format" not in declared
        assert re.fullmatch(declared["pattern"], "14:30:00")
        assert not re.fullmatch(declared["pattern"], "14:30:00Z")


@pytest.mark.parametrize(
    ("path", "one_path", "fields"),
    [
        ("/v1/workspace/shoots", "/v1/workspace/shoots/{shoot_id}", {"brand_name": "Acme"}),
        ("/v1/workspace/uploads", "/v1/workspace/uploads/{upload_id}", {"platform": "instagram"}),
    ],
)
def test_times_answered_conform_to_the_document(
    fuzz_app: Any, database_url: str, path: str, one_path: str, fields: dict[str, str]
) -> None:
    """A shoot and an upload with a time, created, read and listed through the fuzz's checks."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    session = Session(fuzz_app, database_url)
    created = schema[path]["POST"].Case(body={"date": "2025-06-30", "time": "14:30", **fields})
    response = created.call(headers=session.headers)
    assert response.status_code == 201, response.text
    (parameter,) = schema[one_path]["GET"].path_parameters
    cases = [
        created,
        schema[one_path]["GET"].Case(path_parameters={parameter.name: response.json()["id"]}),
        schema[path]["GET"].Case(),
    ]
    responses = [response, *(case.call(headers=session.headers) for case in cases[1:])]
    for case, answer in zip(cases, responses, strict=True):
        assert answer.status_code in (200, 201), answer.text
        case.validate_response(answer, checks=CHECKS, headers=session.headers)
    assert responses[0].json()["time"] == responses[1].json()["time"] == "14:30:00"
    assert [item["time"] for item in responses[2].json()["items"]] == ["14:30:00"]
