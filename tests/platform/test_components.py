"""`require_component`: a skip on a developer's machine, a failure in CI (CI=true).

Each case runs a one-test pytest session in a subprocess (the helper calls `pytest.skip` and
`pytest.fail`, which end the test that calls them), with and without `CI=true`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import components

TESTS = Path(__file__).resolve().parents[1]

USES_IT = """
from components import require_component

def test_needs_the_thing():
    require_component("the-thing", "not installed (install it)")
"""


def run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_uses_it.py").write_text(USES_IT)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # none of the project's options
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rsfE", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("ci", [None, "", "false", "1"])
def test_outside_ci_it_skips_with_the_reason(tmp_path: Path, ci: str | None) -> None:
    result = run(tmp_path, ci)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout, result.stdout
    assert "the-thing unavailable: not installed (install it)" in result.stdout


@pytest.mark.parametrize("ci", ["true", "TRUE", " true"])
def test_in_ci_it_fails_naming_the_component(tmp_path: Path, ci: str) -> None:
    result = run(tmp_path, ci)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed" in result.stdout, result.stdout
    assert "skipped" not in result.stdout
    assert "the-thing unavailable: not installed (install it)" in result.stdout
    assert "CI=true: `make test` installs the-thing" in result.stdout


def test_in_ci_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert components.in_ci()
    monkeypatch.setenv("CI", "false")
    assert not components.in_ci()
    monkeypatch.delenv("CI")
    assert not components.in_ci()
