"""The register: site kinds, the amenity vocabulary and the sites themselves."""

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base
from app.problems.database import explain_constraints
from app.sites import fields


class SiteKind(Base):
    """A kind of site; adding one (心理服务站, 妈妈小屋 …) is a row, not code."""

    __tablename__ = "site_kinds"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    label_zh: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(SmallInteger, server_default="100")


class Amenity(Base):
    """The controlled amenity vocabulary (SPEC §2)."""

    __tablename__ = "amenities"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    label_zh: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(SmallInteger, server_default="100")


class OpeningHoursExpression(Base):
    """Each distinct opening-hours string in the register, numbered (filled by trigger, migration 0007)."""

    __tablename__ = "opening_hours_expressions"

    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    expression: Mapped[str] = mapped_column(Text, unique=True)


class Site(Base):
    """A site: its declared fields (app.sites.fields) and the columns the register keeps for itself."""

    __table__ = Table(
        "sites",
        Base.metadata,
        *(f.column() for f in fields.FIELDS if f.stored),
        # Geodesic truth for distances and KNN (metres on the WGS-84 spheroid) …
        Column("location", Geography("POINT", srid=4326, spatial_index=False), nullable=False),
        # … and its lon/lat twin for bbox and point-in-boundary tests, which are planar in degrees by definition.
        Column(
            "geom",
            Geometry("POINT", srid=4326, spatial_index=False),
            Computed("location::geometry", persisted=True),
            nullable=False,
        ),
        # … and in GCJ-02 (Amap's datum) for navigation links: written by the application with the location (the
        # conversion is app.geo's); a write that moves the location without them clears them (trigger, migration
        # 0005).
        Column("gcj02_lon", Double),
        Column("gcj02_lat", Double),
        # An open report of a closed, locked, app-only or moved site (kept from site_reports by trigger, migration
        # 0006).
        Column("access_reported", Boolean, server_default="false", nullable=False),
        # The opening hours' number in opening_hours_expressions (trigger, migration 0007), for the nearest query's
        # open-now filter.
        Column("opening_hours_id", Integer),
        Column("deleted_at", DateTime(timezone=True)),
        UniqueConstraint("source", "external_id"),
        *(check for f in fields.FIELDS for check in f.check_constraints()),
        CheckConstraint(
            "ST_X(location::geometry) BETWEEN -180 AND 180 AND ST_Y(location::geometry) BETWEEN -90 AND 90",
            name="location_in_range",
        ),
        CheckConstraint("(gcj02_lon IS NULL) = (gcj02_lat IS NULL)", name="gcj02_both_or_neither"),
        Index("ix_sites_location", "location", postgresql_using="gist"),
        Index("ix_sites_geom", "geom", postgresql_using="gist"),
        # A region's sites in id order: its pages of GET /v1/sites?region= (migration 0010).
        Index("ix_sites_region_adcode_id", "region_adcode", "id"),
        Index(
            "ix_sites_search_text",
            text("(name || ' ' || coalesce(address, '')) gin_trgm_ops"),
            postgresql_using="gin",
        ),
    )


explain_constraints(
    {
        "uq_sites_source_external_id": (
            "external_id",
            "a site with this source and external_id exists; PATCH it or use POST /v1/sites/bulk",
        ),
        "fk_sites_kind_site_kinds": ("kind", "not a known site kind"),
        "ck_sites_location_in_range": ("lat", "lat/lon out of range"),
        **{name: problem for field in fields.FIELDS for name, problem in field.constraint_problems().items()},
    }
)
