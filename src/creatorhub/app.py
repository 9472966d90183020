"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from creatorhub import __version__
from creatorhub.audit.api import router as audit_router
from creatorhub.config import Settings, get_settings
from creatorhub.db import Database
from creatorhub.embedded_db import resolve_database_url
from creatorhub.identity.api import routers as identity_routers
from creatorhub.jobs import JobRuntime, start_worker_task
from creatorhub.kit.errors import install_error_handlers, problem_response, problem_responses
from creatorhub.kit.idempotency import install_idempotency_handlers
from creatorhub.marketplace.analytics_api import router as analytics_router
from creatorhub.marketplace.api import router as marketplace_router
from creatorhub.marketplace.errors import install_marketplace_handlers
from creatorhub.observability import BodyTooLarge, Metrics, RequestMiddleware, configure_logging
from creatorhub.payments.api import install_payments_handlers
from creatorhub.payments.api import routers as payments_routers
from creatorhub.payments.billing_api import router as billing_router
from creatorhub.payments.tasks import deliver_in_process
from creatorhub.social.api import router as social_router
from creatorhub.web.pages import PageError
from creatorhub.web.pages import router as pages_router
from creatorhub.workspace.api import routers as workspace_routers
from creatorhub.workspace.pages import router as workspace_pages_router
from creatorhub.workspace.portfolio_api import router as portfolio_router
from creatorhub.workspace.reviews_api import router as reviews_router

log = structlog.get_logger(__name__)

# FastAPI's default docs pages load Swagger UI and ReDoc from a CDN: blank on a self-hosted
# server without internet access. These are the same assets, shipped in a wheel.
API_DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
WEB_ASSETS = Path(__file__).parent / "web" / "static"

DESCRIPTION = """
Self-hostable backend for creator-economy platforms.

Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code` and,
where one input is at fault, the `field`. Every response carries an `X-Request-ID`.
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

    async def body_too_large(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            413,
            "request_too_large",
            detail=f"request bodies are limited to {settings.max_request_body_bytes} bytes",
        )

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return exc.response

    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(PageError, page_error)
    app.add_middleware(
        RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_request_body_bytes
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
        social_router,
        *workspace_routers,
        reviews_router,
        portfolio_router,
        pages_router,
        workspace_pages_router,
    ]
    for router in routers:
        app.include_router(router)

    app.mount("/static/api-docs", StaticFiles(directory=API_DOCS_ASSETS), name="api-docs-assets")
    # The pages' own assets (and the demo's media), shipped in the package.
    app.mount("/static", StaticFiles(directory=WEB_ASSETS), name="static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="creatorhub API",
            swagger_js_url="/static/api-docs/swagger-ui-bundle.js",
            swagger_css_url="/static/api-docs/swagger-ui.css",
            swagger_favicon_url="/static/api-docs/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="creatorhub API",
            redoc_js_url="/static/api-docs/redoc.standalone.js",
            redoc_favicon_url="/static/api-docs/favicon.png",
            with_google_fonts=False,
        )

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
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("readiness_failed", error=f"{type(exc).__name__}: {exc}")
            return problem_response(
                503, "database_unavailable", detail="the database does not answer"
            )
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
