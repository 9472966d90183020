"""Choosing the configured provider (`CREATORHUB_PAYMENTS_PROVIDER`: sandbox or stripe)."""

from __future__ import annotations

from functools import lru_cache

from creatorhub.config import Settings
from creatorhub.kit.errors import Problem
from creatorhub.payments.providers.base import PaymentProvider, ProviderError
from creatorhub.payments.providers.sandbox import EventSink, SandboxProvider


class ProviderUnavailable(Problem):
    status, code = 503, "payments_provider_unavailable"


class ProviderFailed(Problem):
    """The provider refused a call (not a passing failure: retrying the same will not help)."""

    status, code = 502, "payments_provider_error"


def provider_problem(error: ProviderError) -> Problem:
    """The answer to a provider's failure: 503 when trying again may help, else 502."""
    if error.retryable:
        return ProviderUnavailable(f"the payments provider is unavailable: {error}")
    return ProviderFailed(f"the payments provider refused: {error}")


@lru_cache(maxsize=4)
def _stripe(
    api_key: str, webhook_secret: str, api_base: str | None, tolerance_seconds: int
) -> PaymentProvider:
    """One Stripe client per configuration: it keeps an HTTP connection pool worth reusing."""
    from creatorhub.payments.providers.stripe_provider import StripeProvider

    return StripeProvider(
        api_key, webhook_secret, api_base=api_base, tolerance_seconds=tolerance_seconds
    )


def provider_names() -> tuple[str, ...]:
    return ("sandbox", "stripe")


def get_provider(
    settings: Settings, name: str | None = None, *, emit: EventSink | None = None
) -> PaymentProvider:
    """The provider called `name` (default: the configured one).

    `emit` receives the sandbox's webhook events; the services bind it to a job deferred in
    their transaction, so an event is delivered only if the change that caused it commits.
    """
    name = name or settings.payments_provider
    if name == "sandbox":
        return SandboxProvider(
            webhook_secret=settings.sandbox_webhook_secret,
            fail_amounts=frozenset(settings.sandbox_fail_amounts),
            tolerance_seconds=settings.webhook_tolerance_seconds,
            emit=emit,
            public_base_url=settings.link_base_url,
        )
    if name == "stripe":
        if not settings.stripe_api_key or not settings.stripe_webhook_secret:
            raise ProviderUnavailable(
                "the stripe provider needs CREATORHUB_STRIPE_API_KEY and "
                "CREATORHUB_STRIPE_WEBHOOK_SECRET"
            )
        return _stripe(
            settings.stripe_api_key,
            settings.stripe_webhook_secret,
            settings.stripe_api_base,
            settings.webhook_tolerance_seconds,
        )
    raise ProviderUnavailable(f"unknown payments provider {name!r}")
