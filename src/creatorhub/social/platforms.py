"""The platforms' documented OAuth and API endpoints, and which app credentials each uses.

What each platform is, for a creator's connection:

* **Instagram**: the *Instagram API with Instagram Login* (professional accounts; no Facebook
  Page needed). Authorization at www.instagram.com/oauth/authorize (scope
  `instagram_business_basic`), code exchange at api.instagram.com/oauth/access_token for a
  short-lived token (1 h), then at graph.instagram.com/access_token (`ig_exchange_token`) for a
  long-lived one (60 days). There is no refresh token: the long-lived token itself is refreshed
  at graph.instagram.com/refresh_access_token (`ig_refresh_token`; it must be at least 24 h
  old, which the refresh margin guarantees). Profile and followers:
  graph.instagram.com/{version}/me?fields=user_id,username,followers_count.
* **Facebook**: Facebook Login. www.facebook.com/{version}/dialog/oauth, code exchange at
  graph.facebook.com/{version}/oauth/access_token, then the same endpoint with
  `grant_type=fb_exchange_token` for a long-lived user token (about 60 days). Facebook user
  tokens have no refresh: when one expires, the connection needs a reconnect. Profile:
  /me?fields=id,name; followers: the largest `followers_count` among the Pages the user manages
  (/me/accounts?fields=id,name,followers_count, scopes pages_show_list and
  pages_read_engagement), none when the user manages no Page: a creator's audience on Facebook
  is their Page's, not their friends count (which the API no longer exposes to apps in general).
* **YouTube**: Google OAuth 2 (accounts.google.com/o/oauth2/v2/auth with `access_type=offline`
  and `prompt=consent` so a refresh token is always issued; oauth2.googleapis.com/token), scope
  youtube.readonly. Access tokens live an hour; Google does not rotate refresh tokens. Profile:
  www.googleapis.com/youtube/v3/channels?part=snippet,statistics&mine=true (`subscriberCount`).
* **TikTok**: Login Kit v2 (www.tiktok.com/v2/auth/authorize/, open.tiktokapis.com/v2/oauth/
  token/), which names the client id `client_key`. Access tokens live 24 h, refresh tokens a
  year, and TikTok may rotate the refresh token on each refresh. Profile:
  open.tiktokapis.com/v2/user/info/?fields=open_id,display_name,username,follower_count.

Every address goes through `url()`: with `social_api_base_override` set (tests), the call goes to
that server instead, with the platform's host as the first path segment
(`{override}/graph.instagram.com/refresh_access_token`), so one fake server stands in for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from creatorhub.config import Settings
from creatorhub.kit.errors import Problem
from creatorhub.social.models import Platform

RefreshStyle = Literal["refresh_token", "reexchange_access_token", "none"]


class PlatformNotConfigured(Problem):
    # 404, not 503: the server is fine, it just offers no connection to this platform (its
    # operator configured no app for it); retrying will not help.
    status, code = 404, "platform_not_configured"


@dataclass(frozen=True)
class PlatformSpec:
    platform: Platform
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    # How the platform wants scopes joined in the authorization URL.
    scope_separator: str
    refresh: RefreshStyle
    # Extra authorization parameters (e.g. Google's offline access).
    authorize_params: tuple[tuple[str, str], ...] = ()

    @property
    def scope(self) -> str:
        return self.scope_separator.join(self.scopes)


def graph(settings: Settings, host: str, path: str) -> str:
    """A versioned Graph API address (graph.facebook.com / graph.instagram.com)."""
    return f"https://{host}/{settings.social_graph_api_version}/{path.lstrip('/')}"


def spec_for(platform: Platform, settings: Settings) -> PlatformSpec:
    version = settings.social_graph_api_version
    if platform is Platform.INSTAGRAM:
        return PlatformSpec(
            platform=platform,
            authorize_url="https://www.instagram.com/oauth/authorize",
            token_url="https://api.instagram.com/oauth/access_token",  # noqa: S106
            scopes=("instagram_business_basic",),
            scope_separator=",",
            refresh="reexchange_access_token",
        )
    if platform is Platform.FACEBOOK:
        return PlatformSpec(
            platform=platform,
            authorize_url=f"https://www.facebook.com/{version}/dialog/oauth",
            token_url=f"https://graph.facebook.com/{version}/oauth/access_token",
            scopes=("public_profile", "pages_show_list", "pages_read_engagement"),
            scope_separator=",",
            refresh="none",
        )
    if platform is Platform.YOUTUBE:
        return PlatformSpec(
            platform=platform,
            authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",  # noqa: S106
            scopes=("https://www.googleapis.com/auth/youtube.readonly",),
            scope_separator=" ",
            refresh="refresh_token",
            authorize_params=(
                ("access_type", "offline"),
                ("prompt", "consent"),
                ("include_granted_scopes", "true"),
            ),
        )
    if platform is Platform.TIKTOK:
        return PlatformSpec(
            platform=platform,
            authorize_url="https://www.tiktok.com/v2/auth/authorize/",
            token_url="https://open.tiktokapis.com/v2/oauth/token/",  # noqa: S106
            scopes=("user.info.basic", "user.info.profile", "user.info.stats"),
            scope_separator=",",
            refresh="refresh_token",
        )
    raise ValueError(f"unknown platform {platform!r}")  # pragma: no cover - enum is closed


@dataclass(frozen=True)
class AppCredentials:
    client_id: str
    client_secret: str


def app_credentials(platform: Platform, settings: Settings) -> AppCredentials:
    """The platform app's id and secret, or 404 `platform_not_configured`."""
    client_id: str | None = getattr(settings, f"social_{platform.value}_client_id")
    secret = getattr(settings, f"social_{platform.value}_client_secret")
    if not client_id or secret is None or not secret.get_secret_value():
        env = f"CREATORHUB_SOCIAL_{platform.value.upper()}"
        raise PlatformNotConfigured(
            f"{platform.value} is not configured on this server "
            f"({env}_CLIENT_ID and {env}_CLIENT_SECRET)"
        )
    return AppCredentials(client_id=client_id, client_secret=secret.get_secret_value())


def url(settings: Settings, address: str) -> str:
    """`address`, or its stand-in on `social_api_base_override` (tests)."""
    override = settings.social_api_base_override
    if not override:
        return address
    parts = urlsplit(address)
    stand_in = f"{override.rstrip('/')}/{parts.netloc}{parts.path}"
    return f"{stand_in}?{parts.query}" if parts.query else stand_in


def callback_path(platform: Platform) -> str:
    return f"/v1/social/callback/{platform.value}"


def redirect_uri(settings: Settings, platform: Platform) -> str:
    """Where the platform sends the browser back (register it in the platform's app)."""
    return settings.link_base_url + callback_path(platform)
