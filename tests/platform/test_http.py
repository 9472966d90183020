"""Platform HTTP behaviour: health, readiness, metrics, request ids, problem responses, security
headers, the request body limit (chunked bodies over a real socket too), the OpenAPI codes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import json
import logging
import re
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx
import psycopg
import pytest
import structlog
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.db import Database, libpq_url
from creatorhub.kit.errors import FieldError, ProblemDetail, problem_response
from creatorhub.kit.request_context import (
    RequestContext,
    reset_request_context,
    set_request_context,
)
from creatorhub.observability import DEFAULT_PAGE_CSP, configure_logging, security_headers
from creatorhub.workspace.pages import PORTFOLIO_HEADERS
from helpers import PASSWORD, assert_problem, scalar, unique_email
from process_helpers import app_in_thread
from review_helpers import creator, review_link, shoot


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_every_response_has_a_request_id_and_a_sane_one_is_kept(
    client: httpx.AsyncClient,
) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    kept = await client.get("/healthz", headers={"X-Request-ID": "trace-abc.123"})
    assert kept.headers["x-request-id"] == "trace-abc.123"
    replaced = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not_found")
    assert_problem(await client.delete("/v1/auth/login"), 405, "method_not_allowed")


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/v1/users/00000000-0000-0000-0000-000000000000")
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    assert 'route="/v1/users/{user_id}"' in text
    assert "00000000-0000-0000-0000-000000000000" not in text
    assert "creatorhub_http_request_duration_seconds_bucket" in text


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/auth/login" in spec["paths"]
    assert all(path.startswith(("/v1/", "/healthz", "/readyz")) for path in spec["paths"])
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_api_docs_need_no_internet(client: httpx.AsyncClient) -> None:
    """A self-hosted server may have no way out: the docs pages load only the server's assets."""
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, html
        assert not [url for url in assets if url.startswith(("http:", "https:", "//"))], assets
        for url in assets:
            if url.startswith("/static/"):
                asset = await client.get(url)
                assert asset.status_code == 200, url
                assert len(asset.content) > 1000, url


# --- security headers ---------------------------------------------------------------------------

UNKNOWN_EMAIL_TOKEN = "che_" + "B" * 43
HTML_ROUTES_OUTSIDE_THE_API = ("/v1/", "/static/")
# Routes outside the API that are not pages (the iCalendar feed is text/calendar).
NOT_PAGES = {"/openapi.json", "/healthz", "/readyz", "/metrics", "/calendar/{token}.ics"}


def assert_page_security_headers(response: httpx.Response) -> None:
    label = f"{response.request.method} {response.request.url.path} {response.status_code}"
    assert response.headers["content-type"].startswith("text/html"), label
    assert response.headers["x-content-type-options"] == "nosniff", label
    assert response.headers["x-frame-options"] == "DENY", label
    assert response.headers["referrer-policy"] in {"no-referrer", "same-origin"}, label
    policy = response.headers["content-security-policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], (label, policy)
    assert directives.get("default-src") == ["'none'"], (label, policy)
    for directive, sources in directives.items():
        assert "'unsafe-eval'" not in sources, (label, directive)
        if directive == "script-src":
            assert "'unsafe-inline'" not in sources, (label, policy)


async def test_every_html_page_has_the_security_headers(
    client: httpx.AsyncClient, app: Any
) -> None:
    me, slug = await creator(client)
    _, token, _ = await review_link(client, me, await shoot(client, me))
    unknown_review = f"review_1700000000_{'A' * 43}"
    requests: list[tuple[str, str, str, dict[str, str] | None]] = [
        # (method, route template, URL, form)
        ("GET", "/", "/", None),
        ("GET", "/docs", "/docs", None),
        ("GET", "/redoc", "/redoc", None),
        ("GET", "/portfolio/{slug}", f"/portfolio/{slug}", None),
        ("GET", "/portfolio/{slug}", "/portfolio/nobody-here", None),
        ("GET", "/review/{token}", f"/review/{token}", None),
        ("GET", "/review/{token}", f"/review/{unknown_review}", None),
        ("POST", "/review/{token}", f"/review/{token}", {"rating": "9"}),
        ("POST", "/review/{token}", f"/review/{unknown_review}", {"rating": "5"}),
        ("GET", "/verify-email", f"/verify-email?token={UNKNOWN_EMAIL_TOKEN}", None),
        ("GET", "/verify-email", "/verify-email?token=nonsense", None),
        ("POST", "/verify-email", "/verify-email", {"token": UNKNOWN_EMAIL_TOKEN}),
        ("GET", "/reset-password", f"/reset-password?token={UNKNOWN_EMAIL_TOKEN}", None),
        (
            "POST",
            "/reset-password",
            "/reset-password",
            {
                "token": UNKNOWN_EMAIL_TOKEN,
                "new_password": "a long new passphrase",
                "confirm_password": "a long new passphrase",
            },
        ),
        (
            "GET",
            "/confirm-email-change",
            f"/confirm-email-change?token={UNKNOWN_EMAIL_TOKEN}",
            None,
        ),
        ("POST", "/confirm-email-change", "/confirm-email-change", {"token": UNKNOWN_EMAIL_TOKEN}),
        # The web app's account pages; their POSTs without a form token are 403 pages.
        ("GET", "/login", "/login", None),
        ("POST", "/login", "/login", {"email": "a@b.example", "password": "x"}),
        ("GET", "/register", "/register", None),
        ("POST", "/register", "/register", {"email": "a@b.example"}),
        ("GET", "/forgot-password", "/forgot-password", None),
        ("POST", "/forgot-password", "/forgot-password", {"email": "a@b.example"}),
        ("GET", "/account", "/account", None),  # a redirect to /login: no HTML, see below
        ("POST", "/account/role", "/account/role", {"role": "brand"}),
        ("POST", "/account/verify-email", "/account/verify-email", {}),
        ("POST", "/logout", "/logout", {}),
        # The brand's job pages: signed out, a GET goes to the login page, a POST is a 403 page.
        ("GET", "/brand", "/brand", None),
        ("GET", "/brand/jobs/new", "/brand/jobs/new", None),
        ("POST", "/brand/jobs/new", "/brand/jobs/new", {"title": "x"}),
        ("GET", "/brand/jobs/{job_uid}", f"/brand/jobs/{uuid.uuid4()}", None),
        ("POST", "/brand/jobs/{job_uid}/fund", f"/brand/jobs/{uuid.uuid4()}/fund", {}),
        ("POST", "/brand/jobs/{job_uid}/close", f"/brand/jobs/{uuid.uuid4()}/close", {}),
        ("POST", "/brand/claims/{claim_uid}/approve", f"/brand/claims/{uuid.uuid4()}/approve", {}),
        ("POST", "/brand/claims/{claim_uid}/reject", f"/brand/claims/{uuid.uuid4()}/reject", {}),
    ]
    # Every page route of the app is checked: those not listed above (the product pages, which
    # need a session) signed out, with made-up ids: a GET is sent to the login page (checked
    # above), a POST without a form token answered by a 403 page.
    pages = {
        (method, route.path)
        for route in api_routes(app.routes)
        if not route.path.startswith(HTML_ROUTES_OUTSIDE_THE_API) and route.path not in NOT_PAGES
        for method in route.methods - {"HEAD"}
    }
    listed = {(method, template) for method, template, _, _ in requests}
    for method, template in sorted(pages - listed):
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)
        requests.append((method, template, url, {} if method == "POST" else None))
    statuses = set()
    for method, _, url, form in requests:
        response = await client.request(method, url, data=form)
        if response.status_code == 303:  # signed out: to the login page, which is checked
            assert response.headers["location"].split("?")[0] == "/login", url
            continue
        assert_page_security_headers(response)
        statuses.add(response.status_code)
    assert {200, 400, 403, 404, 422} <= statuses, statuses  # pages and error pages alike
    assert pages == {(method, template) for method, template, _, _ in requests}


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's routes, those of included routers too (FastAPI keeps an included router whole,
    as `original_router`; the app's routers are included without a prefix)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes))
    return found


async def test_page_csps_keep_their_own_sources_and_forbid_framing(
    client: httpx.AsyncClient,
) -> None:
    # The docs pages allow their local assets, and exactly their inline script, by its hash.
    docs = await client.get("/docs")
    policy = docs.headers["content-security-policy"]
    scripts = re.findall(r"<script>(.*?)</script>", docs.text, flags=re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}'" in policy
    redoc = (await client.get("/redoc")).headers["content-security-policy"]
    assert "worker-src blob:" in redoc and "script-src 'self'" in redoc
    # A page's own policy is kept, the framing ban added to it (the portfolio sets its own).
    _, slug = await creator(client)
    page = await client.get(f"/portfolio/{slug}")
    own = PORTFOLIO_HEADERS["Content-Security-Policy"]
    assert page.headers["content-security-policy"] == f"{own}; frame-ancestors 'none'"
    assert page.headers.get_list("content-security-policy") == [
        page.headers["content-security-policy"]
    ]
    # A page without its own gets the default: the app's own scripts and styles, nothing inline.
    page = await client.get("/verify-email", params={"token": UNKNOWN_EMAIL_TOKEN})
    assert page.headers.get_list("content-security-policy") == [DEFAULT_PAGE_CSP]


async def test_every_response_is_nosniff(client: httpx.AsyncClient) -> None:
    responses = {
        "json": await client.get("/healthz"),
        "problem": await client.get("/v1/nothing-here"),
        "validation problem": await client.post("/v1/auth/login", json={}),
        "unauthorized": await client.get("/v1/me"),
        "openapi": await client.get("/openapi.json"),
        "metrics": await client.get("/metrics"),
        "calendar feed": await client.get("/calendar/unknown.ics"),
        "static": await client.get("/static/api-docs/swagger-ui.css"),
        "script": await client.get("/static/api-docs/redoc.standalone.js"),
    }
    for kind, response in responses.items():
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], kind
        # Only pages carry a page policy; the API's JSON is not a document to frame or script.
        content_type = response.headers["content-type"]
        assert not content_type.startswith("text/html"), kind
        assert "x-frame-options" not in response.headers, kind
    assert responses["problem"].headers["content-type"] == "application/problem+json"
    assert responses["script"].headers["content-type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in responses["script"].content


def test_security_headers_follow_the_content_type() -> None:
    # A route that already sent nosniff does not get it twice; a non-HTML type gets no policy.
    assert security_headers([(b"content-type", b"application/json"), NOSNIFF]) == [
        (b"content-type", b"application/json"),
        NOSNIFF,
    ]
    page = dict(security_headers([(b"Content-Type", b"TEXT/HTML; charset=utf-8")]))
    assert page[b"content-security-policy"].endswith(b"frame-ancestors 'none'")
    own = dict(
        security_headers(
            [
                (b"content-type", b"text/html"),
                (b"content-security-policy", b"default-src 'none'; frame-ancestors 'self'"),
                (b"x-frame-options", b"SAMEORIGIN"),
            ]
        )
    )
    assert own[b"content-security-policy"] == b"default-src 'none'; frame-ancestors 'self'"
    assert own[b"x-frame-options"] == b"SAMEORIGIN"


NOSNIFF = (b"x-content-type-options", b"nosniff")


# --- the request body limit ---------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024
CHUNK = 64 * 1024


def registration_body(email: str, size: int) -> bytes:
    """A registration that would succeed, padded with a long display name to `size` bytes."""
    head = f'{{"email": "{email}", "password": "{PASSWORD}", "display_name": "'.encode()
    tail = b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def pieces(body: bytes) -> AsyncIterator[bytes]:
    """The body as an async stream: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


async def counts(database: Database) -> tuple[int, int]:
    """What a registration changes: accounts, mails."""
    users = await scalar(database, "SELECT count(*) FROM identity.users")
    mails = await scalar(database, "SELECT count(*) FROM mail.outbox")
    return users, mails


async def test_a_body_over_the_limit_is_413_with_or_without_content_length(
    client: httpx.AsyncClient, database: Database
) -> None:
    before = await counts(database)
    body = registration_body(unique_email("big"), TEN_MB)

    declared = await client.post(
        "/v1/auth/register", content=body, headers={"Content-Type": "application/json"}
    )
    assert declared.request.headers["content-length"] == str(TEN_MB)
    assert_problem(declared, 413, "payload_too_large")

    # Without Content-Length (chunked): was a 400 `http_error`, FastAPI's wrapping of the
    # exception raised while it read the body.
    chunked = await client.post(
        "/v1/auth/register", content=pieces(body), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in chunked.request.headers
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    problem = assert_problem(chunked, 413, "payload_too_large")
    assert problem["detail"] == "request bodies are limited to 1048576 bytes"
    assert await counts(database) == before

    # A form page's body is read by another parser: the same answer.
    form = await client.post(
        "/verify-email",
        content=pieces(body),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(form, 413, "payload_too_large")
    assert await counts(database) == before

    # Just under the limit, chunked, the body is read and judged on its content.
    small = registration_body(unique_email("small"), 1_048_576)
    fits = await client.post(
        "/v1/auth/register",
        content=pieces(small),
        headers={"Content-Type": "application/json"},
    )
    assert fits.status_code == 422, fits.text  # the display name is too long, nothing else


@dataclass
class Served:
    port: int
    database_url: str


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    """The app under uvicorn (its default HTTP parser) in a thread, on a free loopback port."""
    app = create_app(make_settings(database_url), database_url=database_url)
    with app_in_thread(app) as port:
        yield Served(port, database_url)


def raw_exchange(port: int, head: bytes, body: bytes, *, chunked: bool) -> tuple[int, bytes]:
    """Send a request over a socket as raw HTTP/1.1 and read the answer while sending.

    The body goes in 64 KiB pieces (as chunks when `chunked`); sending stops once the answer is
    in: a server that refuses a body does not read the rest of it.
    """
    answer = bytearray()
    answered = threading.Event()

    def complete() -> bool:
        header_end = answer.find(b"\r\n\r\n")
        if header_end < 0:
            return False
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", answer[:header_end])
        return length is not None and len(answer) >= header_end + 4 + int(length.group(1))

    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:

        def read() -> None:
            try:
                while not complete():
                    data = conn.recv(65536)
                    if not data:
                        break
                    answer.extend(data)
            finally:
                answered.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            conn.sendall(head)
            for start in range(0, len(body), CHUNK):
                if answered.is_set():
                    break
                piece = body[start : start + CHUNK]
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            else:
                if chunked:
                    conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while the rest was on its way
        reader.join(timeout=60)
    assert complete(), bytes(answer[:500])
    status = int(answer.split(b" ", 2)[1])
    return status, bytes(answer[answer.find(b"\r\n\r\n") + 4 :])


async def database_counts(database_url: str) -> tuple[int, int]:
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        users = await (await conn.execute("SELECT count(*) FROM identity.users")).fetchone()
        mails = await (await conn.execute("SELECT count(*) FROM mail.outbox")).fetchone()
    assert users is not None and mails is not None
    return users[0], mails[0]


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
async def test_a_10_mb_body_over_a_real_socket_is_413(served: Served, chunked: bool) -> None:
    before = await database_counts(served.database_url)
    body = registration_body(unique_email("socket"), TEN_MB)
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)
    head = (
        b"POST /v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n%s\r\nConnection: close\r\n\r\n" % framing
    )
    status, answer = await asyncio.to_thread(raw_exchange, served.port, head, body, chunked=chunked)
    assert status == 413, answer[:500]
    problem = json.loads(answer)
    assert problem["code"] == "payload_too_large" and problem["status"] == 413
    assert await database_counts(served.database_url) == before


# --- the stated codes are in the OpenAPI document ----------------------------------------------


async def test_the_document_states_the_edge_codes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    with_body = [
        (method, path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(with_body) > 20
    for method, path, operation in with_body:
        too_large = operation["responses"].get("413")
        assert too_large is not None, (method, path)
        assert "payload_too_large" in too_large["description"], (method, path)
        schema = too_large["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ProblemDetail"}
    bodiless = spec["paths"]["/healthz"]["get"]["responses"]
    assert "413" not in bodiless
    # The outage answer: on the readiness probe, and in the document's description for the
    # rest (not repeated on every operation that reads the database).
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
    description = spec["info"]["description"]
    assert "503 `database_unavailable`" in description and "Retry-After" in description
    assert "413 `payload_too_large`" in description


# --- what every request costs -------------------------------------------------------------------


def _is_async(call: Any) -> bool:
    target = call if inspect.isroutine(call) else getattr(call, "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def test_every_dependency_and_endpoint_is_async(app: Any) -> None:
    """FastAPI runs a plain `def` dependency or endpoint in its thread pool: a hop to a worker
    thread and back, about 50 µs of CPU on every request that uses it."""
    sync: set[str] = set()

    def walk(dependant: Any) -> None:
        for sub in dependant.dependencies:
            if sub.call is not None and not _is_async(sub.call):
                sync.add(f"{sub.call.__module__}.{sub.call.__qualname__}")
            walk(sub)

    routes = api_routes(app.routes)
    assert len(routes) > 100
    for route in routes:
        if not _is_async(route.endpoint):
            sync.add(f"{route.endpoint.__module__}.{route.endpoint.__qualname__}")
        walk(route.dependant)
    assert sync == set()


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The process's logging configuration as it was before the test configured its own."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {
        name: (logger.handlers, logger.level, logger.propagate, logger.disabled)
        for name in ("pgserver", "uvicorn", "uvicorn.error", "uvicorn.access")
        for logger in [logging.getLogger(name)]
    }
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers, root.level = handlers, level
        for name, (own, own_level, propagate, disabled) in named.items():
            logger = logging.getLogger(name)
            logger.handlers, logger.level = own, own_level
            logger.propagate, logger.disabled = propagate, disabled


async def test_the_access_line_as_served(
    database_url: str, capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    """One JSON line per request, with the request's id, written by `configure_logging`'s
    structlog pipeline (not through the standard library's); a standard-library logger's line
    during a request carries the id too, one outside a request none."""
    configure_logging("INFO", json_logs=True)
    application = create_app(make_settings(database_url, log_json=True), database_url=database_url)

    async def says_a_word() -> dict[str, str]:
        logging.getLogger("uvicorn.error").warning("inside %s", "a request")
        return {}

    application.add_api_route("/says-a-word", says_a_word)
    transport = httpx.ASGITransport(app=application, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        answer = await http.get("/says-a-word", headers={"X-Request-ID": "trace-line.1"})
        assert answer.status_code == 200
        await http.get("/v1/nothing-here")
    logging.getLogger("uvicorn.error").warning("outside %s", "requests")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    lines = [line for line in lines if line["logger"] != "httpx"]  # the test's client
    assert [line.pop("timestamp")[-1] for line in lines] == ["Z", "Z", "Z", "Z"]
    durations = [line.pop("duration_ms") for line in (lines[1], lines[2])]
    assert all(isinstance(duration, float) and duration >= 0 for duration in durations)
    generated = lines[2].pop("request_id")
    assert re.fullmatch(r"[0-9a-f]{32}", generated), generated
    assert lines == [
        {
            "event": "inside a request",
            "request_id": "trace-line.1",
            "level": "warning",
            "logger": "uvicorn.error",
        },
        {
            "method": "GET",
            "path": "/says-a-word",
            "route": "/says-a-word",
            "status": 200,
            "ip": "203.0.113.9",
            "event": "request",
            "request_id": "trace-line.1",
            "level": "info",
            "logger": "creatorhub.http",
        },
        {
            "method": "GET",
            "path": "/v1/nothing-here",
            "route": "unmatched",
            "status": 404,
            "ip": "203.0.113.9",
            "event": "request",
            "level": "info",
            "logger": "creatorhub.http",
        },
        {"event": "outside requests", "level": "warning", "logger": "uvicorn.error"},
    ]


@pytest.mark.parametrize("request_id", [None, "trace-9"])
def test_a_problem_body_is_the_problem_models_dump(request_id: str | None) -> None:
    """`problem_response` builds its body as a dict: the same bytes as the documented model."""
    token = set_request_context(RequestContext(request_id=request_id) if request_id else None)
    try:
        for status, code, extra in [
            (404, "not_found", {}),
            (422, "validation_error", {"detail": "", "field": "body.amount"}),
            (503, "database_unavailable", {"detail": "retry later", "errors": []}),
        ]:
            errors = [FieldError(field="body.amount", code="int_parsing", message="no")]
            for with_errors in (False, True):
                options: dict[str, Any] = {**extra, **({"errors": errors} if with_errors else {})}
                model = ProblemDetail(
                    title=HTTPStatus(status).phrase,
                    status=status,
                    code=code,
                    detail=options.get("detail"),
                    field=options.get("field"),
                    errors=options.get("errors") or None,
                    request_id=request_id,
                )
                expected = JSONResponse(model.model_dump(exclude_none=True)).body
                assert problem_response(status, code, **options).body == expected, options
    finally:
        reset_request_context(token)
