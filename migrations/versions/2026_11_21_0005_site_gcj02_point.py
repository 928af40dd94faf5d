"""site point in GCJ-02, kept at write time for the Amap links and GCJ-02 answers of the nearest query

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 08:40:00.000000

The conversion is prcoords' (app.geo), which has no SQL twin, so the application writes the columns with the
location. A write that moves `location` without them (plain SQL, a future path) clears them by trigger rather than
leave a stale point; readers convert on the fly then. They are derived, so the history leaves them out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app import geo

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 20_000


def _site_document(*excluded: str) -> str:
    removed = "".join(f" - '{column}'" for column in ("location", "geom", *excluded))
    return f"""
CREATE OR REPLACE FUNCTION site_document(s sites) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT (to_jsonb(s){removed})
           || jsonb_build_object('lon', ST_X(s.location::geometry), 'lat', ST_Y(s.location::geometry))
$$
"""


def upgrade() -> None:
    op.add_column("sites", sa.Column("gcj02_lon", sa.Double(), nullable=True))
    op.add_column("sites", sa.Column("gcj02_lat", sa.Double(), nullable=True))
    op.create_check_constraint("gcj02_both_or_neither", "sites", "(gcj02_lon IS NULL) = (gcj02_lat IS NULL)")
    op.execute(_site_document("gcj02_lon", "gcj02_lat"))
    op.execute("""
CREATE FUNCTION sites_clear_stale_gcj02() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.gcj02_lon := NULL;
    NEW.gcj02_lat := NULL;
    RETURN NEW;
END
$$
""")
    op.execute("""
CREATE TRIGGER sites_clear_stale_gcj02
    BEFORE UPDATE ON sites
    FOR EACH ROW
    WHEN (ST_AsBinary(NEW.location) IS DISTINCT FROM ST_AsBinary(OLD.location)
          AND NEW.gcj02_lon IS NOT DISTINCT FROM OLD.gcj02_lon
          AND NEW.gcj02_lat IS NOT DISTINCT FROM OLD.gcj02_lat)
    EXECUTE FUNCTION sites_clear_stale_gcj02()
""")
    # Backfill in batches. The columns are outside the history (site_document), so its trigger would record
    # nothing; pausing it makes the backfill ~10× faster.
    op.execute("ALTER TABLE sites DISABLE TRIGGER sites_record_change")
    conn = op.get_bind()
    last_id = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM sites WHERE id > :after ORDER BY id LIMIT :n"
            ),
            {"after": last_id, "n": BATCH},
        ).all()
        if not rows:
            break
        points = [geo.from_wgs84(r.lon, r.lat, geo.CoordSys.gcj02) for r in rows]
        conn.execute(
            sa.text(
                "UPDATE sites s SET gcj02_lon = p.lon, gcj02_lat = p.lat "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:lons AS float8[]), CAST(:lats AS float8[])) "
                "AS p(id, lon, lat) WHERE s.id = p.id"
            ),
            {"ids": [r.id for r in rows], "lons": [p[0] for p in points], "lats": [p[1] for p in points]},
        )
        last_id = rows[-1].id
    op.execute("ALTER TABLE sites ENABLE TRIGGER sites_record_change")


def downgrade() -> None:
    op.execute("DROP TRIGGER sites_clear_stale_gcj02 ON sites")
    op.execute("DROP FUNCTION sites_clear_stale_gcj02()")
    op.execute(_site_document())
    op.drop_constraint("ck_sites_gcj02_both_or_neither", "sites", type_="check")
    op.drop_column("sites", "gcj02_lat")
    op.drop_column("sites", "gcj02_lon")
