"""Request and response shapes of reports."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.formats.text import MULTILINE
from app.geo import CoordSys, Latitude, Longitude
from app.sites.fields import Url
from app.sites.schemas import SiteFields
from app.visits.schemas import DoorTokenText
from app.vocabularies.closed import ReportStatus, ReportType

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), MULTILINE]
Resolution = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), MULTILINE]


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ReportType
    note: Note | None = None
    photo_url: Url | None = None
    lat: Latitude | None = Field(default=None, description="Where the reporter is")
    lon: Longitude | None = None
    coordsys: CoordSys = CoordSys.wgs84
    token: DoorTokenText | None = Field(
        default=None,
        description="The site's door token (its QR code), as the door page sends it: the report is then marked "
        "`from_door`; a token not the site's current one (forged, rotated) is refused",
    )

    @model_validator(mode="after")
    def _a_point_or_none(self) -> "ReportIn":
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self


class ReportResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal[ReportStatus.accepted, ReportStatus.rejected]
    resolution: Resolution | None = None
    site: SiteFields | None = Field(
        default=None,
        description="Changes to make to the site when accepting (default: closed → closed, needs_app → access app)",
    )


class Filed(BaseModel):
    """A report as filed: new, or merged into the same client's open report of the same type."""

    id: int
    site_id: int
    type: ReportType
    status: ReportStatus
    times_reported: int
    created_at: dt.datetime
    last_reported_at: dt.datetime
    from_door: bool = Field(description="Filed, or repeated, with the site's current door token")
    created: bool = Field(description="true: a new report")
    merged: bool = Field(description="true: a repeat, counted in times_reported of the open report")


class Report(BaseModel):
    id: int
    site_id: int
    site_name: str
    site_kind: str
    type: ReportType
    note: str | None
    photo_url: str | None
    reporter_lon: float | None
    reporter_lat: float | None
    times_reported: int
    status: ReportStatus
    created_at: dt.datetime
    last_reported_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: str | None
    resolution: str | None
    from_door: bool = Field(
        description="Filed, or repeated, with the site's current door token, as the door page sends it (whoever has "
        "seen the token can send it until it is rotated)"
    )
    due_on: dt.date = Field(description="3 days after it was filed (China date), as a call-back's")


class ReportPage(BaseModel):
    items: list[Report]
    next_cursor: str | None
