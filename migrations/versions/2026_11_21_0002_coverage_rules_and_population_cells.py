"""coverage rules and population cells

Default rules (SPEC §3, §6). Until a road network is loaded a travel circle is a radius of minutes × an assumed
speed: 15 km/h is what a worker's e-bike averages with stops and junctions (e-bikes are capped at 25 km/h by
GB 17761-2018), so the "half-hour circle" (半小时工作圈) is 7.5 km.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:20:53.633454
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ASSUMED_SPEED_KMH = 15.0

# (kind, urban_district, radius_m, travel_minutes, note)
DEFAULT_RULES = [
    ("legal_aid", True, 2000.0, None, "2 km in urban districts (市辖区)"),
    ("legal_aid", False, None, 30, "half-hour circle (半小时工作圈) in counties"),
    ("outdoor_station", True, 1000.0, None, "1 km walk in urban districts"),
    ("outdoor_station", False, None, 10, "10 minutes by e-bike in counties"),
    ("service_centre", True, None, 30, "half-hour circle"),
    ("service_centre", False, None, 30, "half-hour circle"),
]


# Each region gets a spatial_ref_sys entry for a Lambert azimuthal equal-area projection centred on it (the
# same PROJ string as app.geo.local_equal_area). PostGIS caches projections by SRID; ST_Transform to a PROJ
# *string* rebuilds the projection on every call (~0.3 ms), which made a county's coverage take 8 s.
EQUAL_AREA_SRID = (
    "CREATE SEQUENCE region_equal_area_srid START 910000 MAXVALUE 998999",
    "ALTER TABLE regions ADD COLUMN equal_area_srid integer CONSTRAINT uq_regions_equal_area_srid UNIQUE",
    """
CREATE FUNCTION regions_register_equal_area() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.equal_area_srid IS NULL THEN
        NEW.equal_area_srid := nextval('region_equal_area_srid');
    END IF;
    INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, proj4text)
    VALUES (
        NEW.equal_area_srid, 'yizhan', NEW.equal_area_srid,
        format('+proj=laea +lat_0=%s +lon_0=%s +datum=WGS84 +units=m +no_defs',
               to_char(ST_Y(ST_Centroid(NEW.boundary)), 'FM990.000000'),
               to_char(ST_X(ST_Centroid(NEW.boundary)), 'FM990.000000'))
    )
    ON CONFLICT (srid) DO UPDATE SET proj4text = EXCLUDED.proj4text;
    RETURN NEW;
END
$$
""",
    """
CREATE TRIGGER regions_register_equal_area
    BEFORE INSERT OR UPDATE OF boundary ON regions
    FOR EACH ROW EXECUTE FUNCTION regions_register_equal_area()
""",
    # Regions loaded before this revision get theirs now.
    "UPDATE regions SET boundary = boundary",
)


def upgrade() -> None:
    for statement in EQUAL_AREA_SRID:
        op.execute(statement)
    op.create_table(
        "coverage_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("region_adcode", sa.String(length=6), nullable=True),
        sa.Column("urban_district", sa.Boolean(), nullable=True),
        sa.Column("radius_m", sa.Double(), nullable=True),
        sa.Column("travel_minutes", sa.Integer(), nullable=True),
        sa.Column("assumed_speed_kmh", sa.Double(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(radius_m IS NOT NULL) <> (travel_minutes IS NOT NULL AND assumed_speed_kmh IS NOT NULL)",
            name=op.f("ck_coverage_rules_radius_or_travel_time"),
        ),
        sa.CheckConstraint(
            "assumed_speed_kmh IS NULL OR assumed_speed_kmh > 0", name=op.f("ck_coverage_rules_speed_positive")
        ),
        sa.CheckConstraint("radius_m IS NULL OR radius_m > 0", name=op.f("ck_coverage_rules_radius_positive")),
        sa.CheckConstraint(
            "region_adcode IS NULL OR urban_district IS NULL", name=op.f("ck_coverage_rules_region_or_district_class")
        ),
        sa.CheckConstraint(
            "travel_minutes IS NULL OR travel_minutes > 0", name=op.f("ck_coverage_rules_minutes_positive")
        ),
        sa.ForeignKeyConstraint(["kind"], ["site_kinds.code"], name=op.f("fk_coverage_rules_kind_site_kinds")),
        sa.ForeignKeyConstraint(
            ["region_adcode"],
            ["regions.adcode"],
            name=op.f("fk_coverage_rules_region_adcode_regions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_rules")),
    )
    op.create_index(
        "uq_coverage_rules_scope",
        "coverage_rules",
        ["kind", "region_adcode", "urban_district"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_geospatial_table(
        "population_cells",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_adcode", sa.String(length=6), nullable=False),
        sa.Column(
            "cell",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "centroid",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("population", sa.Double(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.CheckConstraint("population >= 0", name=op.f("ck_population_cells_population_non_negative")),
        sa.ForeignKeyConstraint(
            ["region_adcode"],
            ["regions.adcode"],
            name=op.f("fk_population_cells_region_adcode_regions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_population_cells")),
    )
    op.create_geospatial_index(
        "ix_population_cells_centroid",
        "population_cells",
        ["centroid"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_population_cells_region_adcode"), "population_cells", ["region_adcode"], unique=False)

    rules = sa.table(
        "coverage_rules",
        *(sa.column(c) for c in ("kind", "urban_district", "radius_m", "travel_minutes", "assumed_speed_kmh", "note")),
    )
    op.bulk_insert(
        rules,
        [
            {
                "kind": kind,
                "urban_district": urban,
                "radius_m": radius,
                "travel_minutes": minutes,
                "assumed_speed_kmh": ASSUMED_SPEED_KMH if minutes else None,
                "note": note,
            }
            for kind, urban, radius, minutes, note in DEFAULT_RULES
        ],
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS regions_register_equal_area ON regions")
    op.execute("DROP FUNCTION IF EXISTS regions_register_equal_area()")
    op.execute("DELETE FROM spatial_ref_sys WHERE auth_name = 'yizhan'")
    op.execute("ALTER TABLE regions DROP COLUMN IF EXISTS equal_area_srid")
    op.execute("DROP SEQUENCE IF EXISTS region_equal_area_srid")
    op.drop_index(op.f("ix_population_cells_region_adcode"), table_name="population_cells")
    op.drop_geospatial_index(
        "ix_population_cells_centroid", table_name="population_cells", postgresql_using="gist", column_name="centroid"
    )
    op.drop_geospatial_table("population_cells")
    op.drop_index("uq_coverage_rules_scope", table_name="coverage_rules", postgresql_nulls_not_distinct=True)
    op.drop_table("coverage_rules")
