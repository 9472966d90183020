"""`creatorhub keys rotate`: re-encrypt every stored secret with the active key.

Connections and pending authorizations sealed with any other key are opened and sealed again
with the active one (finished authorizations, used or expired, are deleted instead), in batches
of one transaction each, so a long run can be interrupted and started again: it is idempotent
(rows already on the active key are not touched). Before changing anything it checks that every
key still in use is in the keyring; if one is missing it stops, naming the key, since those
rows could not be opened (put the key back, rotate, then remove it). Once it has run, the old
keys can leave the setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.db import Database
from creatorhub.kit.crypto import Keyring, KeyringError
from creatorhub.social.models import Credential, OAuthState
from creatorhub.social.vault import (
    has_tokens,
    open_tokens,
    open_verifier,
    seal_tokens,
    seal_verifier,
    store_tokens,
)


class RotationError(Exception):
    pass


@dataclass
class RotationReport:
    credentials: int = 0
    oauth_states: int = 0


async def keys_in_use(session: AsyncSession) -> set[str]:
    rows = await session.execute(
        union(
            # A disconnected connection holds no ciphertext: its key does not matter.
            select(Credential.key_id).where(func.length(Credential.access_token) > 0),
            # Only pending authorizations: used or expired ones are deleted, never opened.
            select(OAuthState.key_id).where(
                OAuthState.used_at.is_(None), OAuthState.expires_at > func.now()
            ),
        )
    )
    return {key_id for (key_id,) in rows}


async def _count_stale(session: AsyncSession, active: str) -> tuple[int, int]:
    credentials = await session.scalar(
        select(func.count()).select_from(Credential).where(Credential.key_id != active)
    )
    states = await session.scalar(
        select(func.count())
        .select_from(OAuthState)
        .where(
            OAuthState.key_id != active,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > func.now(),
        )
    )
    return int(credentials or 0), int(states or 0)


async def rotate_keys(
    database: Database,
    ring: Keyring,
    *,
    batch_size: int = 200,
    progress: Callable[[str], None] = lambda _: None,
) -> RotationReport:
    active = ring.active_id
    async with database.session_scope() as session:
        missing = sorted(await keys_in_use(session) - ring.ids)
        credentials_total, states_total = await _count_stale(session, active)
    if missing:
        raise RotationError(
            f"rows are sealed with keys missing from CREATORHUB_TOKEN_ENCRYPTION_KEYS: "
            f"{', '.join(missing)}; add them back (after the active key) and run again"
        )
    report = RotationReport()
    progress(
        f"active key {active}: {credentials_total} connections, {states_total} pending "
        "authorizations to re-encrypt"
    )
    while True:
        async with database.session_scope() as session:
            batch = list(
                await session.scalars(
                    select(Credential)
                    .where(Credential.key_id != active)
                    .order_by(Credential.id)
                    .limit(batch_size)
                    .with_for_update()
                )
            )
            for credential in batch:
                if not has_tokens(credential):
                    credential.key_id = active
                    continue
                try:
                    access, refresh = open_tokens(ring, credential)
                except KeyringError as error:
                    raise RotationError(
                        f"connection {credential.id} ({credential.platform}): {error}"
                    ) from None
                store_tokens(
                    credential,
                    seal_tokens(ring, credential.user_id, credential.platform, access, refresh),
                )
        if not batch:
            break
        report.credentials += len(batch)
        progress(f"re-encrypted {report.credentials} of {credentials_total} connections")
    async with database.session_scope() as session:
        # Finished authorizations (used, or expired) need no key: they go, as the purge job
        # would take them anyway; a replayed used state is then unknown, still a 400.
        await session.execute(
            delete(OAuthState).where(
                OAuthState.key_id != active,
                or_(OAuthState.used_at.is_not(None), OAuthState.expires_at <= func.now()),
            )
        )
    while True:
        async with database.session_scope() as session:
            states = list(
                await session.scalars(
                    select(OAuthState)
                    .where(OAuthState.key_id != active)
                    .order_by(OAuthState.state_hash)
                    .limit(batch_size)
                    .with_for_update()
                )
            )
            for state in states:
                try:
                    verifier = open_verifier(ring, state)
                except KeyringError:
                    # A pending authorization is worth minutes: one that cannot be opened is
                    # deleted (the creator starts again) rather than stopping the rotation.
                    await session.delete(state)
                    continue
                state.code_verifier, state.key_id = seal_verifier(ring, state.state_hash, verifier)
        if not states:
            break
        report.oauth_states += len(states)
        progress(f"re-encrypted {report.oauth_states} of {states_total} pending authorizations")
    return report
