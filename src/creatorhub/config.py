"""Configuration from environment variables and an optional `.env` file.

Every setting has the prefix ``CREATORHUB_`` except ``DATABASE_URL``, which keeps the name that
hosting platforms and tools already use. Without ``DATABASE_URL`` the platform runs its own
embedded PostgreSQL in ``CREATORHUB_DATA_DIR``.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from creatorhub.kit.crypto import KeyringError, parse_keys


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CREATORHUB_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = "development"

    # --- database -------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "CREATORHUB_DATABASE_URL"),
        description="postgresql:// URL of a PostgreSQL 15+ server; unset = embedded server",
    )
    data_dir: Path = Field(
        default=Path(".creatorhub"),
        description="Where the embedded PostgreSQL keeps its data (only without DATABASE_URL)",
    )
    embedded_database_name: str = "creatorhub"
    # Connections each app process keeps open, and at most uses: a request beyond them waits
    # for one. Kept rather than opened on demand: a connection opened for a burst and closed
    # after (SQLAlchemy's overflow) cost 2.5 % of a money request's app CPU under 16 concurrent
    # clients, and a backend started per connection on the server.
    db_pool_size: int = Field(default=20, ge=1, le=200)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    migration_lock_timeout_ms: int = Field(
        default=5_000,
        ge=1,
        description="how long a migration waits for each table lock before it gives up (and "
        "rolls back): while it waits, every query needing that table queues behind it",
    )

    # --- HTTP -----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str | None = Field(
        default=None,
        description="Base of the links the platform gives out (e-mails, review links, calendar "
        "feeds, onboarding returns, the sandbox's webhooks); unset = http://HOST:PORT as served",
    )
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(
        default=52_428_800,
        ge=1024,
        description="body limit of the file imports (a giveaway's comments), 50 MB by default",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For is believed (comma-separated, or *): the "
        "client address drives per-IP login limits and the audit trail",
    )

    # --- jobs -----------------------------------------------------------------------------
    run_worker_in_process: bool | None = Field(
        default=None,
        description="Run a job worker inside `serve`; unset = only with the embedded database",
    )
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    # Workers beat every sixth of it and sweep as often (creatorhub.jobs): with 30 s a job of
    # a killed worker runs again within 40 s, and a live worker's job is retried only after
    # six heartbeats in a row went missing. Below 10 s a few slow heartbeat queries would do.
    stalled_job_seconds: int = Field(
        default=30,
        ge=10,
        le=3600,
        description="A job whose worker sent no heartbeat for this long is retried",
    )

    # --- auth -----------------------------------------------------------------------------
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=300)
    page_session_idle_seconds: int = Field(
        default=2 * 3_600,
        ge=60,
        description="a web page session unused this long ends (each use extends it, up to the"
        " refresh token's lifetime from the sign-in)",
    )
    email_token_ttl_seconds: int = Field(default=86_400, ge=60)
    password_reset_ttl_seconds: int = Field(default=3_600, ge=60)
    login_window_seconds: int = Field(default=900, ge=10)
    login_max_attempts_per_account: int = Field(default=5, ge=1)
    login_max_attempts_per_ip: int = Field(default=50, ge=1)
    # Registration answers alike for new and taken addresses; the per-IP cap keeps one client
    # from probing many addresses (or mailing their owners) in a burst.
    register_max_per_ip: int = Field(
        default=10, ge=1, description="registrations from one client address per window"
    )
    register_window_seconds: int = Field(default=900, ge=10)
    # OWASP's argon2id recommendation (19 MiB, 2 passes): about 20 ms per hash on one core here,
    # against 170 ms for RFC 9106's 64 MiB/3 passes, which would let a burst of logins
    # occupy a small server. Raise both where hardware allows; hashes upgrade at next login.
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19_456, ge=8)

    # --- mail -----------------------------------------------------------------------------
    smtp_host: str | None = Field(default=None, description="unset = mail goes to the dev log")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "creatorhub <no-reply@creatorhub.localhost>"

    # --- money ----------------------------------------------------------------------------
    payments_provider: Literal["sandbox", "stripe"] = "sandbox"
    # The sandbox provider signs its webhook events with this secret, exactly as a real provider
    # would; it is not a credential for anything else.
    sandbox_webhook_secret: str = "whsec_sandbox_development_only"  # noqa: S105
    sandbox_auto_confirm: bool = Field(
        default=False, description="sandbox: confirm funding intents as soon as they are created"
    )
    sandbox_fail_amounts: list[int] = Field(
        default_factory=lambda: [13_13],
        description="sandbox: funding intents for these amounts fail instead of succeeding",
    )
    stripe_api_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = Field(
        default=None, description="override Stripe's API address (tests: a local emulator)"
    )
    webhook_tolerance_seconds: int = Field(default=300, ge=10)
    payout_minimum_amount: int = Field(default=2000, ge=0, description="minor units ($20)")
    payout_currency: str = "USD"
    earnings_hold_days: int = Field(
        default=0, ge=0, description="days earnings stay pending before they become available"
    )
    idempotency_key_retention_hours: int = Field(default=48, ge=24)
    fee_shards: int = Field(
        default=16, ge=1, le=256, description="sub-accounts the platform fee account is split into"
    )

    # --- workspace ------------------------------------------------------------------------
    review_link_ttl_days: int = Field(
        default=30, ge=1, le=365, description="days a client review link stays usable"
    )

    # --- campaigns (seed 002) --------------------------------------------------------------
    campaign_view_validation_hours: int = Field(
        default=72,
        ge=0,
        le=24 * 90,
        description="hours a counted view of a tracking link waits before it becomes payable",
    )
    campaign_sale_refund_window_days: int = Field(
        default=30,
        ge=0,
        le=365,
        description="days a salesman campaign's sale waits for a refund before its commission "
        "is credited to the promoter's wallet",
    )
    campaign_referral_window_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="days after a click of a promoter's referral link in which a sale the shop "
        "attributes to it counts (the shop keeps the last clicked code: last click wins)",
    )
    campaign_clicks_per_minute: int = Field(
        default=30,
        ge=1,
        description="clicks one visitor (address and user agent) may make across all tracking "
        "links in a minute; the ones beyond are recorded as rate-limited, never counted",
    )

    # --- giveaways ---------------------------------------------------------------------------
    giveaway_welcome_credits: int = Field(
        default=3, ge=0, le=100, description="credits a user gets once, the first time they host"
    )
    giveaway_draw_credits: int = Field(
        default=1,
        ge=0,
        le=100,
        description="credits a draw reserves when created, used on completion",
    )
    giveaway_drand_url: str | None = Field(
        default=None,
        description="a drand HTTP endpoint (e.g. https://api.drand.sh): draws then mix in the "
        "randomness of a future round named in their commitment; unset, no external beacon is used "
        "and certificates say so",
    )
    giveaway_drand_chain_hash: str = Field(
        default="52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
        description="the drand chain (default: quicknet, unchained, a round every 3 seconds)",
    )
    giveaway_drand_genesis: int = Field(default=1692803367, ge=0)
    giveaway_drand_period: int = Field(default=3, ge=1, le=3600)
    giveaway_beacon_margin_seconds: int = Field(
        default=10,
        ge=0,
        le=3600,
        description="the committed round is the first one at least this long after the commit",
    )

    # --- social platforms (OAuth connectors) ---------------------------------------------
    token_encryption_keys: SecretStr | None = Field(
        default=None,
        description="AES-256 keys for OAuth tokens at rest, `id:base64key,...`; the first seals, "
        "all open (`creatorhub keys generate`, `keys rotate`). Unset outside production: a "
        "fixed development key",
    )
    social_instagram_client_id: str | None = Field(
        default=None, description="Instagram app id (Instagram API with Instagram Login)"
    )
    social_instagram_client_secret: SecretStr | None = None
    social_facebook_client_id: str | None = Field(default=None, description="Facebook app id")
    social_facebook_client_secret: SecretStr | None = None
    social_youtube_client_id: str | None = Field(
        default=None, description="Google OAuth client id (YouTube Data API v3)"
    )
    social_youtube_client_secret: SecretStr | None = None
    social_tiktok_client_id: str | None = Field(
        default=None, description="TikTok client key (Login Kit, Display API)"
    )
    social_tiktok_client_secret: SecretStr | None = None
    social_graph_api_version: str = Field(
        default="v23.0", pattern=r"^v\d+\.\d+$", description="Facebook/Instagram Graph API version"
    )
    social_api_base_override: str | None = Field(
        default=None,
        description="send every platform call to this address instead, the platform's host as "
        "the first path segment (tests: local fake OAuth/API servers)",
    )
    social_http_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    social_refresh_margin_seconds: int = Field(
        default=86_400,
        ge=60,
        description="refresh a token this long before it expires (at most a third of its life)",
    )
    social_connected_redirect_url: str | None = Field(
        default=None,
        description="where the OAuth callback sends the browser once connected (303, with "
        "?platform=&status=connected); unset = the callback answers JSON",
    )

    # --- logging --------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True

    @field_validator("database_url")
    @classmethod
    def _empty_url_means_embedded(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("token_encryption_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        # A malformed key list fails at startup, not at the first OAuth callback.
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            parse_keys(value.get_secret_value())
        except KeyringError as error:
            raise ValueError(f"CREATORHUB_TOKEN_ENCRYPTION_KEYS: {error}") from None
        return value

    @model_validator(mode="after")
    def _no_sandbox_in_production(self) -> Settings:
        # The sandbox confirms any payment it is asked to and signs its webhooks with a secret
        # published in this repository: in production it would credit money never received.
        if self.environment == "production" and self.payments_provider == "sandbox":
            raise ValueError(
                "CREATORHUB_PAYMENTS_PROVIDER=sandbox cannot be used with "
                "CREATORHUB_ENVIRONMENT=production: it accepts every payment without taking any "
                "money and signs its webhooks with a public secret; set "
                "CREATORHUB_PAYMENTS_PROVIDER=stripe with CREATORHUB_STRIPE_API_KEY and "
                "CREATORHUB_STRIPE_WEBHOOK_SECRET"
            )
        return self

    @property
    def link_base_url(self) -> str:
        """The base of every link the platform gives out, without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = self.host
        if host in {"", "0.0.0.0", "::"}:  # noqa: S104 - listening everywhere: link to loopback
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def worker_runs_in_process(self) -> bool:
        if self.run_worker_in_process is None:
            return self.uses_embedded_database
        return self.run_worker_in_process

    @property
    def access_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.access_token_ttl_seconds)

    @property
    def refresh_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.refresh_token_ttl_seconds)

    @property
    def page_session_idle(self) -> timedelta:
        return timedelta(seconds=self.page_session_idle_seconds)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
