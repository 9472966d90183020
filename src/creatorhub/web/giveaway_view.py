"""What the giveaway pages share (seed 003): the host's pages (`giveaway_pages`: credits, new
draws, the blacklist; `giveaway_draw_pages`: one draw's steps) and the public ones
(`giveaway_public_pages`) import it, not each other. The words for a draw's states, history and
exclusion reasons, a certificate read for display, a JSON document embedded in a page for
`static/giveaways/verify.js`, and a service's refusal shown on the page it came from
(`refused_as_page`).

Embedding: a `<script type="application/json">` element ends at the first `</script`, and
`<!--` changes how the browser reads its text, so a document is embedded with every `<` written
`\\u003c`: JSON's own escape of the same character, so the text is still the same JSON value.
A certificate is canonical JSON, whose `<` can only be inside strings and which never writes
the escape `\\u003c` itself (only control characters are escaped), so `verify.js` turns each
`\\u003c` escape back into `<` and gets the certificate's exact signed bytes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.giveaways.proof.rules import REASONS
from creatorhub.kit.errors import Problem
from creatorhub.web.render import PageError

# A service's answer shown on the page again (not a missing record, not a failure).
REFUSALS = (409, 422)

PLATFORM_LABELS = {
    "instagram": "Instagram",
    "facebook": "Facebook",
    "tiktok": "TikTok",
    "twitter": "X (Twitter)",
    "file": "A file of entries",
}
BLACKLIST_PLATFORM_LABELS = {"all": "Every platform", **PLATFORM_LABELS}
del BLACKLIST_PLATFORM_LABELS["file"]

STATUS_LABELS = {
    "pending": "Open: entries being imported",
    "processing": "Committed: being drawn",
    "completed": "Drawn",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
HISTORY_LABELS = {
    "created": "Created: credits reserved, the seed's SHA-256 published",
    "imported": "Comments imported",
    "started": "Entries closed: commitment published",
    "completed": "Drawn: certificate issued",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "retried": "Retried",
    "rerolled": "Winner replaced by the next alternate",
}
REASON_LABELS = {
    "blacklisted": "On the host's blacklist",
    "outside_window": "Outside the entry window",
    "reply": "A reply, not a comment",
    "missing_keyword": "Without a required keyword",
    "too_few_mentions": "Too few @mentions",
    "followers_unknown": "Follower count unknown",
    "below_min_followers": "Too few followers",
    "business_account": "Business account",
    "suspicious": "Suspicious account",
    "duplicate_user": "Another comment of the same user",
}
assert set(REASON_LABELS) == set(REASONS)
ATTESTATION_LABELS = {
    "verified_by_entry": "checked: every entry is a comment",
    "self_declared_checked_by_host": "self-declared: checked by the host, not by the platform",
}
RULE_LABELS = {
    "require_comment": "Comment on the post",
    "require_like": "Like the post",
    "require_follow": "Follow the host",
}


def when(moment: datetime | str | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def entry_status(status: str) -> str:
    """An entry's outcome (`inclusion`'s `status`) in words."""
    kind, _, detail = status.partition(":")
    if kind == "winner":
        return f"Winner (rank {detail})"
    if kind == "alternate":
        return f"Alternate (rank {detail})"
    if kind == "excluded":
        return f"Excluded: {REASON_LABELS.get(detail, detail).lower()}"
    if kind == "eligible":
        return "Eligible, not drawn"
    return "Entered: the draw is not made yet"


def embedded_json(text: str) -> Markup:
    """JSON text as the content of a `<script type="application/json">` (the module's
    docstring): every `<` as `\\u003c`."""
    return Markup(text.replace("<", "\\u003c"))  # noqa: S704 - no "<" is left in it


def embedded_value(value: Any) -> Markup:
    return embedded_json(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def certificate_view(body: bytes | None) -> dict[str, Any] | None:
    """What a page lists of a certificate: the picks, the rerolls, who holds each rank now,
    the exclusions counted by reason and the attestations."""
    if body is None:
        return None
    cert: dict[str, Any] = json.loads(body)
    alternates = {p["index"]: p for p in cert["alternates"]}
    holders = {p["rank"]: p for p in cert["winners"]}
    for change in cert["rerolls"]:
        holders[change["rank"]] = {**alternates[change["alternate_index"]], "rank": change["rank"]}
    used = {change["alternate_index"] for change in cert["rerolls"]}
    return {
        "text": body.decode("utf-8"),
        "document": cert,
        "final_winners": [holders[rank] for rank in sorted(holders)],
        "original_winners": cert["winners"],
        "alternates": [{**p, "used": p["index"] in used} for p in cert["alternates"]],
        "unused_alternates": len(cert["alternates"]) - len(used),
        "rerolls": cert["rerolls"],
        "counts": cert["counts"],
        "excluded": [
            (REASON_LABELS.get(code, code), count)
            for code, count in cert["counts"]["excluded"].items()
            if count
        ],
        "attestations": [
            (
                RULE_LABELS.get(a["rule"], a["rule"]),
                ATTESTATION_LABELS.get(a["status"], a["status"]),
            )
            for a in cert["attestations"]
        ],
        "signature": cert["signature"],
        "issued_at": cert["issued_at"],
    }


def history_view(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A draw's history in words: what happened, when, and its main figures."""
    shown = []
    for row in rows:
        details = row["details"] or {}
        facts = []
        if "added" in details:
            facts.append(f"{details['added']} added, {details.get('duplicates', 0)} already in")
        if details.get("entries") is not None:
            facts.append(f"{details['entries']} entries")
        if details.get("beacon_round"):
            facts.append(f"drand round {details['beacon_round']}")
        if details.get("winners"):
            facts.append("winners: " + ", ".join(map(str, details["winners"])))
        if details.get("rank"):
            facts.append(f"rank {details['rank']}: {details.get('reason', '')}")
        if details.get("reason") and not details.get("rank"):
            facts.append(str(details["reason"]))
        shown.append(
            {
                "action": row["action"],
                "label": HISTORY_LABELS.get(row["action"], row["action"]),
                "at": when(row["created_at"]),
                "facts": "; ".join(facts),
                "certificate_hash": details.get("certificate_hash"),
            }
        )
    return shown


def words(**context: Any) -> dict[str, Any]:
    """What every giveaway template reads besides its own figures."""
    return {
        "when": when,
        "status_labels": STATUS_LABELS,
        "platform_labels": PLATFORM_LABELS,
        "entry_status": entry_status,
        **context,
    }


# --- refusals ----------------------------------------------------------------------------------


def sentence(text: str | None) -> str:
    text = (text or "This cannot be done now.").strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


Page = Callable[[dict[str, Any], int], Awaitable[HTMLResponse]]


async def refused_as_page(
    session: AsyncSession,
    action: Callable[[], Awaitable[Any]],
    page: Page,
    *,
    key: str,
    values: dict[str, str] | None = None,
    fields: Mapping[str, str] | None = None,
) -> Any:
    """`action`'s answer; a refusal (409, 422) rolls it back and shows `page` again, with the
    status, the message and what was typed at the form `key` (`failed`: key, message, the
    form field at fault, named by `fields` when the service names it otherwise, and values)."""
    try:
        return await action()
    except Problem as problem:
        if problem.status not in REFUSALS:
            raise
        await session.rollback()
        field = (problem.field or "").removeprefix("body.").removeprefix("config.")
        failed = {
            "key": key,
            "message": sentence(problem.detail),
            "field": (fields or {}).get(field, field),
            "values": values or {},
        }
        raise PageError(await page(failed, problem.status)) from None
