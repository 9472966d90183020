"""The embedded PostgreSQL on a new machine: first starts racing each other, failures explained.

As root, pgserver runs PostgreSQL as a system user `pgserver` that it creates on first use.
Two processes starting at once on a machine without that user used to fail (a `useradd` that
lost the race, or an `initdb` that could not take its data directory): `make test`'s two
workers did, the first time on every new machine.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from creatorhub.embedded_db import (
    SYSTEM_USER,
    EmbeddedServerError,
    start_embedded_server,
    stop_embedded_server,
)
from process_helpers import (
    clean_environment,
    command_prefix,
    postgres_processes,
    scratch_directory,
)

TESTS = Path(__file__).resolve().parents[1]
AS_ROOT = os.name == "posix" and os.geteuid() == 0

# Runs one first start in a fresh process and reports it on its last line.
START_ONE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from creatorhub.embedded_db import EmbeddedServerError, start_embedded_server
    from creatorhub.embedded_db import stop_embedded_server
    data_dir = Path(sys.argv[1])
    try:
        start_embedded_server(data_dir)
    except EmbeddedServerError as error:
        print("FAILED", error)
        sys.exit(1)
    stop_embedded_server(data_dir)
    print("STARTED")
    """
)

ENSURE_USER = textwrap.dedent(
    """
    import sys
    from creatorhub.embedded_db import ensure_system_user
    ensure_system_user(sys.argv[1])
    print("READY")
    """
)


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    with scratch_directory("creatorhub-embedded-test-") as path:
        yield path


def processes_of(user: str) -> list[int]:
    """Pids of the processes running as `user` (Linux /proc)."""
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def delete_user(name: str) -> None:
    subprocess.run(["userdel", name], check=False, capture_output=True)
    subprocess.run(["groupdel", name], check=False, capture_output=True)


def run_at_once(
    script: str, argument_sets: list[list[str]]
) -> list[subprocess.CompletedProcess[str]]:
    """Start one Python process per argument list at the same moment; wait for all."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for arguments in argument_sets
    ]
    results = []
    for process, arguments in zip(processes, argument_sets, strict=True):
        output, _ = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(arguments, process.returncode, output))
    return results


@pytest.mark.skipif(not AS_ROOT, reason="only root needs a system user for PostgreSQL")
@pytest.mark.xdist_group("embedded_server")
def test_first_starts_at_once_on_a_machine_without_the_system_user(scratch_dir: Path) -> None:
    """Four processes create the system user at once: all succeed and there is one user.

    When no process runs as `pgserver` (the suite runs on an external server), the real first
    start is tried too: the user removed, two servers started at the same moment. While the
    suite's own embedded server runs as that user, it cannot be removed, and the lock is proved
    on a throwaway user instead (the same code; CI also starts every run without the user).
    """
    throwaway = f"chtest{uuid.uuid4().hex[:8]}"
    try:
        results = run_at_once(ENSURE_USER, [[throwaway]] * 4)
        assert [(r.returncode, r.stdout.strip().splitlines()[-1]) for r in results] == [
            (0, "READY")
        ] * 4, [r.stdout for r in results]
        entries = Path("/etc/passwd").read_text().splitlines()
        assert sum(line.startswith(f"{throwaway}:") for line in entries) == 1
    finally:
        delete_user(throwaway)

    if processes_of(SYSTEM_USER):
        return  # the suite's own server runs as that user: see the docstring
    delete_user(SYSTEM_USER)
    with pytest.raises(KeyError):
        pwd.getpwnam(SYSTEM_USER)
    data_dirs = [scratch_dir / "first", scratch_dir / "second"]
    results = run_at_once(START_ONE, [[str(path)] for path in data_dirs])
    assert [r.stdout.strip().splitlines()[-1] for r in results] == ["STARTED", "STARTED"], [
        r.stdout for r in results
    ]
    assert [r.returncode for r in results] == [0, 0]
    pwd.getpwnam(SYSTEM_USER)
    for path in data_dirs:
        assert (path / "pgdata" / "PG_VERSION").is_file()
        assert postgres_processes(path / "pgdata") == []


def test_a_failed_start_names_the_program_its_message_and_the_data_directory(
    scratch_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An impossible port makes PostgreSQL itself refuse to run, as a broken machine would.
    monkeypatch.setenv("PGPORT", "70000")
    with pytest.raises(EmbeddedServerError) as refused:
        start_embedded_server(scratch_dir)
    message = str(refused.value)
    assert message.startswith("the embedded PostgreSQL did not start: initdb failed:")
    assert '70000 is outside the valid range for parameter "port"' in message
    assert message.endswith(f"data directory: {(scratch_dir / 'pgdata').resolve()}")
    stop_embedded_server(scratch_dir)  # nothing to stop: must not raise


def test_a_command_that_cannot_start_the_server_says_why_in_a_few_lines(
    scratch_dir: Path,
) -> None:
    env = clean_environment(CREATORHUB_DATA_DIR=str(scratch_dir / "data"), PGPORT="70000")
    done = subprocess.run(
        [*command_prefix(), "db", "current"],
        env=env,
        cwd=scratch_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr
    assert "the embedded PostgreSQL did not start: initdb failed:" in done.stderr
    assert f"data directory: {(scratch_dir / 'data' / 'pgdata').resolve()}" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 8, done.stderr


def test_a_server_that_cannot_start_ends_the_test_run_once_before_any_test(tmp_path: Path) -> None:
    """The suite's own fixtures: one short message and an early end, not one error per test."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["db_fixtures"]\n')
    (tmp_path / "test_needs_a_database.py").write_text(
        "def test_one(database_url):\n    assert database_url\n\n"
        "def test_two(database_url):\n    assert database_url\n"
    )
    env = clean_environment(PGPORT="70000", PYTHONPATH=str(TESTS))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.INTERNAL_ERROR, output
    assert output.count("the embedded PostgreSQL did not start: initdb failed:") == 1
    assert output.count('70000 is outside the valid range for parameter "port"') == 1
    assert output.count("data directory: ") == 1
    assert "no test ran: the embedded PostgreSQL did not start (see above)" in output
    assert "Traceback" not in output
    assert "passed" not in output and " error" not in output
    assert time.monotonic() - started < 60
