"""Response shapes of the sites API (documentation of the contract; handlers render with orjson)."""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app import geo


class NearestQuery(BaseModel):
    """Query of GET /v1/sites/nearest (parsed by app.query.query_model: one validation pass on the hot path)."""

    model_config = ConfigDict(extra="ignore")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude, degrees")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude, degrees")
    kind: list[str] | None = Field(default=None, description="Site kind; repeat for several")
    amenity: list[str] = Field(default=[], description="Required amenity; repeat: all must be present")
    limit: int = Field(default=10, ge=1, le=100)
    max_distance_m: float = Field(
        default=geo.DEFAULT_SEARCH_RADIUS_M,
        gt=0,
        le=geo.MAX_SEARCH_RADIUS_M,
        allow_inf_nan=False,
        description="Search radius, metres",
    )
    coordsys: Literal["wgs84", "gcj02", "bd09"] = Field(default="wgs84", description="Only wgs84 for now")
    open_now: bool | None = Field(default=None, description="Not supported yet: rejected when given")
    at: str | None = Field(default=None, description="Not supported yet: rejected when given")


class SiteSummary(BaseModel):
    """What every answer says about a site."""

    id: int
    kind: str
    name: str
    address: str | None
    lat: float
    lon: float
    amenities: list[str]


class NearestSite(SiteSummary):
    distance_m: float = Field(description="Geodesic distance on the WGS-84 spheroid, metres")


class NearestSites(BaseModel):
    items: list[NearestSite]


class Site(SiteSummary):
    region_adcode: str | None = Field(description="Derived from the location by the region boundaries")
    operator: str | None
    phone: str | None
    keeper: str | None
    opening_hours: str | None = Field(description="OpenStreetMap opening_hours syntax")
    access: str
    access_note: str | None
    services: list[str]
    worker_groups: list[str]
    status: str
    opened_on: dt.date | None
    closed_on: dt.date | None
    rating: str | None
    photos: list[str]
    source: str
    external_id: str | None
    last_verified_at: dt.datetime | None
    verified_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class SitePage(BaseModel):
    items: list[Site]
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last page")
