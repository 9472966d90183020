"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.routing import Mount, Route

from creatorhub import __version__
from creatorhub.audit.api import router as audit_router
from creatorhub.campaigns.api import router as campaigns_router
from creatorhub.campaigns.billing.api import router as campaign_billing_router
from creatorhub.campaigns.sales.api import router as campaign_sales_router
from creatorhub.campaigns.stats_api import router as campaign_stats_router
from creatorhub.campaigns.tracking_api import router as campaign_tracking_router
from creatorhub.campaigns.work.api import router as campaign_work_router
from creatorhub.config import Settings, get_settings
from creatorhub.db import Database
from creatorhub.embedded_db import resolve_database_url
from creatorhub.giveaways.api import router as giveaways_router
from creatorhub.identity.api import routers as identity_routers
from creatorhub.jobs import JobRuntime, start_worker_task
from creatorhub.kit.errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    PROBLEM_MEDIA_TYPE,
    error_summary,
    install_error_handlers,
    note_in_access_log,
    problem_response,
    problem_responses,
)
from creatorhub.kit.idempotency import install_idempotency_handlers
from creatorhub.marketplace.analytics_api import router as analytics_router
from creatorhub.marketplace.api import router as marketplace_router
from creatorhub.marketplace.errors import install_marketplace_handlers
from creatorhub.observability import (
    Metrics,
    RequestMiddleware,
    configure_logging,
    inline_script_hashes,
)
from creatorhub.payments.api import install_payments_handlers
from creatorhub.payments.api import routers as payments_routers
from creatorhub.payments.billing_api import router as billing_router
from creatorhub.payments.tasks import deliver_in_process
from creatorhub.social.api import router as social_router
from creatorhub.web.account import router as account_router
from creatorhub.web.admin import router as admin_pages_router
from creatorhub.web.brand import router as brand_pages_router
from creatorhub.web.campaign_pages import router as campaign_pages_router
from creatorhub.web.campaign_promoter_pages import router as campaign_promoter_pages_router
from creatorhub.web.campaign_sales_pages import router as campaign_sales_pages_router
from creatorhub.web.campaign_work_admin_pages import router as campaign_work_admin_pages_router
from creatorhub.web.campaign_work_pages import router as campaign_work_pages_router
from creatorhub.web.campaign_work_promoter_pages import router as campaign_work_promoter_router
from creatorhub.web.creator import router as creator_pages_router
from creatorhub.web.errors import install_page_errors
from creatorhub.web.funds import router as funds_pages_router
from creatorhub.web.giveaway_draw_pages import router as giveaway_draw_pages_router
from creatorhub.web.giveaway_pages import router as giveaway_pages_router
from creatorhub.web.giveaway_public_pages import router as giveaway_public_pages_router
from creatorhub.web.pages import router as pages_router
from creatorhub.web.payment_methods_pages import router as payment_methods_pages_router
from creatorhub.web.settings import router as settings_pages_router
from creatorhub.web.statements_pages import router as statements_pages_router
from creatorhub.web.studio import router as studio_pages_router
from creatorhub.web.wallet_pages import router as wallet_pages_router
from creatorhub.workspace.api import routers as workspace_routers
from creatorhub.workspace.pages import router as workspace_pages_router
from creatorhub.workspace.portfolio_api import router as portfolio_router
from creatorhub.workspace.reviews_api import router as reviews_router

log = structlog.get_logger(__name__)

# FastAPI's default docs pages load Swagger UI and ReDoc from a CDN: blank on a self-hosted
# server without internet access. These are the same assets, shipped in a wheel.
API_DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
WEB_ASSETS = Path(__file__).parent / "web" / "static"
# ...but ReDoc's bundle still shows Redocly's logo from their CDN in its menu: the visitor's
# browser would tell a third party who reads these docs, and the page's CSP blocks it (a
# violation on every visit). The bundle is served with an empty image in its place.
REDOC_LOGO_URL = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE_URL = (
    b"data:image/svg+xml,"
    b"%3Csvg xmlns=%27http://www.w3.org/2000/svg%27 width=%270%27 height=%270%27/%3E"
)

DESCRIPTION = """
Self-hostable backend for creator-economy platforms.

Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code` and,
where one input is at fault, the `field`. Every response carries an `X-Request-ID`.
A request body over the size limit is refused with 413 `payload_too_large`, with or without
`Content-Length`. While the database cannot be reached, any operation that needs it answers
503 `database_unavailable` with `Retry-After` (seconds): retry then, with the same
`Idempotency-Key` where the operation takes one.
Authenticate with `Authorization: Bearer <access token>` from `POST /v1/auth/login`.
"""


def create_app_from_environment() -> FastAPI:
    """The app of one of several processes started by `creatorhub serve --workers N`.

    Such a process starts empty: it reads the settings (the database URL included, set by
    `serve`) from the environment and configures its own logging.
    """
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> FastAPI:
    """Build the app. The database is connected when the app starts (lifespan).

    `database_url` overrides the settings (tests, and `serve`, which has already started the
    embedded server and migrated it).
    """
    settings = settings or get_settings()
    app_settings: Settings = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url: str = (
            database_url
            if database_url is not None
            else await asyncio.to_thread(resolve_database_url, app_settings)
        )
        database = Database.connect(url, app_settings)
        app.state.db = database
        deliver_in_process(app)
        runtime = JobRuntime(database, app_settings)
        async with runtime.open():
            worker = start_worker_task(runtime) if app_settings.worker_runs_in_process else None
            try:
                yield
            finally:
                if worker is not None:
                    worker.cancel()
                    await asyncio.gather(worker, return_exceptions=True)
        await database.dispose()

    app = FastAPI(
        title="creatorhub",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    metrics = Metrics()
    app.state.metrics = metrics
    install_error_handlers(app)
    install_idempotency_handlers(app)
    # Pages answer errors with pages, the API with problem+json (after kit's handlers: wraps them).
    install_page_errors(app)
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_request_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )

    install_payments_handlers(app)
    install_marketplace_handlers(app)
    routers = [
        *identity_routers,
        audit_router,
        *payments_routers,
        billing_router,
        marketplace_router,
        analytics_router,
        campaigns_router,
        campaign_work_router,
        campaign_sales_router,
        campaign_billing_router,
        campaign_stats_router,
        campaign_tracking_router,
        social_router,
        giveaways_router,
        *workspace_routers,
        reviews_router,
        portfolio_router,
        pages_router,
        account_router,
        settings_pages_router,
        brand_pages_router,
        funds_pages_router,
        payment_methods_pages_router,
        creator_pages_router,
        wallet_pages_router,
        statements_pages_router,
        studio_pages_router,
        campaign_pages_router,
        campaign_promoter_pages_router,
        campaign_work_pages_router,
        campaign_work_promoter_router,
        campaign_work_admin_pages_router,
        campaign_sales_pages_router,
        giveaway_pages_router,
        giveaway_draw_pages_router,
        giveaway_public_pages_router,
        admin_pages_router,
        workspace_pages_router,
    ]
    for router in routers:
        add_routes(app, router)

    redoc_bundle = (API_DOCS_ASSETS / "redoc.standalone.js").read_bytes()
    redoc_bundle = redoc_bundle.replace(REDOC_LOGO_URL, EMPTY_IMAGE_URL)

    # Declared before the mount, which would otherwise serve the file as it is.
    @app.get("/static/api-docs/redoc.standalone.js", include_in_schema=False)
    async def redoc_script() -> Response:
        return Response(
            redoc_bundle,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    app.mount("/static/api-docs", StaticFiles(directory=API_DOCS_ASSETS), name="api-docs-assets")
    # The pages' own assets (and the demo's media), shipped in the package.
    app.mount("/static", StaticFiles(directory=WEB_ASSETS), name="static")
    docs_pages = api_docs_pages()

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        html, csp = docs_pages["swagger"]
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        html, csp = docs_pages["redoc"]
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="The database answers",
        responses=problem_responses(503),
    )
    async def readyz(request: Request) -> Response:
        database: Database = request.app.state.db
        try:
            async with asyncio.timeout(2.0), database.engine.connect() as conn:
                # Autocommit: one round trip, not BEGIN, SELECT and ROLLBACK.
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            note_in_access_log(request, error="database_unavailable", cause=error_summary(exc))
            return problem_response(
                503,
                "database_unavailable",
                detail="the database does not answer",
                headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            )
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    document_body_limit(app)
    return app


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, as routes of the app itself.

    `include_router` keeps an included router as one node that every request walks: for each
    of its routes FastAPI re-derives the route's context for the inclusion, and it matches the
    chosen router's routes a second time to dispatch (measured: 77 µs of CPU to route
    `POST /v1/funding`, 312 µs for `/healthz` behind the 116 API routes). Our routers carry
    all their settings themselves (prefix, tags, responses and dependencies are applied when a
    route is declared) and are included with none, so their routes are added as they are: the
    same routes in the same order and the same OpenAPI document, each matched once (25 µs and
    102 µs). A router holding what only an inclusion carries over (routers of its own, a
    lifespan, start-up or shutdown handlers) is included as FastAPI does it.
    """
    plain = all(isinstance(route, APIRoute | Route | Mount) for route in router.routes)
    own_lifespan = type(router.lifespan_context) is not type(APIRouter().lifespan_context)
    if not plain or own_lifespan or router.on_startup or router.on_shutdown:
        app.include_router(router)
        return
    app.router.routes.extend(router.routes)


def api_docs_pages() -> dict[str, tuple[str, str]]:
    """Swagger UI (`swagger`) and ReDoc (`redoc`) from the local assets: (HTML, its CSP).

    Both pages are the same for every request, so they are built once, and their inline
    scripts (Swagger UI's start-up call) are allowed by their hashes, not by 'unsafe-inline'.
    What the assets need, read from them: Swagger UI's CSS draws icons from `data:` URLs, and
    "Try it out" calls the API (`connect-src 'self'`); ReDoc styles itself with injected
    <style> elements (styled-components, hence `style-src 'unsafe-inline'`) and searches in a
    worker made from a `blob:` URL. X-Frame-Options and the rest are added by RequestMiddleware
    like on every page.
    """
    swagger = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="creatorhub API",
        swagger_js_url="/static/api-docs/swagger-ui-bundle.js",
        swagger_css_url="/static/api-docs/swagger-ui.css",
        swagger_favicon_url="/static/api-docs/favicon.png",
        # Swagger UI would send the document's URL to validator.swagger.io for a badge image:
        # no third party hears of this server (and the CSP would block the image anyway).
        swagger_ui_parameters={"validatorUrl": None},
    )
    redoc = get_redoc_html(
        openapi_url="/openapi.json",
        title="creatorhub API",
        redoc_js_url="/static/api-docs/redoc.standalone.js",
        redoc_favicon_url="/static/api-docs/favicon.png",
        with_google_fonts=False,
    )
    pages = {}
    for name, page, extra in (
        ("swagger", swagger, []),
        ("redoc", redoc, ["worker-src blob:"]),
    ):
        html = bytes(page.body).decode()
        csp = [
            "default-src 'none'",
            " ".join(["script-src 'self'", *inline_script_hashes(html)]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            *extra,
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
        pages[name] = (html, "; ".join(csp))
    return pages


def document_body_limit(app: FastAPI) -> None:
    """Every operation that takes a body documents the 413 that RequestMiddleware may answer."""
    build = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            document = build()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault(
                            "413",
                            {
                                "description": "Content Too Large: `payload_too_large`",
                                "content": {
                                    PROBLEM_MEDIA_TYPE: {
                                        "schema": {"$ref": "#/components/schemas/ProblemDetail"}
                                    }
                                },
                            },
                        )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
