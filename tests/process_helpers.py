"""Running the real `creatorhub` command in a subprocess: its environment, a free port, waiting
until it answers, and finding the PostgreSQL processes of a data directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx


def command_prefix(venv_bin: Path | None = None) -> list[str]:
    """How to run `creatorhub`: the script next to this Python (or of `venv_bin`)."""
    if venv_bin is not None:
        return [str(venv_bin / "creatorhub")]
    script = Path(sys.executable).with_name("creatorhub")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "creatorhub.cli"]


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any creatorhub setting, plus cheap hashing and
    quiet plain logs, plus `settings` (names as the platform reads them)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith("CREATORHUB_")
    }
    env.update(
        {
            "CREATORHUB_ARGON2_TIME_COST": "1",
            "CREATORHUB_ARGON2_MEMORY_KIB": "1024",
            "CREATORHUB_LOG_JSON": "false",
            "CREATORHUB_LOG_LEVEL": "WARNING",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "COLUMNS": "200",
        }
    )
    env.update(settings)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until_ready(
    base_url: str, *, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> float:
    """Poll `/readyz` until it answers 200; returns the seconds it took.

    With `process`, the wait ends early (with its exit code) if that process dies.
    """
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=5) as http:
        while time.monotonic() - started < timeout:
            if process is not None and process.poll() is not None:
                code = process.returncode
                raise AssertionError(f"the server exited with code {code} before it was ready")
            try:
                if http.get("/readyz").status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"{base_url}/readyz did not answer 200 within {timeout} s")


def postgres_processes(pgdata: Path) -> list[int]:
    """Pids of the `postgres` processes serving `pgdata` (Linux /proc)."""
    wanted = str(pgdata.resolve()).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"postgres") and wanted in argv:
            found.append(int(entry.name))
    return found


def output_of(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory outside pytest's basetemp, for an embedded server's data.

    As root, pgserver opens a data directory's parents to its `pgserver` user, and each new
    pytest session resets /tmp/pytest-of-<user> to 0700, which would lock a server under it
    out of its own files while another session starts.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def app_in_thread(app: Any, sock: socket.socket | None = None) -> Iterator[int]:
    """Serve an ASGI app with uvicorn (its default HTTP parser) in a thread of this process,
    until the block ends; yields the port. On `sock` (see `loopback_socket`), or a free
    loopback port."""
    import threading

    import uvicorn

    sock = sock or loopback_socket()
    port: int = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(300):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def loopback_socket() -> socket.socket:
    """A socket bound to a free port of 127.0.0.1, for a server to take over (no window in
    which another process could take the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock
