"""initial schema: site kinds, amenity vocabulary, regions, sites

Sites carry a geography point (geodesic KNN and distances) and its generated lon/lat geometry twin (bbox and
point-in-boundary tests). A site's region is derived from its location by the boundaries, by trigger, and kept
in step when either the site moves or a boundary changes.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 05:54:10.049287
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography, Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SITE_KINDS = [
    ("outdoor_station", "户外劳动者驿站", "Outdoor workers' rest station", 10),
    ("legal_aid", "法律援助站点", "Union legal-aid point", 20),
    ("service_centre", "职工服务中心", "Worker service centre", 30),
]

AMENITIES = [
    ("drinking_water", "饮用水", "Drinking water"),
    ("seating", "休息座椅", "Rest seats"),
    ("microwave", "微波炉", "Microwave"),
    ("phone_charging", "手机充电", "Phone charging"),
    ("ebike_charging", "电动车充电", "E-bike charging"),
    ("battery_swap", "电池换电", "E-bike battery swap"),
    ("toilet", "卫生间", "Toilet"),
    ("first_aid", "急救药箱", "First-aid kit"),
    ("air_conditioning", "空调/取暖", "Air conditioning / heating"),
    ("umbrella", "爱心雨伞", "Umbrella loan"),
    ("tools", "维修工具", "Repair tools"),
    ("books", "图书", "Books"),
    ("wifi", "无线网络", "Wi-Fi"),
]

# One statement per item: asyncpg runs no multi-statement strings.
REGION_DERIVATION = (
    """
CREATE FUNCTION region_of(point geometry) RETURNS varchar(6)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- the deepest region whose boundary covers the point (a county before its city)
    SELECT adcode FROM regions
    WHERE ST_Covers(boundary, point)
    ORDER BY array_position(ARRAY['province', 'city', 'county'], level) DESC, adcode
    LIMIT 1
$$;
""",
    """
CREATE FUNCTION sites_derive_region() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.region_adcode := region_of(NEW.location::geometry);
    RETURN NEW;
END
$$;
""",
    """
CREATE TRIGGER sites_derive_region
    BEFORE INSERT OR UPDATE OF location, region_adcode ON sites
    FOR EACH ROW EXECUTE FUNCTION sites_derive_region();
""",
    """
CREATE FUNCTION regions_rederive_sites() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sites SET region_adcode = derived.adcode
    FROM (SELECT id, region_of(geom) AS adcode FROM sites) AS derived
    WHERE sites.id = derived.id AND sites.region_adcode IS DISTINCT FROM derived.adcode;
    RETURN NULL;
END
$$;
""",
    """
CREATE TRIGGER regions_rederive_sites
    AFTER INSERT OR DELETE OR UPDATE OF boundary, level ON regions
    FOR EACH STATEMENT EXECUTE FUNCTION regions_rederive_sites();
""",
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "amenities",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("label_zh", sa.Text(), nullable=False),
        sa.Column("label_en", sa.Text(), nullable=False),
        sa.Column("sort_order", sa.SmallInteger(), server_default="100", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_amenities")),
    )
    op.create_geospatial_table(
        "regions",
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("parent_adcode", sa.String(length=6), nullable=True),
        sa.Column("is_urban_district", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "boundary",
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
            "seat",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("population", sa.BigInteger(), nullable=True),
        sa.Column("population_source", sa.Text(), nullable=True),
        sa.CheckConstraint("adcode ~ '^[0-9]{6}$'", name=op.f("ck_regions_adcode_format")),
        sa.CheckConstraint("level IN ('province', 'city', 'county')", name=op.f("ck_regions_level_known")),
        sa.CheckConstraint("ST_IsValid(boundary)", name=op.f("ck_regions_boundary_valid")),
        sa.CheckConstraint("population IS NULL OR population >= 0", name=op.f("ck_regions_population_non_negative")),
        sa.ForeignKeyConstraint(
            ["parent_adcode"],
            ["regions.adcode"],
            name=op.f("fk_regions_parent_adcode_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("adcode", name=op.f("pk_regions")),
    )
    op.create_geospatial_index(
        "ix_regions_boundary",
        "regions",
        ["boundary"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_regions_parent_adcode"), "regions", ["parent_adcode"], unique=False)
    op.create_table(
        "site_kinds",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("label_zh", sa.Text(), nullable=False),
        sa.Column("label_en", sa.Text(), nullable=False),
        sa.Column("sort_order", sa.SmallInteger(), server_default="100", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_site_kinds")),
    )
    op.create_geospatial_table(
        "sites",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "location",
            Geography(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeogFromText",
                name="geography",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            sa.Computed("location::geometry", persisted=True),
            nullable=False,
        ),
        sa.Column("region_adcode", sa.String(length=6), nullable=True),
        sa.Column("operator", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("keeper", sa.Text(), nullable=True),
        sa.Column("opening_hours", sa.Text(), nullable=True),
        sa.Column("access", sa.Text(), server_default="open", nullable=False),
        sa.Column("access_note", sa.Text(), nullable=True),
        sa.Column("amenities", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("services", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("worker_groups", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("rating", sa.Text(), nullable=True),
        sa.Column("photos", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("last_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("access IN ('open', 'qr_code', 'app', 'keeper_key')", name=op.f("ck_sites_access_known")),
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_sites_name_not_blank")),
        sa.CheckConstraint("status IN ('active', 'suspended', 'closed')", name=op.f("ck_sites_status_known")),
        sa.CheckConstraint(
            "verified_by IS NULL OR verified_by IN ('inspection', 'phone', 'partner_sync', 'worker_confirmation')",
            name=op.f("ck_sites_verified_by_known"),
        ),
        sa.CheckConstraint(
            "ST_X(location::geometry) BETWEEN -180 AND 180 AND ST_Y(location::geometry) BETWEEN -90 AND 90",
            name=op.f("ck_sites_location_in_range"),
        ),
        sa.CheckConstraint(
            "closed_on IS NULL OR opened_on IS NULL OR closed_on >= opened_on",
            name=op.f("ck_sites_closed_after_opened"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_sites_version_positive")),
        sa.ForeignKeyConstraint(["kind"], ["site_kinds.code"], name=op.f("fk_sites_kind_site_kinds")),
        sa.ForeignKeyConstraint(
            ["region_adcode"],
            ["regions.adcode"],
            name=op.f("fk_sites_region_adcode_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_sites_source_external_id")),
    )
    op.create_geospatial_index(
        "ix_sites_geom", "sites", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_sites_kind"), "sites", ["kind"], unique=False)
    op.create_geospatial_index(
        "ix_sites_location",
        "sites",
        ["location"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_sites_region_adcode"), "sites", ["region_adcode"], unique=False)
    op.create_index(
        "ix_sites_search_text",
        "sites",
        [sa.literal_column("(name || ' ' || coalesce(address, '')) gin_trgm_ops")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(op.f("ix_sites_updated_at"), "sites", ["updated_at"], unique=False)
    for statement in REGION_DERIVATION:
        op.execute(statement)

    kinds = sa.table("site_kinds", *(sa.column(c) for c in ("code", "label_zh", "label_en", "sort_order")))
    op.bulk_insert(
        kinds,
        [dict(zip(("code", "label_zh", "label_en", "sort_order"), k, strict=True)) for k in SITE_KINDS],
    )
    amenities = sa.table("amenities", *(sa.column(c) for c in ("code", "label_zh", "label_en", "sort_order")))
    op.bulk_insert(
        amenities,
        [
            {"code": code, "label_zh": zh, "label_en": en, "sort_order": 10 * (i + 1)}
            for i, (code, zh, en) in enumerate(AMENITIES)
        ],
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS regions_rederive_sites ON regions")
    op.execute("DROP TRIGGER IF EXISTS sites_derive_region ON sites")
    op.execute("DROP FUNCTION IF EXISTS regions_rederive_sites(), sites_derive_region(), region_of(geometry)")
    op.drop_index(op.f("ix_sites_updated_at"), table_name="sites")
    op.drop_index("ix_sites_search_text", table_name="sites", postgresql_using="gin")
    op.drop_index(op.f("ix_sites_region_adcode"), table_name="sites")
    op.drop_geospatial_index("ix_sites_location", table_name="sites", postgresql_using="gist", column_name="location")
    op.drop_index(op.f("ix_sites_kind"), table_name="sites")
    op.drop_geospatial_index("ix_sites_geom", table_name="sites", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("sites")
    op.drop_table("site_kinds")
    op.drop_index(op.f("ix_regions_parent_adcode"), table_name="regions")
    op.drop_geospatial_index(
        "ix_regions_boundary", table_name="regions", postgresql_using="gist", column_name="boundary"
    )
    op.drop_geospatial_table("regions")
    op.drop_table("amenities")
