"""region planes described as WKT, without an authority code: PostGIS readies each plane in milliseconds

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:00:00.000000

Each region's Lambert azimuthal equal-area plane (migration 0002) was registered as `yizhan:<srid>` with a PROJ
string. A database backend readies a plane the first time a statement uses it: PostGIS asks PROJ for the authority
code first, and an unknown authority sends PROJ searching its database, then builds the transformation from the
PROJ string with another search: about 50 ms from WGS-84 and 150 ms back, for every plane in every backend. All of
China is 3,254 planes, so a cold national table spent most of its time there. The same plane written as WKT, with
no authority code, is readied in about 2 ms and transforms to the same coordinates; the PROJ string stays (what
app.geo and the tests read). `auth_name` still marks the service's rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLANE_WKT = (
    'PROJCS["yizhan region plane",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]],'
    'PROJECTION["Lambert_Azimuthal_Equal_Area"],PARAMETER["latitude_of_center",%s],'
    'PARAMETER["longitude_of_center",%s],PARAMETER["false_easting",0],PARAMETER["false_northing",0],'
    'UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
)


def _register(srtext: str, auth_srid: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION regions_register_equal_area() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    lat text := to_char(ST_Y(ST_Centroid(NEW.boundary)), 'FM990.000000');
    lon text := to_char(ST_X(ST_Centroid(NEW.boundary)), 'FM990.000000');
BEGIN
    IF NEW.equal_area_srid IS NULL THEN
        NEW.equal_area_srid := nextval('region_equal_area_srid');
    END IF;
    INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
    VALUES (
        NEW.equal_area_srid, 'yizhan', {auth_srid}, {srtext},
        format('+proj=laea +lat_0=%s +lon_0=%s +datum=WGS84 +units=m +no_defs', lat, lon)
    )
    ON CONFLICT (srid) DO UPDATE
        SET auth_srid = EXCLUDED.auth_srid, srtext = EXCLUDED.srtext, proj4text = EXCLUDED.proj4text;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute(_register(f"format('{PLANE_WKT}', lat, lon)", "NULL"))
    # The existing planes, from their PROJ strings (the centre as it was registered).
    op.execute(
        f"""
UPDATE spatial_ref_sys SET auth_srid = NULL,
       srtext = format('{PLANE_WKT}', substring(proj4text FROM '\\+lat_0=(\\S+)'),
                       substring(proj4text FROM '\\+lon_0=(\\S+)'))
WHERE auth_name = 'yizhan'
"""
    )


def downgrade() -> None:
    op.execute(_register("NULL", "NEW.equal_area_srid"))
    op.execute("UPDATE spatial_ref_sys SET auth_srid = srid, srtext = NULL WHERE auth_name = 'yizhan'")
