"""`creatorhub serve` as a user runs it: stopped by a signal, served on another port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from creatorhub.db import libpq_url
from creatorhub.embedded_db import HANDLES_FILE
from process_helpers import (
    clean_environment,
    command_prefix,
    free_port,
    output_of,
    postgres_processes,
    scratch_directory,
    wait_until_ready,
)

READY_TIMEOUT = 120


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    with scratch_directory("creatorhub-serve-test-") as path:
        yield path


def start_serve(
    env: dict[str, str], cwd: Path, *args: str
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """`creatorhub serve ARGS` in a process group of its own, as a terminal or a supervisor
    starts it; returns the process and the files its output goes to."""
    stdout, stderr = cwd / "serve.out", cwd / "serve.err"
    process = subprocess.Popen(
        [*command_prefix(), "serve", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout.open("wb"),
        stderr=stderr.open("wb"),
        start_new_session=True,
    )
    return process, stdout, stderr


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signum)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


@pytest.mark.xdist_group("embedded_server")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_serve_stops_its_embedded_postgres(scratch_dir: Path, signum: int) -> None:
    """The server runs in a process group of its own: only `serve` can stop it, and must, on
    a supervisor's SIGTERM as on a terminal's Ctrl-C (SIGINT to the foreground group)."""
    port = free_port()
    data = scratch_dir / "data"
    env = clean_environment(CREATORHUB_DATA_DIR=str(data), CREATORHUB_PORT=str(port))
    process, _, stderr = start_serve(env, scratch_dir)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", timeout=READY_TIMEOUT, process=process)
        pgdata = data / "pgdata"
        assert len(postgres_processes(pgdata)) >= 1
        assert json.loads((pgdata / HANDLES_FILE).read_text()) == [process.pid]
    finally:
        code = stop(process, signum)
    assert code == 0, output_of(stderr)[-3000:]
    assert f"creatorhub stopped ({signal.Signals(signum).name})" in output_of(stderr)
    assert postgres_processes(pgdata) == []
    assert json.loads((pgdata / HANDLES_FILE).read_text()) == []


@pytest.mark.xdist_group("embedded_server")
def test_a_killed_process_does_not_keep_the_next_one_from_stopping_the_server(
    scratch_dir: Path,
) -> None:
    """`kill -9` leaves its pid in pgserver's list of users of the server; the next `serve`
    must still stop the server when it stops (dead pids are dropped)."""
    port = free_port()
    data = scratch_dir / "data"
    env = clean_environment(CREATORHUB_DATA_DIR=str(data), CREATORHUB_PORT=str(port))
    killed, _, _ = start_serve(env, scratch_dir)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", timeout=READY_TIMEOUT, process=killed)
    finally:
        stop(killed, signal.SIGKILL)
    pgdata = data / "pgdata"
    assert json.loads((pgdata / HANDLES_FILE).read_text()) == [killed.pid]

    process, _, stderr = start_serve(env, scratch_dir)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", timeout=READY_TIMEOUT, process=process)
        assert json.loads((pgdata / HANDLES_FILE).read_text()) == [process.pid]
    finally:
        code = stop(process)
    assert code == 0, output_of(stderr)[-3000:]
    assert postgres_processes(pgdata) == []


def test_the_links_follow_the_port_served(database_url: str, scratch_dir: Path) -> None:
    """Without CREATORHUB_PUBLIC_BASE_URL, every link points where the platform listens."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_environment(DATABASE_URL=database_url, CREATORHUB_LOG_LEVEL="WARNING")
    process, stdout, stderr = start_serve(
        env, scratch_dir, "--port", str(port), "--demo", "--no-worker"
    )
    try:
        wait_until_ready(base, timeout=READY_TIMEOUT, process=process)
        printed = output_of(stdout)
        assert f"pages         {base}/" in printed
        assert f"{base}/review/" in printed  # the demo's unused review link
        assert ":8000" not in printed
        with httpx.Client(base_url=base, timeout=10) as http:
            asked = http.post("/v1/auth/password-reset", json={"email": "sarah@creatorhub.example"})
            assert asked.status_code == 202, asked.text
    finally:
        code = stop(process)
    assert code == 0, output_of(stderr)[-3000:]
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            "SELECT body_text FROM mail.outbox WHERE to_address = %s AND template = %s",
            ("sarah@creatorhub.example", "reset_password"),
        ).fetchone()
    assert row is not None
    assert f"{base}/reset-password?token=" in row[0]
