"""campaign billing: seed 002's `billing_period_summaries` (computed monthly from the ledger)
and its reporting tables as views of the ledger (issue 15).

* `campaign_ledger_movements`: every ledger transfer of a campaign's money, named by what it
  is: `funding` (into the escrow), `spend` (escrow → a promoter's wallet, gross), `refund`
  (escrow → the advertiser's wallet or the provider), `fee` (the platform's fee on a spend,
  payee's wallet → a fee account; resolved to its campaign through the transfer's reference:
  the campaign, a deliverable or a sale);
* `advertiser_spends`: per campaign and UTC day: funded, spent, fees within it, refunded;
* `platform_fees`: per fee transfer: the gross it was taken on, the fee, its kind; the
  provider's processing fee is charged on the funding payment by the provider and not reported
  to the platform (NULL);
* `transactions`: every movement with gross, fee and net (a spend and its fee in one row);
* `promoter_balances`: the promoters' wallet balances at each summarized month's end.

Revision ID: 0023_campaign_billing
Revises: 0022_campaign_sales
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_campaign_billing"
down_revision: str | None = "0022_campaign_sales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = (
    "funded",
    "spent_visibility",
    "spent_consultant",
    "spent_seller",
    "spent_salesman",
    "refunded",
    "earned_visibility",
    "earned_consultant",
    "earned_seller",
    "earned_salesman",
    "fees",
    "paid_out",
    "balance_end",
    "carried_forward",
)

MOVEMENTS = """
CREATE VIEW campaigns.campaign_ledger_movements AS
SELECT t.id AS transfer_id, t.group_id, t.created_at, t.currency, t.amount, t.kind,
       c.id AS campaign_id, c.type AS campaign_type, c.advertiser_id,
       'funding' AS movement, NULL::uuid AS payee_id, t.reference_type, t.reference_id,
       NULL::jsonb AS fee_metadata
  FROM ledger.transfers AS t
  JOIN campaigns.campaigns AS c ON c.escrow_account_id = t.credit_account_id
UNION ALL
SELECT t.id, t.group_id, t.created_at, t.currency, t.amount, t.kind,
       c.id, c.type, c.advertiser_id,
       CASE WHEN t.kind = 'refund' THEN 'refund' ELSE 'spend' END,
       CASE WHEN t.kind <> 'refund' AND w.owner_type = 'user' THEN w.owner_id END,
       t.reference_type, t.reference_id, NULL::jsonb
  FROM ledger.transfers AS t
  JOIN campaigns.campaigns AS c ON c.escrow_account_id = t.debit_account_id
  JOIN ledger.accounts AS w ON w.id = t.credit_account_id
UNION ALL
SELECT t.id, t.group_id, t.created_at, t.currency, t.amount, t.kind,
       c.id, c.type, c.advertiser_id, 'fee', p.owner_id, t.reference_type, t.reference_id,
       t.metadata
  FROM ledger.transfers AS t
  JOIN ledger.accounts AS p ON p.id = t.debit_account_id
  JOIN campaigns.campaigns AS c ON c.id = CASE t.reference_type
       WHEN 'campaign' THEN t.reference_id::uuid
       WHEN 'campaign_deliverable' THEN (
           SELECT d.campaign_id FROM campaigns.campaign_deliverables AS d
            WHERE d.id = t.reference_id::uuid)
       WHEN 'sales_record' THEN (SELECT s.campaign_id FROM campaigns.sales_records AS s
                                 WHERE s.id = t.reference_id::uuid)
       END
 WHERE t.kind = 'platform_fee'
   AND t.reference_type IN ('campaign', 'campaign_deliverable', 'sales_record')
"""

ADVERTISER_SPENDS = """
CREATE VIEW campaigns.advertiser_spends AS
SELECT campaign_id, advertiser_id, campaign_type, (created_at AT TIME ZONE 'UTC')::date AS day,
       currency,
       coalesce(sum(amount) FILTER (WHERE movement = 'funding'), 0) AS funded,
       coalesce(sum(amount) FILTER (WHERE movement = 'spend'), 0) AS spent,
       coalesce(sum(amount) FILTER (WHERE movement = 'fee'), 0) AS platform_fees,
       coalesce(sum(amount) FILTER (WHERE movement = 'refund'), 0) AS refunded
  FROM campaigns.campaign_ledger_movements
 GROUP BY campaign_id, advertiser_id, campaign_type, day, currency
"""

PLATFORM_FEES = """
CREATE VIEW campaigns.platform_fees AS
SELECT transfer_id AS id, created_at, campaign_id, advertiser_id, payee_id AS user_id, currency,
       (fee_metadata ->> 'gross')::bigint AS gross, amount AS platform_fee,
       (fee_metadata ->> 'basis_points')::integer AS basis_points,
       fee_metadata ->> 'fee_of' AS transaction_kind, NULL::bigint AS provider_fee,
       reference_type, reference_id
  FROM campaigns.campaign_ledger_movements
 WHERE movement = 'fee'
"""

TRANSACTIONS = """
CREATE VIEW campaigns.transactions AS
SELECT min(transfer_id::text)::uuid AS id, group_id, min(created_at) AS created_at,
       campaign_id, advertiser_id, payee_id AS user_id,
       CASE WHEN movement IN ('spend', 'fee') THEN 'earning' ELSE movement END AS type,
       currency, reference_type, reference_id,
       coalesce(sum(amount) FILTER (WHERE movement <> 'fee'), 0) AS gross,
       coalesce(sum(amount) FILTER (WHERE movement = 'fee'), 0) AS fee,
       coalesce(sum(amount) FILTER (WHERE movement <> 'fee'), 0)
         - coalesce(sum(amount) FILTER (WHERE movement = 'fee'), 0) AS net
  FROM campaigns.campaign_ledger_movements
 GROUP BY group_id, campaign_id, advertiser_id, payee_id,
          CASE WHEN movement IN ('spend', 'fee') THEN 'earning' ELSE movement END,
          currency, reference_type, reference_id
"""

PROMOTER_BALANCES = """
CREATE VIEW campaigns.promoter_balances AS
SELECT user_id, period, currency, balance_end AS balance, carried_forward, computed_at
  FROM campaigns.billing_period_summaries
 WHERE role = 'promoter'
"""


def upgrade() -> None:
    op.create_table(
        "billing_period_summaries",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in FIGURES),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "extract(day FROM period) = 1",
            name=op.f("ck_billing_period_summaries_period_is_a_month"),
        ),
        sa.CheckConstraint(
            "role IN ('promoter', 'advertiser')",
            name=op.f("ck_billing_period_summaries_role_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_billing_period_summaries_user_id_users"),
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "period", "role", "currency", name=op.f("pk_billing_period_summaries")
        ),
        schema="campaigns",
    )
    for view in (MOVEMENTS, ADVERTISER_SPENDS, PLATFORM_FEES, TRANSACTIONS, PROMOTER_BALANCES):
        op.execute(sa.text(view))


def downgrade() -> None:
    for view in (
        "promoter_balances",
        "transactions",
        "platform_fees",
        "advertiser_spends",
        "campaign_ledger_movements",
    ):
        op.execute(sa.text(f"DROP VIEW campaigns.{view}"))
    op.drop_table("billing_period_summaries", schema="campaigns")
