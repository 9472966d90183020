"""giveaways: the draws' replay videos (issue 16, seed 003 `Draw.video_url`).

* `draw_videos`: one H.264 MP4 per certificate, rendered from the certificate's bytes by the
  `render_draw_video` job and named by the certificate's hash (it never changes); deleted with
  its certificate or its draw. `mp4` is stored uncompressed (STORAGE EXTERNAL): an MP4 does not
  compress, and a byte range (a browser seeking) is read from its own chunks only.

Revision ID: 0026_draw_videos
Revises: 0025_giveaways
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_draw_videos"
down_revision: str | None = "0025_giveaways"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "draw_videos",
        sa.Column("certificate_hash", sa.Text(), nullable=False),
        sa.Column("draw_id", sa.UUID(), nullable=False),
        sa.Column("mp4", sa.LargeBinary(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column(
            "rendered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("bytes = octet_length(mp4)", name=op.f("ck_draw_videos_bytes_of_mp4")),
        sa.CheckConstraint("duration_ms > 0", name=op.f("ck_draw_videos_duration_ms_positive")),
        sa.ForeignKeyConstraint(
            ["certificate_hash"],
            ["giveaways.certificates.certificate_hash"],
            name=op.f("fk_draw_videos_certificate_hash_certificates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["giveaways.draws.id"],
            name=op.f("fk_draw_videos_draw_id_draws"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("certificate_hash", name=op.f("pk_draw_videos")),
        schema="giveaways",
    )
    op.execute(sa.text("ALTER TABLE giveaways.draw_videos ALTER COLUMN mp4 SET STORAGE EXTERNAL"))
    op.create_index(
        "ix_draw_videos_draw_id", "draw_videos", ["draw_id"], unique=False, schema="giveaways"
    )


def downgrade() -> None:
    op.drop_index("ix_draw_videos_draw_id", table_name="draw_videos", schema="giveaways")
    op.drop_table("draw_videos", schema="giveaways")
