"""Response shapes of the sites API (documentation of the contract; handlers render with orjson)."""

import datetime as dt

from pydantic import BaseModel, Field


class NearestSite(BaseModel):
    id: int
    kind: str
    name: str
    address: str | None
    lat: float
    lon: float
    distance_m: float = Field(description="Geodesic distance on the WGS-84 spheroid, metres")
    amenities: list[str]


class NearestSites(BaseModel):
    items: list[NearestSite]


class Site(BaseModel):
    id: int
    kind: str
    name: str
    address: str | None
    lat: float
    lon: float
    region_adcode: str | None = Field(description="Derived from the location by the region boundaries")
    operator: str | None
    phone: str | None
    keeper: str | None
    opening_hours: str | None = Field(description="OpenStreetMap opening_hours syntax")
    access: str
    access_note: str | None
    amenities: list[str]
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
