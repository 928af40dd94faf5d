"""Response shapes of the sites API (documentation of the contract; handlers render with orjson)."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app import geo, hours


class NearestQuery(BaseModel):
    """Query of GET /v1/sites/nearest (parsed by app.query.query_model: one validation pass on the hot path)."""

    model_config = ConfigDict(extra="ignore")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude, degrees")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude, degrees")
    kind: list[str] | None = Field(default=None, description="Site kind; repeat for several")
    # A factory, not `default=[]`: pydantic deep-copies a mutable default on every validation (~5 µs a request).
    amenity: list[str] = Field(default_factory=list, description="Required amenity; repeat: all must be present")
    limit: int = Field(default=10, ge=1, le=100)
    max_distance_m: float = Field(
        default=geo.DEFAULT_SEARCH_RADIUS_M,
        gt=0,
        le=geo.MAX_SEARCH_RADIUS_M,
        allow_inf_nan=False,
        description="Search radius, metres",
    )
    coordsys: Literal["wgs84", "gcj02", "bd09"] = Field(default="wgs84", description="Datum of lat/lon in and out")
    open_now: bool | None = Field(default=None, description="true: only sites open at `at`; false: only closed ones")
    at: dt.datetime | None = Field(default=None, description="When (ISO 8601; no offset means China time); default now")


class SiteSummary(BaseModel):
    """What every answer says about a site."""

    id: int
    kind: str
    name: str
    address: str | None
    lat: float
    lon: float
    amenities: list[str]


class NavigationLinks(BaseModel):
    amap: str = Field(description="Amap URI (GCJ-02 inside, as Amap wants)")
    geo: str = Field(description="RFC 5870 geo: URI, WGS-84")


class NearestSite(SiteSummary):
    distance_m: float = Field(description="Geodesic distance on the WGS-84 spheroid, metres")
    access: str = Field(description="open, qr_code, app or keeper_key")
    access_note: str | None
    open_now: bool | None = Field(description="null when the site has no opening hours")
    opens_at: dt.datetime | None = Field(description="The next opening, when closed")
    closes_at: dt.datetime | None = Field(description="The next closing, when open (null: not within a week)")
    last_verified_at: dt.datetime | None
    trust: list[str] = Field(
        description="reported_access_problem (unreviewed report of closed/locked/app-only/moved), "
        "not_verified_recently (over 180 days): such sites rank after equally near trustworthy ones"
    )
    links: NavigationLinks


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


# --- writes ---------------------------------------------------------------------------------------------------

Access = Literal["open", "qr_code", "app", "keeper_key"]
Status = Literal["active", "suspended", "closed"]
Verification = Literal["inspection", "phone", "partner_sync", "worker_confirmation"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SiteFields(BaseModel):
    """What a partner may set on a site (the register derives region, timestamps and version itself)."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    address: Text | None = None
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    operator: Text | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    keeper: Text | None = None
    opening_hours: Text | None = Field(
        default=None, description="OpenStreetMap opening_hours syntax, e.g. 'Mo-Fr 08:30-17:30; PH off'"
    )
    access: Access | None = None
    access_note: Text | None = None
    amenities: list[str] | None = None
    services: list[str] | None = None
    worker_groups: list[str] | None = None
    status: Status | None = None
    opened_on: dt.date | None = None
    closed_on: dt.date | None = None
    rating: Text | None = None
    photos: list[Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2000)]] | None = None
    last_verified_at: dt.datetime | None = None
    verified_by: Verification | None = None
    coordsys: Literal["wgs84", "gcj02", "bd09"] = Field(default="wgs84", description="Datum of lat/lon given")

    @field_validator("opening_hours")
    @classmethod
    def _valid_hours(cls, value: str | None) -> str | None:
        return hours.validate(value) if value is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> "SiteFields":
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        if self.opened_on and self.closed_on and self.closed_on < self.opened_on:
            raise ValueError("closed_on is before opened_on")
        return self


class SiteCreate(SiteFields):
    kind: str
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = "api"
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
