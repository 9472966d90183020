"""Key rotation: `creatorhub keys rotate` re-encrypts every stored secret with the active key."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.kit.crypto import DEVELOPMENT_KEY_ID, keyring_from_settings, parse_keys
from creatorhub.social.keyrotation import RotationError, rotate_keys
from creatorhub.social.models import Credential
from creatorhub.social.vault import open_tokens
from helpers import account, scalar

from .conftest import app_client, connect, consent, start

NEW_KEY = base64.b64encode(b"n" * 32).decode()
OTHER_KEY = base64.b64encode(b"o" * 32).decode()


def with_keys(settings: Settings, spec: str, environment: str = "test") -> Settings:
    return settings.model_copy(
        update={"token_encryption_keys": SecretStr(spec), "environment": environment}
    )


async def tokens_by_platform(database: Database, settings: Settings) -> dict[str, object]:
    ring = keyring_from_settings(settings)
    async with database.session_scope() as session:
        rows = await session.scalars(select(Credential).where(Credential.status == "active"))
        return {row.platform: open_tokens(ring, row) for row in rows}


async def key_ids(database: Database) -> str:
    return str(
        await scalar(
            database,
            "SELECT concat_ws('|',"
            " (SELECT string_agg(DISTINCT key_id, ',') FROM social.credentials),"
            " (SELECT string_agg(DISTINCT key_id, ',') FROM social.oauth_states))",
        )
    )


async def test_rotate_reencrypts_everything_and_the_old_key_can_go(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    creator = await account(client, roles=["creator"])
    for platform in ("youtube", "tiktok", "facebook"):
        await connect(client, creator, platform)
    assert (
        await client.delete("/v1/social/connections/facebook", headers=creator.headers)
    ).status_code == 204
    pending = await start(client, creator, "instagram")
    callback = await consent(pending.json()["authorization_url"])
    before = await tokens_by_platform(database, settings)
    assert await key_ids(database) == f"{DEVELOPMENT_KEY_ID}|{DEVELOPMENT_KEY_ID}"

    rotated = with_keys(settings, f"k2:{NEW_KEY}")
    messages: list[str] = []
    report = await rotate_keys(
        database, keyring_from_settings(rotated), batch_size=2, progress=messages.append
    )
    assert (report.credentials, report.oauth_states) == (3, 1)
    assert "re-encrypted 2 of 3 connections" in messages
    assert "re-encrypted 3 of 3 connections" in messages
    assert "re-encrypted 1 of 1 pending authorizations" in messages
    assert await key_ids(database) == "k2|k2"

    # The development key is gone from a production keyring: everything still opens.
    only_new = with_keys(settings, f"k2:{NEW_KEY}", environment="production")
    assert keyring_from_settings(only_new).ids == {"k2"}
    assert await tokens_by_platform(database, only_new) == before
    # Idempotent.
    again = await rotate_keys(database, keyring_from_settings(only_new))
    assert (again.credentials, again.oauth_states) == (0, 0)
    # The authorization started before the rotation completes after it.
    async with app_client(only_new) as http:
        completed = await http.get(callback)
    assert completed.status_code == 200, completed.text
    assert completed.json()["platform"] == "instagram"


async def test_rotate_refuses_when_a_key_in_use_is_missing(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    creator = await account(client, roles=["creator"])
    await connect(client, creator, "youtube")
    snapshot = await scalar(database, "SELECT c::text FROM social.credentials c")
    with pytest.raises(RotationError, match=DEVELOPMENT_KEY_ID):
        await rotate_keys(database, parse_keys(f"k3:{OTHER_KEY}"))
    assert await scalar(database, "SELECT c::text FROM social.credentials c") == snapshot


def _command() -> list[str]:
    script = Path(sys.executable).with_name("creatorhub")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "creatorhub.cli"]


async def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *_command(),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_the_keys_commands(
    client: httpx.AsyncClient, database: Database, database_url: str, tmp_path: Path
) -> None:
    creator = await account(client, roles=["creator"])
    await connect(client, creator, "tiktok")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATORHUB_")}
    env.update(
        DATABASE_URL=database_url,
        CREATORHUB_ENVIRONMENT="test",
        CREATORHUB_DATA_DIR=str(tmp_path / "unused"),
        CREATORHUB_LOG_JSON="false",
        CREATORHUB_LOG_LEVEL="WARNING",
    )

    code, out, _ = await _run(env, "keys", "generate", "--key-id", "k9")
    assert code == 0
    assert parse_keys(out.strip()).active_id == "k9"

    env["CREATORHUB_TOKEN_ENCRYPTION_KEYS"] = f"k2:{NEW_KEY}"
    code, out, err = await _run(env, "keys", "rotate")
    assert code == 0, err
    assert "re-encrypted 1 of 1 connections" in out
    assert "sealed with key k2" in out
    code, out, err = await _run(env, "keys", "rotate")
    assert code == 0, err
    assert "re-encrypted" not in out

    env.update(
        CREATORHUB_ENVIRONMENT="production",
        CREATORHUB_PAYMENTS_PROVIDER="stripe",
        CREATORHUB_TOKEN_ENCRYPTION_KEYS=f"k3:{OTHER_KEY}",
    )
    code, out, err = await _run(env, "keys", "rotate")
    assert code == 1
    assert "cannot rotate" in err and "k2" in err
    assert await key_ids(database) == "k2"  # the used authorization was deleted

    del env["CREATORHUB_TOKEN_ENCRYPTION_KEYS"]
    code, out, err = await _run(env, "keys", "rotate")
    assert code == 1
    assert "must be set in production" in err
