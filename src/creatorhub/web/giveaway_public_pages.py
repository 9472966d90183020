"""The public giveaway pages (seed 003): anyone, signed in or not, checks a draw.

* `GET /giveaways/draws/{id}`: the draw's commitment (the seed's SHA-256, the entries' Merkle
  root and count, the beacon round), its state, winners, alternates and rerolls, the entries
  excluded counted by reason, the attestations, its history, and its certificate, embedded in
  the page as it was signed so that `static/giveaways/verify.js` checks it in the browser with
  no call to the server (WebCrypto: Ed25519, SHA-256, HMAC-SHA-256); the visitor may add the
  ENTRIES file the host hands out, or paste another certificate to check;
* `GET /giveaways/hosts/{host_id}`: the host's whole history of draws, test, failed and
  cancelled ones included, so a draw cannot be quietly made again until a friend wins;
* `GET /giveaways/draws/{id}/check?username=`: an entrant's self-check: their entries' lines,
  what became of each, and their Merkle proofs, verified in the browser against the committed
  root (the list itself is never published).

The pages read what the API's public routes read (`giveaways.service.reads`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from creatorhub.db import DbSession
from creatorhub.giveaways.service import reads
from creatorhub.kit.errors import Problem
from creatorhub.web.giveaway_view import (
    certificate_view,
    embedded_json,
    embedded_value,
    history_view,
    sentence,
    words,
)
from creatorhub.web.render import render

router = APIRouter(include_in_schema=False)

HOST_LISTED = 500  # a host's draws the page lists (the API's largest page)

VERIFY_SCRIPT = "/static/giveaways/verify.js"


@router.get("/giveaways/draws/{draw_id}", response_class=HTMLResponse)
async def draw_page(request: Request, draw_id: uuid.UUID, session: DbSession) -> HTMLResponse:
    draw = await reads.public_draw(session, draw_id)
    body = (
        await reads.certificate_bytes(session, draw["certificate_hash"])
        if draw["certificate_hash"]
        else None
    )
    keys = [
        {"key_id": key.key_id, "public_key": key.public_key}
        for key in await reads.signing_keys(session)
    ]
    return render(
        request,
        "giveaway_draw.html",
        **words(
            draw=draw,
            history=history_view(draw["history"]),
            certificate=certificate_view(body),
            certificate_json=embedded_json(body.decode("utf-8")) if body is not None else None,
            keys_json=embedded_value(keys),
            verify_script=VERIFY_SCRIPT,
        ),
    )


@router.get("/giveaways/draws/{draw_id}/check", response_class=HTMLResponse)
async def check_page(
    request: Request,
    draw_id: uuid.UUID,
    session: DbSession,
    username: Annotated[str, Query(max_length=65)] = "",
) -> HTMLResponse:
    draw = reads.draw_body(await reads.get_draw(session, draw_id))
    found = None
    message = None
    status_code = 200
    if username.strip():
        try:
            found = await reads.inclusion(session, draw_id, username)
        except (reads.EntrantNotFound, reads.NotCommitted) as problem:
            message, status_code = sentence(problem.detail), problem.status
        except Problem as problem:  # 422: a name no entry can have
            if problem.status != 422:
                raise
            message, status_code = sentence(problem.detail), 422
        except ValueError:
            # The same, refused by the proof's own normalization.
            message, status_code = f"{username.strip()!r} is not a username.", 422
    return render(
        request,
        "giveaway_check.html",
        status_code,
        **words(
            draw=draw,
            username=username,
            found=found,
            found_json=embedded_value(found) if found is not None else None,
            message=message,
            verify_script=VERIFY_SCRIPT,
        ),
    )


@router.get("/giveaways/hosts/{host_id}", response_class=HTMLResponse)
async def host_page(request: Request, host_id: uuid.UUID, session: DbSession) -> HTMLResponse:
    draws = await reads.host_draws(session, host_id, limit=HOST_LISTED)
    tally: dict[str, int] = {}
    for draw in draws:
        tally[str(draw["status"])] = tally.get(str(draw["status"]), 0) + 1
    return render(
        request,
        "giveaway_host.html",
        **words(
            host_id=host_id,
            draws=draws,
            tally=tally,
            tests=sum(1 for draw in draws if draw["is_test"]),
            listed=HOST_LISTED,
        ),
    )
