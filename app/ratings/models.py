"""Ratings, each site's running totals, the rating salts, and the call-backs bad ratings open."""

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base, one_of
from app.vocabularies.closed import CallbackReason, CallbackStatus, RatingTag


class SiteRating(Base):
    __tablename__ = "site_ratings"
    __table_args__ = (
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),
        CheckConstraint(f"tags <@ ARRAY[{', '.join(repr(t.value) for t in RatingTag)}]::text[]", name="tags_known"),
        CheckConstraint("char_length(comment) <= 500", name="comment_length"),
        Index("ix_site_ratings_current_site_client", "site_id", "client", postgresql_where=text("replaced_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sites.id", ondelete="CASCADE"))
    # A keyed hash of the client under the rating period's salt (app.ratings.service): finds its earlier rating.
    client: Mapped[bytes] = mapped_column(LargeBinary)
    stars: Mapped[int] = mapped_column(SmallInteger)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    comment: Mapped[str | None] = mapped_column(Text)
    comment_hidden_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    comment_hidden_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set when the same client rates the site again within 30 days: the rating no longer counts.
    replaced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class SiteRatingTotals(Base):
    """Each site's current ratings summed, kept with every rating, for the mean on every answer that shows it."""

    __tablename__ = "site_rating_totals"
    __table_args__ = (CheckConstraint("ratings >= 0 AND stars >= 0", name="not_negative"),)

    site_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    ratings: Mapped[int] = mapped_column(Integer)
    stars: Mapped[int] = mapped_column(Integer)
    # Σ stars²: with Σ stars, the spread of the site's ratings that its ranking score needs (app.ratings.service).
    stars_squared: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class RatingSalt(Base):
    __tablename__ = "rating_salts"

    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)


class SiteCallback(Base):
    __tablename__ = "site_callbacks"
    __table_args__ = (
        CheckConstraint(one_of("reason", CallbackReason), name="reason_known"),
        CheckConstraint(one_of("status", CallbackStatus), name="status_known"),
        Index("ix_site_callbacks_open_due", "due_on", "site_id", postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    rating_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("site_ratings.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    due_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text, server_default="open")
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(Text)
