"""The register: site kinds, the amenity vocabulary and the sites themselves."""

import datetime as dt

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base, one_of
from app.vocabularies.closed import AccessMode, SiteStatus, VerificationMethod


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
    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
        CheckConstraint(
            "ST_X(location::geometry) BETWEEN -180 AND 180 AND ST_Y(location::geometry) BETWEEN -90 AND 90",
            name="location_in_range",
        ),
        CheckConstraint(one_of("status", SiteStatus), name="status_known"),
        CheckConstraint(one_of("access", AccessMode), name="access_known"),
        CheckConstraint(
            f"verified_by IS NULL OR {one_of('verified_by', VerificationMethod)}",
            name="verified_by_known",
        ),
        CheckConstraint("closed_on IS NULL OR opened_on IS NULL OR closed_on >= opened_on", name="closed_after_opened"),
        CheckConstraint("version >= 1", name="version_positive"),
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

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(ForeignKey("site_kinds.code"), index=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    # Geodesic truth for distances and KNN (metres on the WGS-84 spheroid) …
    location: Mapped[str] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    # … and its lon/lat twin for bbox and point-in-boundary tests, which are planar in degrees by definition.
    geom: Mapped[str] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False),
        Computed("location::geometry", persisted=True),
    )
    # … and in GCJ-02 (Amap's datum) for navigation links: written by the application with the location (the
    # conversion is app.geo's); a write that moves the location without them clears them (trigger, migration 0005).
    gcj02_lon: Mapped[float | None] = mapped_column(Double)
    gcj02_lat: Mapped[float | None] = mapped_column(Double)
    # An open report of a closed, locked, app-only or moved site (kept from site_reports by trigger, migration 0006).
    access_reported: Mapped[bool] = mapped_column(Boolean, server_default="false")
    region_adcode: Mapped[str | None] = mapped_column(String(6), ForeignKey("regions.adcode", ondelete="SET NULL"))
    operator: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    keeper: Mapped[str | None] = mapped_column(Text)
    # OpenStreetMap opening_hours syntax ("24/7", "Mo-Fr 08:00-18:00").
    opening_hours: Mapped[str | None] = mapped_column(Text)
    # Its number in opening_hours_expressions (trigger, migration 0007), for the nearest query's open-now filter.
    opening_hours_id: Mapped[int | None] = mapped_column(Integer)
    access: Mapped[str] = mapped_column(Text, server_default="open")
    access_note: Mapped[str | None] = mapped_column(Text)
    amenities: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    services: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    worker_groups: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    status: Mapped[str] = mapped_column(Text, server_default="active")
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    rating: Mapped[str | None] = mapped_column(Text)
    photos: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    source: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    last_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
