"""sites: the region index orders each region's sites by id

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00.000000

`GET /v1/sites?region=` pages through a region's sites in id order, one region of its tree at a time (see
app.sites.repository.page): an index on (region_adcode, id) hands each region's next page straight from the
cursor, where the index on region_adcode alone had to read and sort all of the region's sites. It serves every use
of that index, which it replaces.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_sites_region_adcode_id", "sites", ["region_adcode", "id"], unique=False)
    op.drop_index("ix_sites_region_adcode", table_name="sites")


def downgrade() -> None:
    op.create_index("ix_sites_region_adcode", "sites", ["region_adcode"], unique=False)
    op.drop_index("ix_sites_region_adcode_id", table_name="sites")
