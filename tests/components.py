"""Tests that need a component `make test` installs: skipped on a developer's machine without
it, a failure in CI.

`make test` installs the dev extras (localstripe, Playwright) and, where it can, Debian's
chromium; CI (`.ci/run` exports `CI=true`) always can. A test that skipped there because such a
component was missing or did not start would leave the run green while the tests meant to
guard that area never ran. Every skip of that kind goes through `require_component`, so the
rule holds in one place; skips for other reasons (a test that only means something as root, on
Linux) stay plain `pytest.skip`.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """`CI=true` (case-insensitive), as CI services and `.ci/run` set it."""
    return os.environ.get("CI", "").strip().lower() == "true"


def require_component(name: str, reason: str) -> NoReturn:
    """The test cannot run: `name` is missing or broken, `reason` says how. Skips it, or in CI
    fails it (without a traceback: the message is the diagnosis)."""
    message = f"{name} unavailable: {reason}"
    if in_ci():
        pytest.fail(
            f"{message}\n(CI=true: `make test` installs {name}, so a skip here would hide tests)",
            pytrace=False,
        )
    pytest.skip(message)
