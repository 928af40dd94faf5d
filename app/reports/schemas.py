"""Request shapes of reports."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.sites.schemas import SiteFields

ReportType = Literal["closed", "locked", "needs_app", "moved", "wrong_location", "amenity_missing", "other"]


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ReportType
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] | None = None
    photo_url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2000)] | None = None
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False, description="Where the reporter is")
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    coordsys: Literal["wgs84", "gcj02", "bd09"] = "wgs84"


class ReportResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted", "rejected"]
    resolution: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None
    site: SiteFields | None = Field(
        default=None,
        description="Changes to make to the site when accepting (default: closed → closed, needs_app → access app)",
    )
