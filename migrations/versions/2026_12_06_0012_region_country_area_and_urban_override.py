"""regions: the country level (全国 100000), a stored geodesic area, an operator's urban-district override

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:00:00.000000

All of China loads as country → province → city → county (`yizhan regions load`). `area_km2` is computed by
PostgreSQL from the boundary on every write (a generated column), so a listing of the 2,891 counties or the 34
provincial units reads it instead of measuring every boundary on the spheroid again. `urban_district_override`
holds an operator's word on whether a region is an urban district (市辖区, the 2 km rule); a reload keeps it
(app.regions.repository.upsert), while `is_urban_district` stays the value every rule reads. A region's parent is
checked at commit: a load writes the counties first and makes their city, province and country from them
(app.regions.loader), all in one transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("country", "province", "city", "county")
LEVELS_BEFORE = ("province", "city", "county")
PARENT_KEY = "fk_regions_parent_adcode_regions"


def _region_of(levels: Sequence[str]) -> str:
    # The deepest region whose boundary covers the point: array_position of a level the array lacks is NULL, which
    # a DESC order puts first, so every level must be named.
    array = ", ".join(f"'{level}'" for level in levels)
    return f"""
CREATE OR REPLACE FUNCTION region_of(point geometry) RETURNS varchar(6)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- the deepest region whose boundary covers the point (a county before its city)
    SELECT adcode FROM regions
    WHERE ST_Covers(boundary, point)
    ORDER BY array_position(ARRAY[{array}], level) DESC, adcode
    LIMIT 1
$$
"""


def _level_check(levels: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_regions_level_known"), "regions", type_="check")
    op.create_check_constraint(
        op.f("ck_regions_level_known"), "regions", f"level IN ({', '.join(repr(level) for level in levels)})"
    )


def upgrade() -> None:
    _level_check(LEVELS)
    op.execute(_region_of(LEVELS))
    op.add_column(
        "regions",
        sa.Column(
            "area_km2",
            sa.Double(),
            sa.Computed("ST_Area(boundary::geography) / 1e6", persisted=True),
            nullable=False,
        ),
    )
    op.add_column("regions", sa.Column("urban_district_override", sa.Boolean(), nullable=True))
    op.execute(f"ALTER TABLE regions ALTER CONSTRAINT {PARENT_KEY} DEFERRABLE INITIALLY DEFERRED")


def downgrade() -> None:
    op.execute(f"ALTER TABLE regions ALTER CONSTRAINT {PARENT_KEY} NOT DEFERRABLE")
    op.drop_column("regions", "urban_district_override")
    op.drop_column("regions", "area_km2")
    op.execute("UPDATE regions SET parent_adcode = NULL WHERE parent_adcode = '100000'")
    op.execute("DELETE FROM regions WHERE level = 'country'")
    op.execute(_region_of(LEVELS_BEFORE))
    _level_check(LEVELS_BEFORE)
