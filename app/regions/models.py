"""Administrative regions (country / province / city / county) with their boundaries and census population."""

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Boolean, CheckConstraint, Computed, Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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
