"""Whole-table snapshots: a refused request must leave every row it could touch as it was."""

from __future__ import annotations

from creatorhub.db import Database
from helpers import scalar

MONEY_TABLES = (
    "ledger.accounts",
    "ledger.transfers",
    "ledger.holds",
    "payments.funding_intents",
    "payments.payouts",
    "payments.payout_accounts",
    "payments.webhook_events",
    "api.idempotency_keys",
)
MARKETPLACE_TABLES = (
    "marketplace.jobs",
    "marketplace.claims",
    "marketplace.influencer_jobs",
    "marketplace.content_submissions",
    "marketplace.escrow_transactions",
    "marketplace.escrow_events",
    "marketplace.influencer_payouts",
    "marketplace.influencer_logs",
    "marketplace.unfilled_refunds",
    "marketplace.joblogs",
)


async def rows(database: Database, *tables: str) -> str:
    """Every row of `tables` (in a stable order) and the audit trail's size, as one text."""
    # The table names come from the test code, never from input.
    parts = [
        f"(SELECT coalesce(json_agg(t ORDER BY t::text), '[]') FROM {table} t)"  # noqa: S608
        for table in tables
    ]
    parts.append("(SELECT count(*) FROM audit.audit_logs)")
    sql = f"SELECT json_build_array({', '.join(parts)})::text"
    return str(await scalar(database, sql))
