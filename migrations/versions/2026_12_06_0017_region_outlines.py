"""region outlines: every region's boundary simplified for each zoom of the national map, kept by trigger

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 22:00:00.000000

A regions tile at a national zoom (app.tiles) draws provinces and cities whose boundaries have hundreds of thousands
of vertices: simplifying them at every request would cost seconds a tile. Each region's boundary is kept here in
Web Mercator, simplified to half a pixel of each zoom up to OUTLINE_MAX_ZOOM (`outline_tolerance_m`), written by
trigger whenever a boundary is written (a load, an import, the demo), so no writer has to know of it. Above that
zoom a tile simplifies the part of the boundary it shows alike.

Douglas-Peucker (ST_Simplify), keeping the rings it would collapse (islands smaller than a pixel stay drawn): 0.5 s
for all of China's 3,254 regions at 9 zooms, where ST_SimplifyPreserveTopology took 18 s for the same vertices. A
ring it leaves crossing itself is made valid when the tile is drawn (ST_AsMVTGeom).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Above this zoom the national set's outlines are hardly simplified any more (its vertices are a few hundred metres
# apart), and a tile shows a small part of a few regions: it simplifies that part (app.tiles.repository).
OUTLINE_MAX_ZOOM = 8

UPGRADE = (
    """
CREATE TABLE region_outlines (
    adcode varchar(6) NOT NULL REFERENCES regions (adcode) ON DELETE CASCADE ON UPDATE CASCADE,
    zoom smallint NOT NULL,
    outline geometry(MultiPolygon, 3857) NOT NULL,
    PRIMARY KEY (adcode, zoom)
)
""",
    # Half a Web Mercator pixel (of a 256-pixel tile) at the zoom: an outline stays within half a pixel of the
    # boundary, so two neighbours simplified apart stay within a pixel of each other.
    """
CREATE FUNCTION outline_tolerance_m(zoom integer) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 0.5 * 2 * pi() * 6378137 / 256 / 2 ^ zoom
$$
""",
    f"""
CREATE FUNCTION regions_write_outlines() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM region_outlines WHERE adcode = NEW.adcode;
    INSERT INTO region_outlines (adcode, zoom, outline)
    SELECT NEW.adcode, z, ST_Multi(ST_Simplify(m.outline, outline_tolerance_m(z), true))
    FROM (SELECT ST_Transform(NEW.boundary, 3857) AS outline) AS m, generate_series(0, {OUTLINE_MAX_ZOOM}) AS z;
    RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER regions_outlines_inserted
    AFTER INSERT ON regions
    FOR EACH ROW EXECUTE FUNCTION regions_write_outlines()
""",
    """
CREATE TRIGGER regions_outlines_updated
    AFTER UPDATE OF boundary ON regions
    FOR EACH ROW WHEN (ST_AsBinary(OLD.boundary) IS DISTINCT FROM ST_AsBinary(NEW.boundary))
    EXECUTE FUNCTION regions_write_outlines()
""",
    # The regions already there: their outlines, as the trigger would have written them.
    f"""
INSERT INTO region_outlines (adcode, zoom, outline)
SELECT m.adcode, z, ST_Multi(ST_Simplify(m.outline, outline_tolerance_m(z), true))
FROM (SELECT adcode, ST_Transform(boundary, 3857) AS outline FROM regions) AS m,
     generate_series(0, {OUTLINE_MAX_ZOOM}) AS z
""",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS regions_outlines_updated ON regions")
    op.execute("DROP TRIGGER IF EXISTS regions_outlines_inserted ON regions")
    op.execute("DROP FUNCTION IF EXISTS regions_write_outlines(), outline_tolerance_m(integer)")
    op.execute("DROP TABLE IF EXISTS region_outlines")
