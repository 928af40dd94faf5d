"""Each site's current door token (the QR code's): a rotated token is replaced, so the old one stops working."""

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base


class SiteDoorToken(Base):
    __tablename__ = "site_door_tokens"

    site_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    # 128 random bits: what a visit, a rating or a report from the door carries to show the worker stood there.
    token: Mapped[str] = mapped_column(Text, unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
