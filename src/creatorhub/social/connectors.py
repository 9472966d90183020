"""Calls to the platforms: OAuth (Authlib's httpx client) and their profile APIs (httpx).

`Connector` does one platform's calls for one piece of work (a callback, one refresh), used as
`async with Connector(platform, settings, book) as connector:`. Each call is written to the
`LogBook` (action, outcome, request and answer, redacted there) and failures become a
`ConnectorError` whose `kind` says what the caller should do:

* `transient`: network error, timeout, 429, 5xx, or a platform error the platform marks as
  temporary (Graph API `is_transient`, rate-limit codes): try again later, change nothing else;
* `invalid_grant`: the grant is dead (OAuth `invalid_grant`, Graph API code 190, an access
  token the API refuses with 401): the creator must connect again;
* `rejected`: anything else (our app's credentials refused, a malformed answer): an operator's
  problem, not the creator's, so it never marks the connection dead.

The endpoints and why they were chosen are in `platforms.py`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.urls import add_params_to_qs
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.client import OAuth2Client

from creatorhub import __version__
from creatorhub.config import Settings
from creatorhub.kit.clock import utcnow
from creatorhub.social.logbook import LogBook, describe_request, describe_response
from creatorhub.social.models import LogStatus, Platform
from creatorhub.social.platforms import PlatformSpec, app_credentials, graph, spec_for, url

T = TypeVar("T")

USER_AGENT = f"creatorhub/{__version__}"
# Graph API error codes that mean "later": unknown/service errors, app and user rate limits.
_GRAPH_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})
_OAUTH_TRANSIENT_ERRORS = frozenset(
    {"temporarily_unavailable", "server_error", "rate_limit_exceeded", "internal_error"}
)
_TOKEN_DEAD_ERRORS = frozenset({"invalid_grant", "access_token_invalid", "invalid_token"})


class ErrorKind(StrEnum):
    TRANSIENT = "transient"
    INVALID_GRANT = "invalid_grant"
    REJECTED = "rejected"


class ConnectorError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        # Seconds the platform asked to wait (its `Retry-After` header), if it said.
        self.retry_after = retry_after


class PlatformAnswerError(Exception):
    """A platform API answered with an error (HTTP status, or an error object in the body)."""

    def __init__(self, status: int, error: Any) -> None:
        super().__init__(f"HTTP {status}: {error!r}"[:500])
        self.status = status
        self.error = error


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    # None: the answer carried none (the stored one, if any, stays).
    refresh_token: str | None
    expires_at: datetime | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    platform_user_id: str
    username: str | None
    follower_count: int | None


def error_kind(status: int | None, error: Any) -> ErrorKind:
    """What an error answer means, from its HTTP status and its `error` (string or object)."""
    if status is not None and (status == 429 or status >= 500):
        return ErrorKind.TRANSIENT
    if isinstance(error, dict):  # Graph API and TikTok error objects
        if error.get("is_transient") is True or error.get("code") in _GRAPH_TRANSIENT_CODES:
            return ErrorKind.TRANSIENT
        if error.get("code") == 190:  # Graph API: invalid or expired access token
            return ErrorKind.INVALID_GRANT
        error = error.get("code")
    if isinstance(error, str):
        if error in _TOKEN_DEAD_ERRORS:
            return ErrorKind.INVALID_GRANT
        if error in _OAUTH_TRANSIENT_ERRORS:
            return ErrorKind.TRANSIENT
    if status == 401:
        return ErrorKind.INVALID_GRANT
    return ErrorKind.REJECTED


def _retry_after(value: str | None) -> float | None:
    """A `Retry-After` in seconds (its HTTP-date form, which the Graph API does not send, is
    not read)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def _tiktok_client_auth(
    auth: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """TikTok's token endpoint wants the client id as `client_key`, with the secret, in the body."""
    body = add_params_to_qs(
        body or "", [("client_key", auth.client_id), ("client_secret", auth.client_secret)]
    )
    if "Content-Length" in headers:
        headers["Content-Length"] = str(len(body))
    return uri, headers, body


def _split_scopes(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return tuple(part for part in re.split(r"[,\s]+", value.strip()) if part)
    return default


def _expires_at(token: dict[str, Any]) -> datetime | None:
    expires_in = token.get("expires_in")
    if expires_in in (None, ""):
        return None
    seconds = int(expires_in)
    return utcnow() + timedelta(seconds=seconds) if seconds > 0 else None


def _count(value: Any) -> int | None:
    """A follower count as the APIs give it (int, or a string for YouTube), never negative."""
    if value is None or isinstance(value, bool):
        return None
    count = int(value)
    return count if count >= 0 else None


def authorization_url(
    platform: Platform, settings: Settings, *, state: str, code_verifier: str, redirect_uri: str
) -> str:
    """The platform's consent page for this authorization (state and PKCE S256 challenge)."""
    spec = spec_for(platform, settings)
    app = app_credentials(platform, settings)
    client = OAuth2Client(
        None,
        client_id=app.client_id,
        scope=spec.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    address, _ = client.create_authorization_url(
        url(settings, spec.authorize_url),
        state=state,
        code_verifier=code_verifier,
        **dict(spec.authorize_params),
    )
    if platform is not Platform.TIKTOK:
        return str(address)
    parts = urlsplit(str(address))
    params = [
        ("client_key" if key == "client_id" else key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(params)))


class Connector:
    def __init__(
        self,
        platform: Platform,
        settings: Settings,
        book: LogBook,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.platform = platform
        self.settings = settings
        self.spec: PlatformSpec = spec_for(platform, settings)
        self.app = app_credentials(platform, settings)
        self.book = book
        book.secret(self.app.client_secret)
        self._transport = transport
        self._client: Any = None
        self._request: dict[str, Any] | None = None
        self._response: dict[str, Any] | None = None
        self._retry_after: float | None = None

    async def __aenter__(self) -> Connector:
        client = AsyncOAuth2Client(
            client_id=self.app.client_id,
            client_secret=self.app.client_secret,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
            timeout=httpx.Timeout(self.settings.social_http_timeout_seconds),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
            transport=self._transport,
        )
        if self.platform is Platform.TIKTOK:
            client.register_client_auth_method(("client_key_post", _tiktok_client_auth))
            client.token_endpoint_auth_method = "client_key_post"  # noqa: S105
        self._client = client
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    # --- recording ------------------------------------------------------------------------

    async def _on_request(self, request: httpx.Request) -> None:
        self._request = describe_request(request)

    async def _on_response(self, response: httpx.Response) -> None:
        await response.aread()
        self._response = describe_response(response)
        self._retry_after = _retry_after(response.headers.get("Retry-After"))

    async def _call(self, action: str, send: Callable[[], Awaitable[T]]) -> T:
        """Run one HTTP exchange, log it, and turn its failure into a `ConnectorError`."""
        self._request = self._response = None
        self._retry_after = None
        try:
            result = await send()
        except (
            httpx.HTTPError,
            AuthlibBaseError,
            PlatformAnswerError,
            # A 2xx answer without the fields the documentation promises.
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
        ) as error:
            status = self._response["status"] if self._response else None
            failure = self._failure(error, status)
            failure.retry_after = self._retry_after
            self.book.add(
                action,
                LogStatus.FAILURE,
                f"{failure.kind.value}: {failure.message}",
                request=self._request,
                response=self._response,
            )
            raise failure from error
        self.book.add(action, LogStatus.SUCCESS, request=self._request, response=self._response)
        return result

    @staticmethod
    def _failure(error: Exception, status: int | None) -> ConnectorError:
        if isinstance(error, httpx.TransportError):
            kind = ErrorKind.TRANSIENT
            message = f"network error: {type(error).__name__}: {error}"
        elif isinstance(error, httpx.HTTPStatusError):
            status = error.response.status_code
            kind = error_kind(status, None)
            message = f"HTTP {status}"
        elif isinstance(error, AuthlibBaseError):
            kind = error_kind(status, error.error)
            message = f"{error.error}: {error.description or ''}".rstrip(": ")
        elif isinstance(error, PlatformAnswerError):
            status = error.status
            kind = error_kind(status, error.error)
            message = f"HTTP {status}: {error.error}"
        else:
            kind, message = ErrorKind.REJECTED, f"unexpected answer: {error}"
        return ConnectorError(kind, message[:500], status=status)

    async def _get_json(
        self, address: str, *, params: dict[str, str], bearer: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        response = await self._client.request(
            "GET", url(self.settings, address), params=params, headers=headers, withhold_token=True
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise PlatformAnswerError(response.status_code, "the answer is not a JSON object")
        error = body.get("error")
        tiktok_ok = isinstance(error, dict) and error.get("code") == "ok"
        if response.status_code >= 400 or (error and not tiktok_ok):
            raise PlatformAnswerError(response.status_code, error or body)
        return body

    # --- OAuth ----------------------------------------------------------------------------

    def _token_set(self, token: dict[str, Any]) -> TokenSet:
        # Instagram's code exchange may wrap its answer in `data: [...]`.
        data = token.get("data")
        if "access_token" not in token and isinstance(data, list) and data:
            token = data[0]
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("the answer has no access_token")
        refresh_token = token.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            refresh_token = None
        tokens = TokenSet(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=_expires_at(token),
            scopes=_split_scopes(token.get("scope") or token.get("permissions"), self.spec.scopes),
        )
        self.book.secret(tokens.access_token, tokens.refresh_token)
        return tokens

    async def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        """Authorization code (with its PKCE verifier) → tokens, long-lived where there are."""
        self.book.secret(code, code_verifier)

        async def fetch() -> TokenSet:
            token = await self._client.fetch_token(
                url(self.settings, self.spec.token_url),
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
            )
            return self._token_set(dict(token))

        tokens = await self._call("oauth_token", fetch)
        if self.platform is Platform.INSTAGRAM:
            return await self._graph_token(
                "exchange_long_lived_token",
                "https://graph.instagram.com/access_token",
                {
                    "grant_type": "ig_exchange_token",
                    "client_secret": self.app.client_secret,
                    "access_token": tokens.access_token,
                },
                scopes=tokens.scopes,
            )
        if self.platform is Platform.FACEBOOK:
            return await self._graph_token(
                "exchange_long_lived_token",
                self.spec.token_url,
                {
                    "grant_type": "fb_exchange_token",
                    "client_id": self.app.client_id,
                    "client_secret": self.app.client_secret,
                    "fb_exchange_token": tokens.access_token,
                },
                scopes=tokens.scopes,
            )
        return tokens

    async def _graph_token(
        self, action: str, address: str, params: dict[str, str], *, scopes: tuple[str, ...]
    ) -> TokenSet:
        async def fetch() -> TokenSet:
            answer = await self._get_json(address, params=params)
            tokens = self._token_set(answer)
            return TokenSet(tokens.access_token, None, tokens.expires_at, scopes)

        return await self._call(action, fetch)

    async def refresh(self, *, access_token: str, refresh_token: str | None) -> TokenSet:
        """New tokens. `refresh_token` of the result is None unless the platform issued one
        (a rotated token); an empty one in the answer counts as none."""
        self.book.secret(access_token, refresh_token)
        if self.spec.refresh == "none":
            raise ConnectorError(
                ErrorKind.INVALID_GRANT, f"{self.platform.value} tokens cannot be refreshed"
            )
        if self.spec.refresh == "reexchange_access_token":
            return await self._graph_token(
                "refresh_token",
                "https://graph.instagram.com/refresh_access_token",
                {"grant_type": "ig_refresh_token", "access_token": access_token},
                scopes=self.spec.scopes,
            )
        if not refresh_token:
            raise ConnectorError(ErrorKind.INVALID_GRANT, "no refresh token is stored")

        async def fetch() -> TokenSet:
            token = await self._client.refresh_token(
                url(self.settings, self.spec.token_url), refresh_token=refresh_token
            )
            tokens = self._token_set(dict(token))
            # Authlib copies the old refresh token into an answer that has none; only a new,
            # non-empty one is news.
            rotated = tokens.refresh_token if tokens.refresh_token != refresh_token else None
            return TokenSet(tokens.access_token, rotated, tokens.expires_at, tokens.scopes)

        return await self._call("refresh_token", fetch)

    # --- profile and followers ------------------------------------------------------------

    async def fetch_profile(self, access_token: str) -> Profile:
        self.book.secret(access_token)
        fetchers: dict[Platform, Callable[[str], Awaitable[Profile]]] = {
            Platform.INSTAGRAM: self._instagram_profile,
            Platform.FACEBOOK: self._facebook_profile,
            Platform.YOUTUBE: self._youtube_profile,
            Platform.TIKTOK: self._tiktok_profile,
        }
        return await fetchers[self.platform](access_token)

    async def _instagram_profile(self, access_token: str) -> Profile:
        async def fetch() -> Profile:
            me = await self._get_json(
                graph(self.settings, "graph.instagram.com", "me"),
                params={"fields": "user_id,username,followers_count", "access_token": access_token},
            )
            return Profile(
                platform_user_id=str(me.get("user_id") or me["id"]),
                username=me.get("username"),
                follower_count=_count(me.get("followers_count")),
            )

        return await self._call("fetch_profile", fetch)

    async def _facebook_profile(self, access_token: str) -> Profile:
        async def me() -> dict[str, Any]:
            return await self._get_json(
                graph(self.settings, "graph.facebook.com", "me"),
                params={"fields": "id,name", "access_token": access_token},
            )

        async def pages() -> list[Any]:
            answer = await self._get_json(
                graph(self.settings, "graph.facebook.com", "me/accounts"),
                params={"fields": "id,name,followers_count", "access_token": access_token},
            )
            data = answer.get("data")
            return data if isinstance(data, list) else []

        user = await self._call("fetch_profile", me)
        managed = await self._call("fetch_followers", pages)
        counts = [
            count
            for page in managed
            if isinstance(page, dict) and (count := _count(page.get("followers_count"))) is not None
        ]
        return Profile(
            platform_user_id=str(user["id"]),
            username=user.get("name"),
            follower_count=max(counts) if counts else None,
        )

    async def _youtube_profile(self, access_token: str) -> Profile:
        async def fetch() -> Profile:
            answer = await self._get_json(
                "https://www.googleapis.com/youtube/v3/channels",
                params={"part": "snippet,statistics", "mine": "true"},
                bearer=access_token,
            )
            items = answer.get("items") or []
            if not items:
                raise ValueError("this Google account has no YouTube channel")
            channel = items[0]
            snippet, statistics = channel.get("snippet", {}), channel.get("statistics", {})
            hidden = statistics.get("hiddenSubscriberCount") is True
            return Profile(
                platform_user_id=str(channel["id"]),
                username=snippet.get("customUrl") or snippet.get("title"),
                follower_count=None if hidden else _count(statistics.get("subscriberCount")),
            )

        return await self._call("fetch_profile", fetch)

    async def _tiktok_profile(self, access_token: str) -> Profile:
        async def fetch() -> Profile:
            answer = await self._get_json(
                "https://open.tiktokapis.com/v2/user/info/",
                params={"fields": "open_id,display_name,username,follower_count"},
                bearer=access_token,
            )
            user = (answer.get("data") or {}).get("user") or {}
            return Profile(
                platform_user_id=str(user["open_id"]),
                username=user.get("username") or user.get("display_name"),
                follower_count=_count(user.get("follower_count")),
            )

        return await self._call("fetch_profile", fetch)

    # --- reading a post's comments (giveaways) --------------------------------------------

    async def graph_get(
        self, action: str, address: str, params: dict[str, str], *, access_token: str
    ) -> dict[str, Any]:
        """One Graph API GET (a page of a post's comments, the user's Pages), logged as
        `action`; failures are `ConnectorError`s (with the platform's `Retry-After`)."""
        self.book.secret(access_token)

        async def fetch() -> dict[str, Any]:
            return await self._get_json(address, params={**params, "access_token": access_token})

        return await self._call(action, fetch)
