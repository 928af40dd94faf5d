"""Road networks and their edges (migration 0008 says what a cost of -1 means)."""

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base


class RoadNetwork(Base):
    __tablename__ = "road_networks"
    __table_args__ = (Index("ix_road_networks_hull", "hull", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    source_file: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(Text)
    extract_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attribution: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    nodes: Mapped[int] = mapped_column(Integer)
    edges: Mapped[int] = mapped_column(Integer)
    hull: Mapped[str] = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False))


class RoadEdge(Base):
    __tablename__ = "road_edges"
    __table_args__ = (Index("ix_road_edges_geom", "geom", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("road_networks.id", ondelete="CASCADE"), index=True)
    source: Mapped[int] = mapped_column(BigInteger)
    target: Mapped[int] = mapped_column(BigInteger)
    osm_way_id: Mapped[int] = mapped_column(BigInteger)
    highway: Mapped[str] = mapped_column(Text)
    length_m: Mapped[float] = mapped_column(Float)
    walk_s: Mapped[float] = mapped_column(Float)
    walk_reverse_s: Mapped[float] = mapped_column(Float)
    ebike_s: Mapped[float] = mapped_column(Float)
    ebike_reverse_s: Mapped[float] = mapped_column(Float)
    car_s: Mapped[float] = mapped_column(Float)
    car_reverse_s: Mapped[float] = mapped_column(Float)
    geom: Mapped[str] = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=False))
