"""API keys of partner systems."""

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base
from app.vocabularies.closed import Scope


class ApiKey(Base):
    """A partner's key: only its SHA-256 is stored (keys are 256-bit random tokens, so a fast hash is enough)."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            f"scopes <@ ARRAY[{', '.join(repr(s.value) for s in Scope)}]::text[] AND cardinality(scopes) > 0",
            name="scopes_known",
        ),
        CheckConstraint(r"region_prefix IS NULL OR region_prefix ~ '^[0-9]{2,6}$'", name="region_prefix_format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # An adcode prefix ("3716" = Binzhou): the key may write only sites in regions under it.
    region_prefix: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
