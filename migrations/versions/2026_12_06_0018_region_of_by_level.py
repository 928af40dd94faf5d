"""region_of looks level by level, deepest first: a point in a county is never tested against its province's and
the country's outlines

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 23:35:00.000000

Every site's region is derived by region_of (on every write, and for every site when a boundary changes). It tested
the point against every region whose box holds it, the country's and the province's outlines among them (tens of
thousands of vertices), then kept the deepest: ~1.3 ms a site with all of China loaded. Asking the counties first,
then the cities, provinces and the country only where nothing deeper covers the point, gives the same region.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BY_LEVEL = """
CREATE OR REPLACE FUNCTION region_of(point geometry) RETURNS varchar(6)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- the deepest region whose boundary covers the point (a county before its city), deepest level asked first
    SELECT coalesce(
        (SELECT adcode FROM regions WHERE level = 'county' AND ST_Covers(boundary, point) ORDER BY adcode LIMIT 1),
        (SELECT adcode FROM regions WHERE level = 'city' AND ST_Covers(boundary, point) ORDER BY adcode LIMIT 1),
        (SELECT adcode FROM regions WHERE level = 'province' AND ST_Covers(boundary, point) ORDER BY adcode LIMIT 1),
        (SELECT adcode FROM regions WHERE level = 'country' AND ST_Covers(boundary, point) ORDER BY adcode LIMIT 1)
    )
$$
"""

ALL_AT_ONCE = """
CREATE OR REPLACE FUNCTION region_of(point geometry) RETURNS varchar(6)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- the deepest region whose boundary covers the point (a county before its city)
    SELECT adcode FROM regions
    WHERE ST_Covers(boundary, point)
    ORDER BY array_position(ARRAY['country', 'province', 'city', 'county'], level) DESC, adcode
    LIMIT 1
$$
"""


def upgrade() -> None:
    op.execute(BY_LEVEL)


def downgrade() -> None:
    op.execute(ALL_AT_ONCE)
