"""site reports: workers' reports of closed, locked or moved sites, the review queue behind them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 07:10:32.134255
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_reports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo_url", sa.Text(), nullable=True),
        sa.Column("reporter_lon", sa.Double(), nullable=True),
        sa.Column("reporter_lat", sa.Double(), nullable=True),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("times_reported", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_reported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'accepted', 'rejected')", name=op.f("ck_site_reports_status_known")),
        sa.CheckConstraint(
            "type IN ('closed', 'locked', 'needs_app', 'moved', 'wrong_location', 'amenity_missing', 'other')",
            name=op.f("ck_site_reports_type_known"),
        ),
        sa.CheckConstraint("times_reported >= 1", name=op.f("ck_site_reports_times_positive")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_reports_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_reports")),
    )
    op.create_index(
        "ix_site_reports_open_site",
        "site_reports",
        ["site_id"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_site_reports_status_id", "site_reports", ["status", "id"], unique=False)
    op.create_index(
        "uq_site_reports_open_per_client",
        "site_reports",
        ["site_id", "type", "client"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_site_reports_open_per_client", table_name="site_reports", postgresql_where=sa.text("status = 'open'")
    )
    op.drop_index("ix_site_reports_status_id", table_name="site_reports")
    op.drop_index("ix_site_reports_open_site", table_name="site_reports", postgresql_where=sa.text("status = 'open'"))
    op.drop_table("site_reports")
