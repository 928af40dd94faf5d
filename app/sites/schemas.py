"""Response shapes of the sites API (documentation of the contract; handlers render with orjson)."""

import datetime as dt
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app import geo, hours, text
from app.parameters import Instant, IsoDate
from app.sites import trust
from app.vocabularies.closed import AccessMode, SiteStatus, VerificationMethod


class SiteSummary(BaseModel):
    """What every answer says about a site."""

    id: int
    kind: str
    name: str
    address: str | None
    lat: float
    lon: float
    amenities: list[str]


class Site(SiteSummary):
    region_adcode: str | None = Field(description="Derived from the location by the region boundaries")
    operator: str | None
    phone: str | None
    keeper: str | None
    opening_hours: str | None = Field(description="OpenStreetMap opening_hours syntax")
    access: AccessMode
    access_note: str | None
    services: list[str]
    worker_groups: list[str]
    status: SiteStatus
    opened_on: dt.date | None
    closed_on: dt.date | None
    rating: str | None
    photos: list[str]
    source: str
    external_id: str | None
    last_verified_at: dt.datetime | None
    verified_by: VerificationMethod | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class NavigationLinks(BaseModel):
    amap: str = Field(description="Amap URI (GCJ-02 inside, as Amap wants)")
    geo: str = Field(description="RFC 5870 geo: URI, WGS-84")


class WorkerView(BaseModel):
    """What a worker needs of a site beyond its record, at the answer's instant (app.sites.worker_view)."""

    open_now: bool | None = Field(
        description="null when the site has no opening hours; false, whatever its hours, when it is not serving "
        "today (suspended, closed, or outside opened_on–closed_on)"
    )
    opens_at: dt.datetime | None = Field(description="The next opening, when closed (null: not within a week)")
    closes_at: dt.datetime | None = Field(description="The next closing, when open (null: not within a week)")
    trust: list[str] = Field(
        description=f"{trust.REPORTED_FLAG} (unreviewed report of closed/locked/app-only/moved), "
        f"{trust.UNVERIFIED_FLAG} (over {trust.UNVERIFIED_AFTER_DAYS} days): such sites rank after equally near "
        "trustworthy ones"
    )
    links: NavigationLinks


class SiteForWorker(Site, WorkerView):
    """GET /v1/sites/{id}: the record, and the open status, trust and links as the nearest answer gives them."""


class SitePage(BaseModel):
    items: list[Site]
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last page")


# --- writes ---------------------------------------------------------------------------------------------------

# Text as the register stores it: trimmed, bounded, and visible (app.text: no control, bidi or zero-width characters).
MAX_LIST = 50  # amenities, services, worker groups, photos: a site has a handful
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), text.ONE_LINE]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), text.ONE_LINE]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50), text.ONE_LINE]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), text.URL]


def matching_key(value: str) -> str:
    """A source or an external id as the register matches it: NFKC, so that the full-width ＤＵＰ a Chinese input
    method types and DUP are one id, and trimmed."""
    return unicodedata.normalize("NFKC", value).strip()


Source = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    text.ONE_LINE,
    AfterValidator(matching_key),
]
ExternalId = Annotated[Name, AfterValidator(matching_key)]


# Fields every site has: a request may change them, never send them as null.
NOT_NULL = ("kind", "name", "lat", "lon", "access", "status", "amenities", "services", "worker_groups", "photos")


class SiteFields(BaseModel):
    """What a partner may set on a site (the register derives region, timestamps and version itself)."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = None
    name: Name | None = None
    address: Text | None = None
    lat: geo.Latitude | None = None
    lon: geo.Longitude | None = None
    operator: Text | None = None
    phone: Phone | None = None
    keeper: Text | None = None
    opening_hours: Text | None = Field(
        default=None, description="OpenStreetMap opening_hours syntax, e.g. 'Mo-Fr 08:30-17:30; PH off'"
    )
    access: AccessMode | None = None
    access_note: Text | None = None
    amenities: Annotated[list[str], Field(max_length=MAX_LIST)] | None = None
    services: Annotated[list[Text], Field(max_length=MAX_LIST)] | None = None
    worker_groups: Annotated[list[Text], Field(max_length=MAX_LIST)] | None = None
    status: SiteStatus | None = None
    opened_on: IsoDate | None = None
    closed_on: IsoDate | None = None
    rating: Text | None = None
    photos: Annotated[list[Url], Field(max_length=MAX_LIST)] | None = None
    last_verified_at: Instant | None = None
    verified_by: VerificationMethod | None = None
    coordsys: geo.CoordSys = Field(default=geo.CoordSys.wgs84, description="Datum of lat/lon given")

    @field_validator(*NOT_NULL, mode="before")
    @classmethod
    def _not_cleared(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be changed but not cleared (null)")
        return value

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
    name: Name
    lat: geo.Latitude
    lon: geo.Longitude
    source: Source = "api"
    external_id: ExternalId | None = None


class RowOutcome(BaseModel):
    row: int = Field(description="As the file numbers it (a spreadsheet's header is row 1)")
    external_id: str | None
    outcome: Literal["created", "updated", "unchanged", "rejected"]
    site_id: int | None = None
    reasons: list[str] | None = Field(default=None, description="Why the row was rejected, each naming the field")
    warnings: list[str] | None = None


class BulkSummary(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int


class BulkReport(BaseModel):
    applied: bool = Field(description="false: nothing was written (a dry run, or rejected rows in an atomic import)")
    dry_run: bool
    atomic: bool
    summary: BulkSummary
    warnings: list[str]
    rows: list[RowOutcome]
