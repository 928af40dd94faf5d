"""Visits (raw, in monthly partitions), their daily counts per site and worker group, each site's hour-of-day
profile, and the daily salt of client hashes. The partitioned table is made by migration 0022 (its partitions by
site_visits_make_partitions)."""

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base, one_of
from app.vocabularies.closed import WorkerGroup

WORKER_GROUP_KNOWN = f"worker_group IS NULL OR {one_of('worker_group', WorkerGroup)}"


class SiteVisit(Base):
    __tablename__ = "site_visits"
    __table_args__ = (
        CheckConstraint(WORKER_GROUP_KNOWN, name="worker_group_known"),
        CheckConstraint("hour = date_trunc('hour', hour)", name="hour_whole"),
        {"postgresql_partition_by": "RANGE (hour)"},
    )

    site_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The clock hour of the visit: one client counts once per site and hour (the key), and the partition key.
    hour: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    # 16 bytes of a keyed hash of the client under the day's salt; the salt is destroyed after its day.
    client: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    worker_group: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SiteVisitDay(Base):
    __tablename__ = "site_visit_days"
    __table_args__ = (
        CheckConstraint(WORKER_GROUP_KNOWN, name="worker_group_known"),
        CheckConstraint("visits > 0", name="visits_positive"),
        Index(
            "uq_site_visit_days_site_day_group",
            "site_id",
            "day",
            "worker_group",
            unique=True,
            postgresql_nulls_not_distinct=True,
            postgresql_include=["visits"],
        ),
    )

    # No primary key: a visit without a worker group counts under NULL, which the unique index treats as one value.
    site_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    worker_group: Mapped[str | None] = mapped_column(Text)
    visits: Mapped[int] = mapped_column(Integer)


class SiteHourProfile(Base):
    """How busy a site usually is at each hour of the day: visits at that hour, each weighted down exponentially
    with its age (app.visits.service.PROFILE_TAU_DAYS), so the profile follows the station's recent weeks."""

    __tablename__ = "site_hour_profiles"
    __table_args__ = (CheckConstraint("hour_of_day BETWEEN 0 AND 23", name="hour_of_day_range"),)

    site_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hour_of_day: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    weight: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class VisitSalt(Base):
    __tablename__ = "visit_salts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)


class RegionStationRules(Base):
    """A region's station rules where they differ from the defaults; a region without one follows its nearest
    ancestor's."""

    __tablename__ = "region_station_rules"
    __table_args__ = (
        CheckConstraint("idle_below_visits >= 0", name="idle_not_negative"),
        CheckConstraint("inspection_interval_months BETWEEN 1 AND 60", name="interval_range"),
    )

    adcode: Mapped[str] = mapped_column(String(6), ForeignKey("regions.adcode", ondelete="CASCADE"), primary_key=True)
    # A station with fewer visits than this in the last 30 days is idle (the planner's "move or close?" list).
    idle_below_visits: Mapped[int | None] = mapped_column(Integer)
    inspection_interval_months: Mapped[int | None] = mapped_column(Integer)
