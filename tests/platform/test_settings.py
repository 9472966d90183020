"""Settings that decide what the platform may do: refused combinations, derived defaults."""

from __future__ import annotations

import subprocess

import pytest
from pydantic import ValidationError

from creatorhub.config import Settings
from process_helpers import clean_environment, command_prefix


def test_the_sandbox_provider_is_refused_in_production() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", payments_provider="sandbox")
    assert "CREATORHUB_PAYMENTS_PROVIDER=sandbox cannot be used with" in str(refused.value)
    assert "CREATORHUB_ENVIRONMENT=production" in str(refused.value)
    # Elsewhere it is the default, and production with Stripe is accepted.
    assert Settings(environment="development").payments_provider == "sandbox"
    assert Settings(environment="production", payments_provider="stripe").environment == (
        "production"
    )


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["db", "current"]])
def test_commands_refuse_to_start_with_the_sandbox_in_production(command: list[str]) -> None:
    env = clean_environment(
        CREATORHUB_ENVIRONMENT="production",
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
    )
    done = subprocess.run(
        [*command_prefix(), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done
    assert done.stderr.startswith("creatorhub cannot start, its settings are not valid:\n")
    assert "CREATORHUB_PAYMENTS_PROVIDER=sandbox cannot be used with" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"port": 8101}, "http://127.0.0.1:8101"),
        ({"host": "0.0.0.0", "port": 9000}, "http://127.0.0.1:9000"),  # noqa: S104
        ({"host": "::1", "port": 9000}, "http://[::1]:9000"),
        ({"host": "api.internal", "port": 80}, "http://api.internal:80"),
        ({"port": 8101, "public_base_url": "https://hub.example/"}, "https://hub.example"),
    ],
)
def test_links_are_based_on_the_address_served_unless_set(
    values: dict[str, object], expected: str
) -> None:
    assert Settings.model_validate(values).link_base_url == expected
