"""site inspections: the seven dimensions of SPEC §2 scored by an inspector (a key with the new `inspect` scope), the
star level each one sets

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSIONS = ("hardware", "equipment", "signage", "rules", "funding", "use", "activities")


def _scopes(scopes: str) -> None:
    op.execute("ALTER TABLE api_keys DROP CONSTRAINT ck_api_keys_scopes_known")
    op.execute(
        "ALTER TABLE api_keys ADD CONSTRAINT ck_api_keys_scopes_known "
        f"CHECK (scopes <@ ARRAY[{scopes}]::text[] AND cardinality(scopes) > 0)"
    )


def upgrade() -> None:
    _scopes("'read', 'write', 'plan', 'inspect', 'admin'")
    op.create_table(
        "site_inspections",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("unannounced", sa.Boolean(), nullable=False),
        *[sa.Column(d, sa.SmallInteger(), nullable=False) for d in DIMENSIONS],
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("photo_urls", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("inspector", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("suspended", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("suspension_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        *[
            sa.CheckConstraint(f"{d} BETWEEN 0 AND 100", name=op.f(f"ck_site_inspections_{d}_range"))
            for d in DIMENSIONS
        ],
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_site_inspections_level_range")),
        sa.CheckConstraint(
            "NOT suspended OR (NOT passed AND suspension_reason IS NOT NULL)",
            name=op.f("ck_site_inspections_suspended_when_failed"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_inspections_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_inspections")),
    )
    op.create_index("ix_site_inspections_site_latest", "site_inspections", ["site_id", "inspected_on", "id"])
    # The complaints a star level is lowered for: open reports by when they were filed (their due date follows).
    op.create_index(
        "ix_site_reports_open_site_created",
        "site_reports",
        ["site_id", "created_at"],
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_site_reports_open_site_created", table_name="site_reports")
    op.drop_table("site_inspections")
    op.execute("DELETE FROM api_keys WHERE 'inspect' = ANY(scopes)")
    _scopes("'read', 'write', 'plan', 'admin'")
