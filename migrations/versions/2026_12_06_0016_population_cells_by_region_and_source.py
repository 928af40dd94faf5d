"""population cells indexed by region and source: a region's population source read from the index alone

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:10:00.000000

Every region lookup of coverage says where the region's people come from (the least of its cells' sources). With all
of China modelled (4 million cells, up to 2,500 a county) the index on the region alone made that a scan of every
cell of the county: 2.5 s for the 3,253 regions of a national table. Indexed by (region, source), it is the first
entry of the region's range; the index serves the lookups by region alone as the old one did.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_population_cells_region_adcode_source", "population_cells", ["region_adcode", "source"])
    op.drop_index("ix_population_cells_region_adcode", table_name="population_cells")


def downgrade() -> None:
    op.create_index("ix_population_cells_region_adcode", "population_cells", ["region_adcode"])
    op.drop_index("ix_population_cells_region_adcode_source", table_name="population_cells")
