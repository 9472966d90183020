"""A local stand-in for Instagram, Facebook, YouTube (Google) and TikTok: OAuth and profile APIs.

One aiohttp server (on the test session's event loop, like the fake Stripe Connect) answers
every platform; the app reaches it through `social_api_base_override`, which puts the real
host as the first path segment (`/oauth2.googleapis.com/token`). It behaves like the
documentation says the platforms do, strictly enough to catch mistakes:

* consent pages (`/authorize`): check the client id (`client_key` for TikTok), redirect URI,
  `response_type=code`, and the PKCE S256 challenge, then redirect back with `code` and `state`
  (or `error=access_denied` after `deny_next(platform)`), as the browser would see;
* token endpoints: check the client secret, the code (single use, same redirect URI) and the
  PKCE verifier against the challenge; issue tokens (Instagram: short-lived, then long-lived
  via `ig_exchange_token`; Facebook: `fb_exchange_token`);
* refresh: per platform a queue of modes set by `next_refresh(platform, *modes)`; with the queue
  empty, the platform's own habit (Google: no new refresh token; TikTok: a rotated one;
  Instagram: a new long-lived token). Modes: `success`, `rotate`, `omit`, `empty` (an empty
  string), `transient` (503), `rate_limited` (429), `invalid_grant`. A rotated refresh token
  replaces the old one, which then gets `invalid_grant`, as TikTok does;
* profile APIs: the account that consented, with its follower count (`accounts[platform]`);
* post comments (`add_comments`): Instagram `GET /{media-id}/comments` (replies nested) and
  Facebook `GET /{post-id}/comments` (`filter=stream`: replies flat with their `parent`; the
  commenter's `from` only to a Page token from `/me/accounts`), `limit` per page and an opaque
  `after` cursor; `rate_limit_page(media_id, page)` answers 429 with `Retry-After` once when
  that page (0-based) is asked for;
* `hang(path_part)`: requests to a matching path wait, once received, until the test lets
  them through (a platform that does not answer, for as long as the test needs).

Every secret it hands out or receives is in `secrets`, so tests can check none reaches a log.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets as random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web

GRAPH_VERSION = "v23.0"
PLATFORMS = ("instagram", "facebook", "youtube", "tiktok")
CLIENTS = {
    platform: (f"{platform}-client-id", f"{platform}-client-secret-{random.token_hex(8)}")
    for platform in PLATFORMS
}
# Token lifetimes, as the platforms document them.
LIFETIMES = {
    "instagram_short": 3600,
    "instagram": 5_184_000,
    "facebook_short": 3600,
    "facebook": 5_184_000,
    "youtube": 3599,
    "tiktok": 86_400,
}


@dataclass
class FakeAccount:
    id: str
    username: str
    followers: int
    pages: list[int] = field(default_factory=list)  # Facebook: followers of each managed Page


def default_accounts() -> dict[str, FakeAccount]:
    return {
        "instagram": FakeAccount("17841400000000001", "creator.ig", 1200),
        "facebook": FakeAccount("10200000000000001", "Creator Name", 0, pages=[120, 3400]),
        "youtube": FakeAccount("UCfakechannel00000000001", "@creator", 56_000),
        "tiktok": FakeAccount("tt-open-id-0001", "creator.tt", 78_000),
    }


@dataclass
class Grant:
    platform: str
    redirect_uri: str
    challenge: str
    account: FakeAccount
    used: bool = False


@dataclass
class Token:
    platform: str
    account: FakeAccount
    kind: str  # short, access, refresh


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _oauth_error(error: str, status: int = 400, description: str = "") -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _graph_error(code: int, message: str, status: int = 400, **extra: Any) -> web.Response:
    body = {"error": {"message": message, "type": "OAuthException", "code": code, **extra}}
    return web.json_response(body, status=status)


@dataclass
class Gate:
    """Holds the requests of one path: `entered` once one arrived, `release` lets them go."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FakePlatforms:
    url: str = ""
    accounts: dict[str, FakeAccount] = field(default_factory=default_accounts)
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh_modes: dict[str, list[str]] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)
    expires_in: dict[str, int] = field(default_factory=lambda: dict(LIFETIMES))
    secrets: set[str] = field(default_factory=set)
    # (method, path, parameters) of every request
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    gates: dict[str, Gate] = field(default_factory=dict)
    # media id → its comments (top-level, each with its replies under `replies`)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rate_limited: dict[str, set[int]] = field(default_factory=dict)

    def reset(self) -> None:
        self.comments.clear()
        self.rate_limited.clear()
        for gate in self.gates.values():
            gate.release.set()
        self.gates.clear()
        self.accounts = default_accounts()
        self.codes.clear()
        self.tokens.clear()
        self.refresh_modes.clear()
        self.denied.clear()
        self.expires_in = dict(LIFETIMES)
        self.requests.clear()
        self.secrets = {secret for _, secret in CLIENTS.values()}

    def next_refresh(self, platform: str, *modes: str) -> None:
        self.refresh_modes.setdefault(platform, []).extend(modes)

    def hang(self, path_part: str) -> Gate:
        """Requests whose path contains `path_part` wait for the gate's `release`."""
        gate = self.gates[path_part] = Gate()
        return gate

    def deny_next(self, platform: str) -> None:
        self.denied.add(platform)

    def settings(self) -> dict[str, str]:
        values = {"social_api_base_override": self.url}
        for platform, (client_id, secret) in CLIENTS.items():
            values[f"social_{platform}_client_id"] = client_id
            values[f"social_{platform}_client_secret"] = secret
        return values

    def requests_to(self, path_part: str) -> list[dict[str, str]]:
        return [params for _, path, params in self.requests if path_part in path]

    def refresh_token_of(self, platform: str) -> str | None:
        """The one live refresh token of a platform, when there is exactly one."""
        live = [
            value
            for value, token in self.tokens.items()
            if token.platform == platform and token.kind == "refresh"
        ]
        return live[0] if len(live) == 1 else None

    def add_comments(
        self, platform: str, media_id: str, count: int, *, replies_every: int = 0
    ) -> int:
        """`count` comments on a post (and a reply to every `replies_every`-th); how many
        comments and replies in all."""
        made: list[dict[str, Any]] = []
        total = 0
        for number in range(count):
            comment = _comment(platform, f"{media_id}-{number:05d}", number, None)
            comment["replies"] = []
            if replies_every and number % replies_every == 0:
                reply_id = f"{media_id}-{number:05d}-r"
                comment["replies"].append(_comment(platform, reply_id, number + 500, comment))
            total += 1 + len(comment["replies"])
            made.append(comment)
        self.comments[media_id] = made
        return total

    def rate_limit_page(self, media_id: str, page: int) -> None:
        self.rate_limited.setdefault(media_id, set()).add(page)

    def _comments(self, platform: str, media_id: str, request: web.Request) -> web.Response:
        token = self._bearer(request, platform)
        page_token = self._token_for(request.query.get("access_token"), platform, "page")
        if token is None and page_token is None:
            return _graph_error(190, "Invalid OAuth access token.")
        if media_id not in self.comments:
            return _graph_error(100, "Unsupported get request.")
        items: list[dict[str, Any]] = []
        for comment in self.comments[media_id]:
            if platform == "instagram":
                replies = comment["replies"]
                shown = {k: v for k, v in comment.items() if k != "replies"}
                items.append({**shown, **({"replies": {"data": replies}} if replies else {})})
            else:  # filter=stream: replies flat, after their comment
                if request.query.get("filter") != "stream":
                    return _graph_error(100, "this fake serves filter=stream only")
                items.extend([comment, *comment["replies"]])
        if platform == "facebook":
            items = [{k: v for k, v in c.items() if k != "replies"} for c in items]
            if page_token is None:  # a user token: the commenters are not named
                items = [{k: v for k, v in c.items() if k != "from"} for c in items]
        limit = int(request.query.get("limit", "25"))
        after = request.query.get("after")
        start = int(base64.urlsafe_b64decode(after.encode()).decode()) if after else 0
        page = start // limit
        if page in self.rate_limited.get(media_id, set()):
            self.rate_limited[media_id].discard(page)
            response = _graph_error(4, "Application request limit reached", 429)
            response.headers["Retry-After"] = "120"
            return response
        chunk = items[start : start + limit]
        end = start + len(chunk)
        cursor = lambda at: base64.urlsafe_b64encode(str(at).encode()).decode()  # noqa: E731
        paging: dict[str, Any] = {"cursors": {"before": cursor(start), "after": cursor(end)}}
        if end < len(items):
            paging["next"] = f"{self.url}/{request.path}?after={cursor(end)}&access_token=x"
        return web.json_response({"data": chunk, "paging": paging})

    # --- issuing ----------------------------------------------------------------------------

    def _issue(self, platform: str, account: FakeAccount, kind: str) -> str:
        value = f"{platform}-{kind}-{random.token_urlsafe(24)}"
        self.tokens[value] = Token(platform, account, kind)
        self.secrets.add(value)
        return value

    def _token_for(self, value: str | None, platform: str, *kinds: str) -> Token | None:
        token = self.tokens.get(value or "")
        if token is None or token.platform != platform or token.kind not in kinds:
            return None
        return token

    # --- consent ----------------------------------------------------------------------------

    def _authorize(self, platform: str, request: web.Request) -> web.StreamResponse:
        query = request.query
        client_param = "client_key" if platform == "tiktok" else "client_id"
        if query.get(client_param) != CLIENTS[platform][0]:
            return web.Response(status=400, text=f"invalid {client_param}")
        redirect_uri, state = query.get("redirect_uri", ""), query.get("state", "")
        if query.get("response_type") != "code" or not redirect_uri or not state:
            return web.Response(status=400, text="response_type, redirect_uri, state required")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return web.Response(status=400, text="PKCE S256 challenge required")
        if not query.get("scope"):
            return web.Response(status=400, text="scope required")
        if platform == "youtube" and query.get("access_type") != "offline":
            return web.Response(status=400, text="offline access expected")
        self.secrets.add(state)
        if platform in self.denied:
            self.denied.discard(platform)
            params = {
                "error": "access_denied",
                "error_description": "The user denied",
                "state": state,
            }
            raise web.HTTPFound(f"{redirect_uri}?{urlencode(params)}")
        code = f"{platform}-code-{random.token_urlsafe(16)}"
        self.secrets.add(code)
        self.codes[code] = Grant(
            platform, redirect_uri, query["code_challenge"], self.accounts[platform]
        )
        raise web.HTTPFound(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")

    # --- token endpoints ----------------------------------------------------------------------

    def _client_ok(self, platform: str, form: dict[str, str]) -> bool:
        client_param = "client_key" if platform == "tiktok" else "client_id"
        client_id, secret = CLIENTS[platform]
        return form.get(client_param) == client_id and form.get("client_secret") == secret

    def _redeem(self, platform: str, form: dict[str, str]) -> Grant | web.Response:
        grant = self.codes.get(form.get("code", ""))
        verifier = form.get("code_verifier", "")
        self.secrets.add(verifier)
        if grant is None or grant.platform != platform or grant.used:
            return _oauth_error("invalid_grant", description="the code is invalid or used")
        grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("invalid_grant", description="redirect_uri mismatch")
        if _challenge(verifier) != grant.challenge:
            return _oauth_error("invalid_grant", description="PKCE verification failed")
        return grant

    def _refresh_mode(self, platform: str) -> str:
        queue = self.refresh_modes.get(platform)
        return queue.pop(0) if queue else "success"

    def _oauth_token(self, platform: str, form: dict[str, str]) -> web.Response:
        """Google's and TikTok's token endpoints (code and refresh grants)."""
        if not self._client_ok(platform, form):
            return _oauth_error("invalid_client", 401)
        grant_type = form.get("grant_type")
        expires_in = self.expires_in[platform]
        if grant_type == "authorization_code":
            grant = self._redeem(platform, form)
            if isinstance(grant, web.Response):
                return grant
            body: dict[str, Any] = {
                "access_token": self._issue(platform, grant.account, "access"),
                "refresh_token": self._issue(platform, grant.account, "refresh"),
                "expires_in": expires_in,
                "token_type": "Bearer",
            }
            if platform == "tiktok":
                body.update(
                    open_id=grant.account.id,
                    refresh_expires_in=31_536_000,
                    scope="user.info.basic,user.info.profile,user.info.stats",
                )
            else:
                body["scope"] = "https://www.googleapis.com/auth/youtube.readonly"
            return web.json_response(body)
        if grant_type != "refresh_token":
            return _oauth_error("unsupported_grant_type")
        old = form.get("refresh_token")
        self.secrets.add(old or "")
        mode = self._refresh_mode(platform)
        if mode == "transient":
            return web.Response(status=503, text="Service Unavailable")
        if mode == "rate_limited":
            return _oauth_error("rate_limit_exceeded", 429)
        token = self._token_for(old, platform, "refresh")
        if mode == "invalid_grant" or token is None:
            return _oauth_error("invalid_grant", description="Token has been expired or revoked.")
        body = {
            "access_token": self._issue(platform, token.account, "access"),
            "expires_in": expires_in,
            "token_type": "Bearer",
        }
        if mode == "success":
            # Each platform's habit: TikTok rotates, Google does not.
            mode = "rotate" if platform == "tiktok" else "omit"
        if mode == "rotate":
            del self.tokens[old or ""]
            body["refresh_token"] = self._issue(platform, token.account, "refresh")
        elif mode == "empty":
            body["refresh_token"] = ""
        return web.json_response(body)

    def _instagram_code(self, form: dict[str, str]) -> web.Response:
        if not self._client_ok("instagram", form):
            return _graph_error(101, "Error validating client secret.")
        if form.get("grant_type") != "authorization_code":
            return _graph_error(100, "Invalid grant_type")
        grant = self._redeem("instagram", form)
        if isinstance(grant, web.Response):
            return _graph_error(100, "Invalid authorization code")
        short = self._issue("instagram", grant.account, "short")
        return web.json_response(
            {
                "data": [
                    {
                        "access_token": short,
                        "user_id": grant.account.id,
                        "permissions": "instagram_business_basic",
                    }
                ]
            }
        )

    def _graph_exchange(self, platform: str, query: dict[str, str]) -> web.Response:
        """ig_exchange_token / fb_exchange_token: short-lived → long-lived."""
        if query.get("client_secret") != CLIENTS[platform][1]:
            return _graph_error(101, "Error validating client secret.")
        short_param = "access_token" if platform == "instagram" else "fb_exchange_token"
        token = self._token_for(query.get(short_param), platform, "short")
        if token is None:
            return _graph_error(190, "Invalid OAuth access token.")
        return web.json_response(
            {
                "access_token": self._issue(platform, token.account, "access"),
                "token_type": "bearer",
                "expires_in": self.expires_in[platform],
            }
        )

    def _instagram_refresh(self, query: dict[str, str]) -> web.Response:
        if query.get("grant_type") != "ig_refresh_token":
            return _graph_error(100, "Invalid grant_type")
        mode = self._refresh_mode("instagram")
        if mode == "transient":
            return _graph_error(2, "Service temporarily unavailable", 500, is_transient=True)
        if mode == "rate_limited":
            return _graph_error(4, "Application request limit reached", 403, is_transient=True)
        token = self._token_for(query.get("access_token"), "instagram", "access")
        if mode == "invalid_grant" or token is None:
            return _graph_error(190, "Error validating access token: Session has expired.")
        return web.json_response(
            {
                "access_token": self._issue("instagram", token.account, "access"),
                "token_type": "bearer",
                "expires_in": self.expires_in["instagram"],
            }
        )

    # --- profile APIs -----------------------------------------------------------------------

    def _bearer(self, request: web.Request, platform: str) -> Token | None:
        header = request.headers.get("Authorization", "")
        value = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        value = value or request.query.get("access_token")
        return self._token_for(value, platform, "access")

    def _profile(self, platform: str, path: str, request: web.Request) -> web.Response:
        token = self._bearer(request, platform)
        account = token.account if token else None
        if platform == "instagram":
            if account is None:
                return _graph_error(190, "Invalid OAuth access token.")
            return web.json_response(
                {
                    "user_id": account.id,
                    "username": account.username,
                    "followers_count": account.followers,
                    "id": "app-scoped-" + account.id,
                }
            )
        if platform == "facebook":
            if account is None:
                return _graph_error(190, "Invalid OAuth access token.")
            if path.endswith("/me/accounts"):
                pages = [
                    {
                        "id": f"page-{i}",
                        "name": f"Page {i}",
                        "followers_count": count,
                        "access_token": self._issue("facebook", account, "page"),
                    }
                    for i, count in enumerate(account.pages)
                ]
                return web.json_response({"data": pages, "paging": {"next": None}})
            return web.json_response({"id": account.id, "name": account.username})
        if platform == "youtube":
            if account is None:
                return web.json_response(
                    {
                        "error": {
                            "code": 401,
                            "message": "Invalid Credentials",
                            "status": "UNAUTHENTICATED",
                        }
                    },
                    status=401,
                )
            return web.json_response(
                {
                    "kind": "youtube#channelListResponse",
                    "items": [
                        {
                            "id": account.id,
                            "snippet": {"title": "Creator", "customUrl": account.username},
                            "statistics": {
                                "subscriberCount": str(account.followers),
                                "hiddenSubscriberCount": False,
                            },
                        }
                    ],
                }
            )
        if account is None:  # tiktok
            return web.json_response(
                {
                    "data": {},
                    "error": {
                        "code": "access_token_invalid",
                        "message": "The access token is invalid",
                        "log_id": "x",
                    },
                },
                status=401,
            )
        return web.json_response(
            {
                "data": {
                    "user": {
                        "open_id": account.id,
                        "username": account.username,
                        "display_name": "Creator",
                        "follower_count": account.followers,
                    }
                },
                "error": {"code": "ok", "message": "", "log_id": "x"},
            }
        )

    # --- routing ----------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form = dict(await request.post()) if request.method == "POST" else {}
        params = {**request.query, **{k: str(v) for k, v in form.items()}}
        self.requests.append((request.method, request.path, params))
        for part, gate in list(self.gates.items()):
            if part in request.path:
                gate.entered.set()
                await gate.release.wait()
        host, _, rest = request.path.lstrip("/").partition("/")
        path = "/" + rest
        form_str = {k: str(v) for k, v in form.items()}
        query = dict(request.query)
        graph = f"/{GRAPH_VERSION}"
        if request.method == "GET":
            consent = {
                ("www.instagram.com", "/oauth/authorize"): "instagram",
                ("www.facebook.com", f"{graph}/dialog/oauth"): "facebook",
                ("accounts.google.com", "/o/oauth2/v2/auth"): "youtube",
                ("www.tiktok.com", "/v2/auth/authorize/"): "tiktok",
            }.get((host, path))
            if consent:
                return self._authorize(consent, request)
            if host == "graph.instagram.com" and path == "/access_token":
                return self._graph_exchange("instagram", query)
            if host == "graph.instagram.com" and path == "/refresh_access_token":
                return self._instagram_refresh(query)
            if host == "graph.facebook.com" and path == f"{graph}/oauth/access_token":
                if query.get("grant_type") != "fb_exchange_token":
                    return _graph_error(100, "Unsupported grant_type")
                return self._graph_exchange("facebook", query)
            if host == "graph.instagram.com" and path == f"{graph}/me":
                return self._profile("instagram", path, request)
            if host == "graph.facebook.com" and path in (f"{graph}/me", f"{graph}/me/accounts"):
                return self._profile("facebook", path, request)
            if host in ("graph.instagram.com", "graph.facebook.com") and path.endswith("/comments"):
                platform = "instagram" if host == "graph.instagram.com" else "facebook"
                media_id = path.removeprefix(f"{graph}/").removesuffix("/comments")
                return self._comments(platform, media_id, request)
            if host == "www.googleapis.com" and path == "/youtube/v3/channels":
                if query.get("mine") != "true" or "statistics" not in query.get("part", ""):
                    return web.json_response({"error": {"code": 400}}, status=400)
                return self._profile("youtube", path, request)
            if host == "open.tiktokapis.com" and path == "/v2/user/info/":
                return self._profile("tiktok", path, request)
        if request.method == "POST":
            if host == "api.instagram.com" and path == "/oauth/access_token":
                return self._instagram_code(form_str)
            if host == "graph.facebook.com" and path == f"{graph}/oauth/access_token":
                return self._facebook_code(form_str)
            if host == "oauth2.googleapis.com" and path == "/token":
                return self._oauth_token("youtube", form_str)
            if host == "open.tiktokapis.com" and path == "/v2/oauth/token/":
                return self._oauth_token("tiktok", form_str)
        return web.Response(status=404, text=f"no such endpoint: {request.method} {request.path}")

    def _facebook_code(self, form: dict[str, str]) -> web.Response:
        if not self._client_ok("facebook", form):
            return _graph_error(101, "Error validating client secret.")
        grant = self._redeem("facebook", form)
        if isinstance(grant, web.Response):
            return _graph_error(100, "Invalid verification code format.")
        return web.json_response(
            {
                "access_token": self._issue("facebook", grant.account, "short"),
                "token_type": "bearer",
                "expires_in": self.expires_in["facebook_short"],
            }
        )


def _comment(
    platform: str, comment_id: str, number: int, parent: dict[str, Any] | None
) -> dict[str, Any]:
    """A comment as the platform's Graph API gives it."""
    user = f"fan{number:04d}"
    when = f"2026-11-{1 + number % 28:02d}T10:{number % 60:02d}:00+0000"
    text = f"I want it! @friend{number % 5}"
    if platform == "instagram":
        comment: dict[str, Any] = {
            "id": comment_id,
            "text": text,
            "timestamp": when,
            "username": user,
            "like_count": number % 7,
            "from": {"id": f"ig-{number:04d}", "username": user},
        }
        if parent is not None:
            comment["parent_id"] = parent["id"]
        return comment
    comment = {
        "id": comment_id,
        "message": text,
        "created_time": when,
        "from": {"id": f"fb-{number:04d}", "name": user},
        "like_count": number % 7,
        "comment_count": 0,
    }
    if parent is not None:
        comment["parent"] = {"id": parent["id"]}
    return comment


@pytest.fixture(scope="session")
async def fake_platforms() -> AsyncIterator[FakePlatforms]:
    fake = FakePlatforms()
    fake.reset()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.url = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
