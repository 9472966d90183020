"""seed 002's payment tables as views of what payments already records.

Seed 002 names tables that the payments module keeps under names of its own (one record of
each fact, provider-neutral): a reader of the seed finds them here, in the campaigns schema,
as read-only views with the seed's names.

* `stripe_payment_intents`: `payments.funding_intents` (a provider's payment for a wallet or a
  campaign; `stripe_payment_intent_id` is the provider's reference);
* `advertiser_charges`: the campaigns' funded budgets (`campaign_budget_allocations`) with
  the charge that paid them, if a provider did, and what was refunded;
* `stripe_connect_accounts`: `payments.payout_accounts`;
* `payout_records` and `stripe_transfers`: `payments.payouts` (a payout is one transfer at the
  provider);
* `stripe_webhook_events`: `payments.webhook_events`;
* `wallets`: each user's ledger wallets by currency (available: `current_balance`, pending:
  `pending_balance`). The $20 minimum is a setting (`payout_minimum_amount`) copied onto each
  payout, not a column of a wallet.

Revision ID: 0020_seed_002_payment_views
Revises: 0019_one_advertiser_verification
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_seed_002_payment_views"
down_revision: str | None = "0019_one_advertiser_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = {
    "stripe_payment_intents": """
        SELECT f.id, f.user_id, f.amount, f.currency, f.status, f.provider,
               f.provider_reference AS stripe_payment_intent_id, f.target_type,
               CASE WHEN f.target_type = 'campaign' THEN f.target_id END AS campaign_id,
               f.failure_reason, f.created_at, f.succeeded_at
          FROM payments.funding_intents AS f""",
    "advertiser_charges": """
        SELECT b.id, b.campaign_id, c.advertiser_id, b.allocated_amount AS amount,
               b.refunded_amount, b.currency, b.funding_source, b.funding_intent_id,
               f.provider_reference AS stripe_payment_intent_id,
               coalesce(f.status, 'succeeded') AS status, f.failure_reason, b.created_at
          FROM campaigns.campaign_budget_allocations AS b
          JOIN campaigns.campaigns AS c ON c.id = b.campaign_id
          LEFT JOIN payments.funding_intents AS f ON f.id = b.funding_intent_id""",
    "stripe_connect_accounts": """
        SELECT a.id, a.user_id, a.provider, a.provider_reference AS stripe_account_id,
               a.country, a.status, a.payouts_enabled, a.details_submitted, a.capabilities,
               a.created_at, a.updated_at
          FROM payments.payout_accounts AS a""",
    "payout_records": """
        SELECT p.id, p.user_id, p.amount, p.currency, p.minimum_amount AS threshold_amount,
               p.trigger, p.status, p.provider_reference AS stripe_transfer_id,
               p.failure_reason, p.created_at, p.settled_at
          FROM payments.payouts AS p""",
    "stripe_transfers": """
        SELECT p.id, p.id AS payout_record_id, p.user_id,
               a.provider_reference AS destination_account_id, p.amount, p.currency,
               p.provider_reference AS stripe_transfer_id, p.status, p.failure_reason,
               p.created_at
          FROM payments.payouts AS p
          JOIN payments.payout_accounts AS a ON a.id = p.payout_account_id""",
    "stripe_webhook_events": """
        SELECT e.id, e.provider, e.event_id AS stripe_event_id, e.event_type,
               e.object_reference, e.outcome, e.payload, e.received_at
          FROM payments.webhook_events AS e""",
    "wallets": """
        SELECT a.owner_id AS user_id, a.currency,
               coalesce(sum(a.balance) FILTER (WHERE a.kind = 'wallet_available'), 0)
                 AS current_balance,
               coalesce(sum(a.balance) FILTER (WHERE a.kind = 'wallet_pending'), 0)
                 AS pending_balance,
               coalesce(sum(a.pending_debits) FILTER (WHERE a.kind = 'wallet_available'), 0)
                 AS reserved_balance
          FROM ledger.accounts AS a
         WHERE a.owner_type = 'user' AND a.kind IN ('wallet_available', 'wallet_pending')
         GROUP BY a.owner_id, a.currency""",
}


def upgrade() -> None:
    for name, query in VIEWS.items():
        op.execute(sa.text(f"CREATE VIEW campaigns.{name} AS {query}"))
        op.execute(
            sa.text(
                f"COMMENT ON VIEW campaigns.{name} IS 'seed 002''s {name}: a read-only view"
                " (migration 0020 says of what)'"
            )
        )


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(sa.text(f"DROP VIEW campaigns.{name}"))
