"""rating squares: each site's sum of squared stars beside its sum, for the spread its ranking score needs

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "site_rating_totals", sa.Column("stars_squared", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.execute(
        """
UPDATE site_rating_totals t SET stars_squared = coalesce(
    (SELECT sum(r.stars * r.stars) FROM site_ratings r WHERE r.site_id = t.site_id AND r.replaced_at IS NULL), 0)
"""
    )


def downgrade() -> None:
    op.drop_column("site_rating_totals", "stars_squared")
