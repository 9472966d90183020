"""The package as a user installs it: the wheel, without the dev extras, in a fresh venv.

The suite itself runs with the dev extras installed, so a module that imports a dev-only
package (httpx once did) passes every other test and breaks `make run` on a new machine. Here
the wheel is built and installed alone; every module is imported, every command's `--help`
answers, and `creatorhub serve` answers `/readyz` and a page.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from process_helpers import clean_environment, free_port, output_of, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    [],
    ["serve"],
    ["worker"],
    ["db"],
    ["db", "upgrade"],
    ["db", "downgrade"],
    ["db", "current"],
    ["demo"],
    ["user"],
    ["user", "create-admin"],
    ["ledger"],
    ["ledger", "verify"],
    ["keys"],
    ["keys", "generate"],
    ["keys", "rotate"],
]
# Imports every module of the installed package, as the running platform may.
IMPORT_EVERYTHING = """
import importlib, pkgutil, creatorhub
names = [m.name for m in pkgutil.walk_packages(creatorhub.__path__, "creatorhub.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""
# Packages of the dev extras that the runtime dependencies do not bring.
DEV_ONLY = ["pytest", "schemathesis", "playwright", "localstripe", "aiosmtpd", "mypy", "ruff"]


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        command, capture_output=True, text=True, check=False, **kwargs
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin` directory of a fresh venv holding only the wheel and its dependencies."""
    work = tmp_path_factory.mktemp("install")
    # Built from a copy of the sources: setuptools builds in the tree's `build/`, where files
    # of an earlier build (a module since moved or deleted) would end up in the wheel.
    source = work / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "dist",
            "*.egg-info",
            ".creatorhub",
            "tests",
            "bench",
            "__pycache__",
            ".mypy_cache",
            ".ruff_cache",
            ".pytest_cache",
        ),
    )
    built = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(work),
            str(source),
        ],
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    wheels = list(work.glob("creatorhub-*.whl"))
    assert len(wheels) == 1, wheels
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    done = run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])],
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return bin_dir


# One worker builds the venv once for both tests (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("wheel_install")


@pytest.mark.timeout(900)
def test_the_wheel_alone_imports_every_module_and_every_command_helps(installed: Path) -> None:
    listed = run([str(installed / "python"), "-m", "pip", "list", "--format=freeze"], timeout=60)
    present = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert not present & set(DEV_ONLY), present & set(DEV_ONLY)

    imported = run([str(installed / "python"), "-c", IMPORT_EVERYTHING], timeout=120)
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert int(imported.stdout.strip()) > 50

    helps = [
        subprocess.Popen(
            [str(installed / "creatorhub"), *command, "--help"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in COMMANDS
    ]
    for command, process in zip(COMMANDS, helps, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, (command, stderr[-2000:])
        assert "Usage:" in stdout, (command, stdout)


@pytest.mark.timeout(900)
def test_the_wheel_alone_serves_the_api_and_the_pages(
    installed: Path, empty_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_environment(DATABASE_URL=empty_database_url)
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    process = subprocess.Popen(
        [str(installed / "creatorhub"), "serve", "--port", str(port), "--demo", "--worker"],
        env=env,
        cwd=tmp_path,
        stdout=out.open("wb"),
        stderr=err.open("wb"),
    )
    try:
        wait_until_ready(base, timeout=180, process=process)
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            page = http.get("/portfolio/sarah")
            assert page.status_code == 200, page.text[:500]
            assert "<html" in page.text.lower()
            # The demo's photo ships with the package and is served by the platform itself.
            photo = re.search(r'<img src="([^"]+)" alt="Photo of', page.text)
            assert photo is not None, page.text[:2000]
            assert photo.group(1) == f"{base}/static/demo/sarah.svg"
            image = http.get(photo.group(1))
            assert image.status_code == 200
            assert image.headers["content-type"].startswith("image/svg+xml")
            assert b"<svg" in image.content[:200]
            assert http.get("/openapi.json").status_code == 200
            # The web app's stylesheet and scripts ship with the package too.
            for asset, kind in (
                ("app.css", "text/css"),
                ("app.js", "javascript"),
                ("studio.js", "javascript"),
            ):
                served = http.get(f"/static/{asset}")
                assert served.status_code == 200, asset
                assert kind in served.headers["content-type"], (asset, served.headers)
            login = http.get("/login")
            assert login.status_code == 200 and 'href="/static/app.css"' in login.text
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, output_of(err)[-3000:]
