"""Workers' reports that a site is closed, locked, moved … : a review queue, and a weight on the site's ranking."""

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base, one_of
from app.vocabularies.closed import ReportStatus, ReportType


class SiteReport(Base):
    __tablename__ = "site_reports"
    __table_args__ = (
        CheckConstraint(one_of("type", ReportType), name="type_known"),
        CheckConstraint(one_of("status", ReportStatus), name="status_known"),
        CheckConstraint("times_reported >= 1", name="times_positive"),
        # One open report per site, type and client: a repeat is merged into it (times_reported + 1).
        Index(
            "uq_site_reports_open_per_client",
            "site_id",
            "type",
            "client",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_site_reports_open_site", "site_id", postgresql_where=text("status = 'open'")),
        Index("ix_site_reports_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    site_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sites.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    photo_url: Mapped[str | None] = mapped_column(Text)
    reporter_lon: Mapped[float | None] = mapped_column(Double)
    reporter_lat: Mapped[float | None] = mapped_column(Double)
    # A hash of the reporting client (address, or key prefix): merges repeats, identifies no one.
    client: Mapped[str] = mapped_column(Text)
    times_reported: Mapped[int] = mapped_column(Integer, server_default="1")
    status: Mapped[str] = mapped_column(Text, server_default="open")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_reported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    # Filed (or repeated) with the site's current door token: the reporter stood at the door.
    from_door: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
