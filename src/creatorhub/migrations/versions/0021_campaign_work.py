"""campaign work: consultant and seller campaigns' applications, their negotiation's offers,
deliverables (each held on the campaign's escrow once agreed) and works (issue 15).

`campaigns.campaigns` gains `committed_budget` (the accepted applications' agreed amounts,
never past `max_budget`) and a unique key on (id, type) that the applications' foreign key
refers to, so that the database can allow one accepted application per consultant campaign.
Payments' fee rules gain the kind `campaign_work` (10 %, like every kind of earnings).

Revision ID: 0021_campaign_work
Revises: 0020_seed_002_payment_views
Create Date: 2026-12-07

Drafted by autogenerate from creatorhub.campaigns.work.models and checked by hand (the CHECK on
campaigns added by hand; the unique key created before the foreign key that needs it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021_campaign_work"
down_revision: str | None = "0020_seed_002_payment_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# What the parties read (`campaigns.work.service.reads`): an application with its negotiation,
# deliverables and works, and a deliverable with its works and campaign, as JSON documents.
DELIVERABLE_BODY = """jsonb_build_object(
    'id', d.id, 'campaign_id', d.campaign_id, 'application_id', d.application_id,
    'promoter_id', d.promoter_id, 'title', d.title, 'description', d.description,
    'due_date', d.due_date, 'amount', d.amount, 'status', d.status,
    'paid_amount', d.paid_amount, 'fee', d.fee, 'dispute_reason', d.dispute_reason,
    'disputed_at', d.disputed_at, 'resolution', d.resolution,
    'resolution_note', d.resolution_note, 'resolved_at', d.resolved_at,
    'agreed_at', d.agreed_at, 'approved_at', d.approved_at, 'cancelled_at', d.cancelled_at,
    'created_at', d.created_at,
    'works', coalesce((SELECT jsonb_agg(jsonb_build_object(
        'id', w.id, 'revision', w.revision, 'links', to_jsonb(w.links), 'note', w.note,
        'status', w.status, 'review_note', w.review_note, 'submitted_at', w.submitted_at,
        'reviewed_at', w.reviewed_at) ORDER BY w.revision)
      FROM campaigns.campaign_works AS w WHERE w.deliverable_id = d.id), '[]'::jsonb))"""

DELIVERABLE_DOCUMENTS = f"""
CREATE VIEW campaigns.deliverable_documents AS
SELECT d.id, d.campaign_id, d.application_id, d.status, d.disputed_at,
       {DELIVERABLE_BODY} || jsonb_build_object('campaign_title', c.title,
           'currency', c.currency, 'advertiser_id', c.advertiser_id) AS body
  FROM campaigns.campaign_deliverables AS d
  JOIN campaigns.campaigns AS c ON c.id = d.campaign_id"""

APPLICATION_DOCUMENTS = f"""
CREATE VIEW campaigns.application_documents AS
SELECT a.id, a.campaign_id, a.promoter_id, c.advertiser_id, a.created_at,
  jsonb_build_object(
    'id', a.id, 'campaign_id', a.campaign_id, 'campaign_type', a.campaign_type,
    'campaign_title', c.title, 'campaign_status', c.status, 'currency', c.currency,
    'min_budget', c.min_budget, 'max_budget', c.max_budget,
    'advertiser_id', c.advertiser_id, 'promoter_id', a.promoter_id,
    'promoter_name', u.display_name, 'status', a.status, 'proposed_rate', a.proposed_rate,
    'note', a.note, 'agreed_amount', a.agreed_amount,
    'committed_amount', a.committed_amount, 'paid_amount', a.paid_amount,
    'reject_reason', a.reject_reason, 'close_agreed_at', a.close_agreed_at,
    'decided_at', a.decided_at, 'created_at', a.created_at,
    'offers', coalesce((SELECT jsonb_agg(jsonb_build_object(
        'id', o.id, 'party', o.party, 'amount', o.amount, 'note', o.note,
        'status', o.status, 'created_at', o.created_at, 'decided_at', o.decided_at)
        ORDER BY o.created_at, o.id)
      FROM campaigns.campaign_application_offers AS o WHERE o.application_id = a.id),
      '[]'::jsonb),
    'deliverables', coalesce((SELECT jsonb_agg({DELIVERABLE_BODY} ORDER BY d.created_at, d.id)
      FROM campaigns.campaign_deliverables AS d WHERE d.application_id = a.id), '[]'::jsonb)
  ) AS body
  FROM campaigns.campaign_applications AS a
  JOIN campaigns.campaigns AS c ON c.id = a.campaign_id
  JOIN identity.users AS u ON u.id = a.promoter_id"""


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("committed_budget", sa.BigInteger(), server_default="0", nullable=False),
        schema="campaigns",
    )
    op.create_check_constraint(
        op.f("ck_campaigns_committed_within_max_budget"),
        "campaigns",
        "committed_budget >= 0 AND (max_budget IS NULL OR committed_budget <= max_budget)",
        schema="campaigns",
    )
    op.create_unique_constraint(
        "uq_campaigns_id_type", "campaigns", ["id", "type"], schema="campaigns"
    )
    op.create_table(
        "campaign_applications",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("campaign_type", sa.Text(), nullable=False),
        sa.Column("promoter_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("proposed_rate", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("agreed_amount", sa.BigInteger(), nullable=True),
        sa.Column("committed_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("close_agreed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'accepted') = (agreed_amount IS NOT NULL)",
            name=op.f("ck_campaign_applications_agreed_when_accepted"),
        ),
        sa.CheckConstraint(
            "(status = 'rejected') = (reject_reason IS NOT NULL)",
            name=op.f("ck_campaign_applications_rejected_why"),
        ),
        sa.CheckConstraint(
            "campaign_type IN ('consultant', 'seller')",
            name=op.f("ck_campaign_applications_work_type"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected', 'withdrawn')",
            name=op.f("ck_campaign_applications_status_known"),
        ),
        sa.CheckConstraint(
            "agreed_amount IS NULL OR agreed_amount > 0",
            name=op.f("ck_campaign_applications_agreed_positive"),
        ),
        sa.CheckConstraint(
            "committed_amount >= 0 AND committed_amount <= coalesce(agreed_amount, 0)",
            name=op.f("ck_campaign_applications_committed_within_agreed"),
        ),
        sa.CheckConstraint(
            "length(note) <= 5000", name=op.f("ck_campaign_applications_note_length")
        ),
        sa.CheckConstraint(
            "paid_amount >= 0 AND paid_amount <= committed_amount",
            name=op.f("ck_campaign_applications_paid_within_committed"),
        ),
        sa.CheckConstraint(
            "proposed_rate > 0", name=op.f("ck_campaign_applications_proposed_rate_positive")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id", "campaign_type"],
            ["campaigns.campaigns.id", "campaigns.campaigns.type"],
            name=op.f("fk_campaign_applications_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["promoter_id"],
            ["identity.users.id"],
            name=op.f("fk_campaign_applications_promoter_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_applications")),
        sa.UniqueConstraint("campaign_id", "promoter_id", name="uq_campaign_applications_promoter"),
        schema="campaigns",
    )
    op.create_index(
        "ix_campaign_applications_campaign",
        "campaign_applications",
        ["campaign_id", "created_at"],
        unique=False,
        schema="campaigns",
    )
    op.create_index(
        "ix_campaign_applications_promoter",
        "campaign_applications",
        ["promoter_id", "created_at"],
        unique=False,
        schema="campaigns",
    )
    op.create_index(
        "uq_campaign_applications_one_consultant",
        "campaign_applications",
        ["campaign_id"],
        unique=True,
        schema="campaigns",
        postgresql_where=sa.text("status = 'accepted' AND campaign_type = 'consultant'"),
    )
    op.create_table(
        "campaign_application_offers",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("party", sa.Text(), nullable=False),
        sa.Column("author_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'open') = (decided_at IS NULL)",
            name=op.f("ck_campaign_application_offers_decided_when_closed"),
        ),
        sa.CheckConstraint(
            "party IN ('promoter', 'advertiser')",
            name=op.f("ck_campaign_application_offers_party_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'superseded', 'closed')",
            name=op.f("ck_campaign_application_offers_status_known"),
        ),
        sa.CheckConstraint(
            "amount > 0", name=op.f("ck_campaign_application_offers_amount_positive")
        ),
        sa.CheckConstraint(
            "length(note) <= 5000", name=op.f("ck_campaign_application_offers_note_length")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["campaigns.campaign_applications.id"],
            name=op.f("fk_campaign_application_offers_application_id_campaign_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["identity.users.id"],
            name=op.f("fk_campaign_application_offers_author_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_application_offers")),
        schema="campaigns",
    )
    op.create_index(
        "ix_campaign_application_offers_thread",
        "campaign_application_offers",
        ["application_id", "created_at"],
        unique=False,
        schema="campaigns",
    )
    op.create_index(
        "uq_campaign_application_offers_open",
        "campaign_application_offers",
        ["application_id"],
        unique=True,
        schema="campaigns",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "campaign_deliverables",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("promoter_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="proposed", nullable=False),
        sa.Column("hold_id", sa.UUID(), nullable=True),
        sa.Column("paid_amount", sa.BigInteger(), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("dispute_reason", sa.Text(), nullable=True),
        sa.Column("disputed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.UUID(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agreed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'approved') = (paid_amount IS NOT NULL)",
            name=op.f("ck_campaign_deliverables_paid_when_approved"),
        ),
        sa.CheckConstraint(
            "(status = 'disputed') <= (dispute_reason IS NOT NULL)",
            name=op.f("ck_campaign_deliverables_disputed_why"),
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('pay', 'partial', 'refund')",
            name=op.f("ck_campaign_deliverables_resolution_known"),
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'agreed', 'submitted', 'changes_requested', 'disputed',"
            " 'approved', 'cancelled')",
            name=op.f("ck_campaign_deliverables_status_known"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('agreed', 'submitted', 'changes_requested', 'disputed')"
            " OR hold_id IS NOT NULL",
            name=op.f("ck_campaign_deliverables_held_when_agreed"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_campaign_deliverables_amount_positive")),
        sa.CheckConstraint(
            "length(description) <= 10000", name=op.f("ck_campaign_deliverables_description_length")
        ),
        sa.CheckConstraint(
            "length(title) BETWEEN 1 AND 200", name=op.f("ck_campaign_deliverables_title_length")
        ),
        sa.CheckConstraint(
            "paid_amount IS NULL OR (paid_amount > 0 AND paid_amount <= amount)",
            name=op.f("ck_campaign_deliverables_paid_within_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["campaigns.campaign_applications.id"],
            name=op.f("fk_campaign_deliverables_application_id_campaign_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaigns.id"],
            name=op.f("fk_campaign_deliverables_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["promoter_id"],
            ["identity.users.id"],
            name=op.f("fk_campaign_deliverables_promoter_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_deliverables")),
        schema="campaigns",
    )
    op.create_index(
        "ix_campaign_deliverables_application",
        "campaign_deliverables",
        ["application_id", "created_at"],
        unique=False,
        schema="campaigns",
    )
    op.create_index(
        "ix_campaign_deliverables_campaign",
        "campaign_deliverables",
        ["campaign_id", "created_at"],
        unique=False,
        schema="campaigns",
    )
    op.create_index(
        "ix_campaign_deliverables_promoter",
        "campaign_deliverables",
        ["promoter_id", "status"],
        unique=False,
        schema="campaigns",
    )
    op.create_table(
        "campaign_works",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("deliverable_id", sa.UUID(), nullable=False),
        sa.Column("promoter_id", sa.UUID(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("links", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), server_default="submitted", nullable=False),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column(
            "submitted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'changes_requested') <= (review_note IS NOT NULL)",
            name=op.f("ck_campaign_works_rejected_why"),
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'approved', 'changes_requested', 'superseded')",
            name=op.f("ck_campaign_works_status_known"),
        ),
        sa.CheckConstraint(
            "cardinality(links) BETWEEN 1 AND 10", name=op.f("ck_campaign_works_links_count")
        ),
        sa.CheckConstraint("length(note) <= 5000", name=op.f("ck_campaign_works_note_length")),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_campaign_works_revision_positive")),
        sa.ForeignKeyConstraint(
            ["deliverable_id"],
            ["campaigns.campaign_deliverables.id"],
            name=op.f("fk_campaign_works_deliverable_id_campaign_deliverables"),
        ),
        sa.ForeignKeyConstraint(
            ["promoter_id"], ["identity.users.id"], name=op.f("fk_campaign_works_promoter_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_works")),
        sa.UniqueConstraint("deliverable_id", "revision", name="uq_campaign_works_revision"),
        schema="campaigns",
    )
    op.execute(
        sa.text(
            "INSERT INTO payments.fee_rules (transaction_kind, basis_points, fixed_amount)"
            " VALUES ('campaign_work', 1000, 0)"
        )
    )
    op.execute(sa.text(DELIVERABLE_DOCUMENTS))
    op.execute(sa.text(APPLICATION_DOCUMENTS))


def downgrade() -> None:
    op.execute(sa.text("DROP VIEW campaigns.application_documents"))
    op.execute(sa.text("DROP VIEW campaigns.deliverable_documents"))
    op.execute(sa.text("DELETE FROM payments.fee_rules WHERE transaction_kind = 'campaign_work'"))
    op.drop_table("campaign_works", schema="campaigns")
    op.drop_index(
        "ix_campaign_deliverables_promoter", table_name="campaign_deliverables", schema="campaigns"
    )
    op.drop_index(
        "ix_campaign_deliverables_campaign", table_name="campaign_deliverables", schema="campaigns"
    )
    op.drop_index(
        "ix_campaign_deliverables_application",
        table_name="campaign_deliverables",
        schema="campaigns",
    )
    op.drop_table("campaign_deliverables", schema="campaigns")
    op.drop_index(
        "uq_campaign_application_offers_open",
        table_name="campaign_application_offers",
        schema="campaigns",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_index(
        "ix_campaign_application_offers_thread",
        table_name="campaign_application_offers",
        schema="campaigns",
    )
    op.drop_table("campaign_application_offers", schema="campaigns")
    op.drop_index(
        "uq_campaign_applications_one_consultant",
        table_name="campaign_applications",
        schema="campaigns",
        postgresql_where=sa.text("status = 'accepted' AND campaign_type = 'consultant'"),
    )
    op.drop_index(
        "ix_campaign_applications_promoter", table_name="campaign_applications", schema="campaigns"
    )
    op.drop_index(
        "ix_campaign_applications_campaign", table_name="campaign_applications", schema="campaigns"
    )
    op.drop_table("campaign_applications", schema="campaigns")
    op.drop_constraint("uq_campaigns_id_type", "campaigns", schema="campaigns", type_="unique")
    op.drop_constraint(
        op.f("ck_campaigns_committed_within_max_budget"), "campaigns", schema="campaigns"
    )
    op.drop_column("campaigns", "committed_budget", schema="campaigns")
