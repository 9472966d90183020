"""Connected platform accounts: connect (OAuth), list, refresh the profile, disconnect.

* `POST /v1/social/connections/{platform}/authorize` (creator): the platform's consent URL.
* `GET /v1/social/callback/{platform}`: where the platform sends the browser back with `code`
  and `state`. No bearer token (it is a browser redirect): the state names the creator. On
  success it redirects (303) to `social_connected_redirect_url` when that is set, with
  `?platform=...&status=connected`, else answers the connection as JSON.
* `GET /v1/social/connections`: the caller's connections, never their tokens.
* `POST /v1/social/connections/{platform}/refresh-profile` (creator): read followers now.
* `DELETE /v1/social/connections/{platform}`: disconnect (tokens deleted, row kept).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import RedirectResponse

from creatorhub.db import DbSession
from creatorhub.identity.deps import CurrentPrincipal, require_roles
from creatorhub.identity.models import Role
from creatorhub.identity.service import Principal
from creatorhub.kit.errors import problem_responses
from creatorhub.kit.state import AppDatabase, AppSettings
from creatorhub.social import connections
from creatorhub.social.callback import complete_authorization
from creatorhub.social.models import Platform
from creatorhub.social.schemas import AuthorizationOut, ConnectionOut

router = APIRouter(
    prefix="/v1/social", tags=["social"], responses=problem_responses(401, 403, 404, 422)
)
CreatorPrincipal = Annotated[Principal, Depends(require_roles(Role.CREATOR))]

_CALLBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(400, 502, 503),
    303: {"description": "Connected: on to `social_connected_redirect_url` (when configured)"},
}


@router.post(
    "/connections/{platform}/authorize",
    response_model=AuthorizationOut,
    summary="Start connecting a platform account (OAuth 2, state and PKCE)",
    description="404 `platform_not_configured` when this server has no app for the platform.",
    responses=problem_responses(503),
)
async def authorize(
    platform: Platform, principal: CreatorPrincipal, session: DbSession, settings: AppSettings
) -> AuthorizationOut:
    started = await connections.start_authorization(
        session, settings, user_id=principal.id, platform=platform
    )
    return AuthorizationOut(
        authorization_url=started.authorization_url,
        redirect_uri=started.redirect_uri,
        expires_at=started.expires_at,
    )


@router.get(
    "/callback/{platform}",
    response_model=ConnectionOut,
    summary="The platform's redirect back after consent",
    responses=_CALLBACK_RESPONSES,
)
# A GET that writes (the OAuth state used up, the connection stored), without the request's
# session: the platform is called in the middle, and no transaction may wait on it, so the
# service runs its own short transactions on the database.
async def callback(
    platform: Platform,
    database: AppDatabase,
    settings: AppSettings,
    state: Annotated[str | None, Query(max_length=512)] = None,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=2000)] = None,
) -> Any:
    credential = await complete_authorization(
        database,
        settings,
        platform=platform,
        state=state,
        code=code,
        error=error,
        error_description=error_description,
    )
    if settings.social_connected_redirect_url:
        query = urlencode({"platform": platform.value, "status": "connected"})
        separator = "&" if "?" in settings.social_connected_redirect_url else "?"
        return RedirectResponse(
            f"{settings.social_connected_redirect_url}{separator}{query}", status_code=303
        )
    return ConnectionOut.of(credential)


@router.get("/connections", response_model=list[ConnectionOut], summary="The caller's connections")
async def list_connections(principal: CurrentPrincipal, session: DbSession) -> list[ConnectionOut]:
    return [
        ConnectionOut.of(row) for row in await connections.list_connections(session, principal.id)
    ]


@router.post(
    "/connections/{platform}/refresh-profile",
    response_model=ConnectionOut,
    summary="Read the profile and follower count from the platform now",
    responses=problem_responses(409, 502, 503),
)
async def refresh_profile(
    platform: Platform,
    principal: CreatorPrincipal,
    session: DbSession,
    database: AppDatabase,
    settings: AppSettings,
) -> ConnectionOut:
    credential = await connections.refresh_profile(
        session, database, settings, user_id=principal.id, platform=platform
    )
    return ConnectionOut.of(credential)


@router.delete(
    "/connections/{platform}",
    status_code=204,
    summary="Disconnect: the tokens are deleted, the connection shows as disconnected",
)
async def disconnect(
    platform: Platform, principal: CurrentPrincipal, session: DbSession
) -> Response:
    await connections.disconnect(session, principal.id, platform)
    return Response(status_code=204)
