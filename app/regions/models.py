"""Administrative regions (country / province / city / county) with their boundaries and census population, and the
history of their changes."""

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.changes.models import Xid8
from app.database.orm import Base, one_of
from app.regions.adcode import ADCODE_PATTERN
from app.vocabularies.closed import RegionLevel


class Region(Base):
    __tablename__ = "regions"
    __table_args__ = (
        Index("ix_regions_boundary", "boundary", postgresql_using="gist"),
        CheckConstraint(f"adcode ~ '{ADCODE_PATTERN}'", name="adcode_format"),
        CheckConstraint(one_of("level", RegionLevel), name="level_known"),
        CheckConstraint("ST_IsValid(boundary)", name="boundary_valid"),
        CheckConstraint("population IS NULL OR population >= 0", name="population_non_negative"),
    )

    adcode: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    parent_adcode: Mapped[str | None] = mapped_column(
        String(6),
        # Checked at commit: a load writes counties before the city, province and country made from them.
        ForeignKey("regions.adcode", ondelete="RESTRICT", deferrable=True, initially="DEFERRED"),
        index=True,
    )
    # 市辖区: the legal-aid rule there is a 2 km radius instead of a half-hour travel circle.
    is_urban_district: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # An operator's word on is_urban_district, which every load keeps (app.regions.repository.upsert); null: the
    # data's (app.regions.urban).
    urban_district_override: Mapped[bool | None] = mapped_column(Boolean)
    boundary: Mapped[str] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    seat: Mapped[str | None] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    # Geodesic (on the WGS-84 spheroid), computed by PostgreSQL whenever the boundary is written.
    area_km2: Mapped[float] = mapped_column(Double, Computed("ST_Area(boundary::geography) / 1e6", persisted=True))
    population: Mapped[int | None] = mapped_column(BigInteger)
    population_source: Mapped[str | None] = mapped_column(Text)
    # Set by trigger: the SRID of an equal-area projection centred on the region (see migration 0002).
    equal_area_srid: Mapped[int | None] = mapped_column(Integer, unique=True)
    # Goes up with every visible change (by trigger, migration 0013): answers kept for a region name it.
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class RegionChange(Base):
    """One change to one region, written by trigger: who, when, before/after, and the outline it replaced."""

    __tablename__ = "region_changes"
    __table_args__ = (CheckConstraint("action IN ('created', 'updated', 'deleted', 'replaced')", name="action_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    adcode: Mapped[str] = mapped_column(String(6), index=True)
    action: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    actor: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Only when the outline changed: the outline of each version is the next change's, or the region's own.
    boundary_before: Mapped[str | None] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    txid: Mapped[int] = mapped_column(Xid8(), server_default=text("pg_current_xact_id()"))
    # Only when `replaced`: the region that took this one's place under a new code.
    replaced_by: Mapped[str | None] = mapped_column(String(6))


class RegionReplacement(Base):
    """A retired code and the region that replaced it (撤县设区 with a new adcode): answers for the old code name the
    new one (migration 0015)."""

    __tablename__ = "region_replacements"
    __table_args__ = (CheckConstraint("replaced_by <> adcode", name="not_itself"),)

    adcode: Mapped[str] = mapped_column(String(6), primary_key=True)
    # No foreign key: the successor may be replaced in its turn (a chain), and a retired code outlives its region.
    replaced_by: Mapped[str] = mapped_column(String(6))
    replaced_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    txid: Mapped[int] = mapped_column(Xid8(), server_default=text("pg_current_xact_id()"))


class RegionOutline(Base):
    """A region's boundary in Web Mercator simplified for one zoom of the map (app.tiles), written by trigger
    whenever the boundary is (migration 0017)."""

    __tablename__ = "region_outlines"

    adcode: Mapped[str] = mapped_column(
        String(6), ForeignKey("regions.adcode", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    zoom: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    outline: Mapped[str] = mapped_column(Geometry("MULTIPOLYGON", srid=3857, spatial_index=False))
