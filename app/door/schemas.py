"""Response shape of a door token."""

import datetime as dt

from pydantic import BaseModel, Field


class DoorToken(BaseModel):
    site_id: int
    token: str = Field(description="What the QR code carries; a rotated token is refused")
    url: str = Field(description="The short URL the QR code encodes")
    issued_at: dt.datetime
