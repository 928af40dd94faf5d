"""sites.seats: how many people a site can seat (null when unknown)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 19:00:00.000000

A planner asks whether a station can take the couriers of a district at lunch, a worker whether there will be a
seat. The history and the change feed carry it with the rest of the row (site_document is the row's to_jsonb).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sites", sa.Column("seats", sa.Integer(), nullable=True))
    op.create_check_constraint(op.f("ck_sites_seats_not_negative"), "sites", "seats >= 0")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_sites_seats_not_negative"), "sites", type_="check")
    op.drop_column("sites", "seats")
