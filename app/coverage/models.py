"""Coverage rules (data, per kind and region) and the population surface coverage is weighed with."""

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, CheckConstraint, Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base


class CoverageRule(Base):
    """How far a site of `kind` serves: a radius, or a travel time by a mode (app.roads.modes) — travelled on a
    road network where one is loaded, else a radius at the assumed speed; and by how many sites a place must be
    reached to count as covered (`min_sites`, 2 for cross coverage, 交叉覆盖).

    The most specific rule wins: one for the region itself, else the default for urban districts or for the rest.
    """

    __tablename__ = "coverage_rules"
    __table_args__ = (
        CheckConstraint(
            "(radius_m IS NOT NULL) <> (travel_minutes IS NOT NULL AND assumed_speed_kmh IS NOT NULL)",
            name="radius_or_travel_time",
        ),
        CheckConstraint("radius_m IS NULL OR radius_m > 0", name="radius_positive"),
        CheckConstraint("travel_minutes IS NULL OR travel_minutes > 0", name="minutes_positive"),
        CheckConstraint("assumed_speed_kmh IS NULL OR assumed_speed_kmh > 0", name="speed_positive"),
        CheckConstraint("region_adcode IS NULL OR urban_district IS NULL", name="region_or_district_class"),
        CheckConstraint("mode IS NULL OR mode IN ('walk', 'ebike', 'car')", name="mode_known"),
        CheckConstraint("mode IS NULL OR travel_minutes IS NOT NULL", name="mode_with_travel_time"),
        CheckConstraint("min_sites >= 1", name="min_sites_positive"),
        Index(
            "uq_coverage_rules_scope",
            "kind",
            "region_adcode",
            "urban_district",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(ForeignKey("site_kinds.code"))
    region_adcode: Mapped[str | None] = mapped_column(String(6), ForeignKey("regions.adcode", ondelete="CASCADE"))
    # NULL with a region; otherwise True = the default for urban districts (市辖区), False = for the other regions.
    urban_district: Mapped[bool | None] = mapped_column(Boolean)
    radius_m: Mapped[float | None] = mapped_column(Double)
    travel_minutes: Mapped[int | None] = mapped_column(Integer)
    assumed_speed_kmh: Mapped[float | None] = mapped_column(Double)
    mode: Mapped[str | None] = mapped_column(Text)
    min_sites: Mapped[int] = mapped_column(Integer, server_default="1")
    note: Mapped[str | None] = mapped_column(Text)


class PopulationCell(Base):
    """People in a cell of a region: modelled from census totals, or a real grid loaded in the same shape."""

    __tablename__ = "population_cells"
    __table_args__ = (
        Index("ix_population_cells_centroid", "centroid", postgresql_using="gist"),
        # A region's source is the first entry of its range (migration 0016).
        Index("ix_population_cells_region_adcode_source", "region_adcode", "source"),
        CheckConstraint("population >= 0", name="population_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_adcode: Mapped[str] = mapped_column(String(6), ForeignKey("regions.adcode", ondelete="CASCADE"))
    cell: Mapped[str] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    centroid: Mapped[str] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    population: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(Text)
