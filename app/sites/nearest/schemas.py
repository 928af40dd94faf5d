"""Query and answer of GET /v1/sites/nearest."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from app import geo
from app.api.parameters import Instant, VocabularyCode
from app.roads.modes import Mode
from app.roads.schemas import NearestTravel
from app.sites.schemas import SiteSummary, WorkerView
from app.vocabularies.closed import AccessMode


class NearestQuery(BaseModel):
    """Query of GET /v1/sites/nearest (parsed by app.api.query.query_model: one validation pass on the hot path)."""

    model_config = ConfigDict(extra="ignore")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude, degrees")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude, degrees")
    kind: list[VocabularyCode] | None = Field(default=None, description="Site kind; repeat for several")
    # A factory, not `default=[]`: pydantic deep-copies a mutable default on every validation.
    amenity: list[VocabularyCode] = Field(
        default_factory=list, description="Required amenity; repeat: all must be present"
    )
    limit: int = Field(default=10, ge=1, le=100)
    max_distance_m: float = Field(
        default=geo.DEFAULT_SEARCH_RADIUS_M,
        ge=geo.MIN_RADIUS_M,
        le=geo.MAX_SEARCH_RADIUS_M,
        allow_inf_nan=False,
        description="Search radius, metres",
    )
    coordsys: geo.CoordSys = Field(default=geo.CoordSys.wgs84, description="Datum of lat/lon in and out")
    open_now: bool | None = Field(default=None, description="true: only sites open at `at`; false: only closed ones")
    at: Instant | None = Field(default=None, description="When (ISO 8601; no offset means China time); default now")
    min_rating: float | None = Field(
        default=None,
        ge=1,
        le=5,
        allow_inf_nan=False,
        description="Only sites whose workers' mean rating is at least this",
    )
    min_star: int | None = Field(default=None, ge=1, le=5, description="Only sites of at least this star level")
    mode: Mode | None = Field(
        default=None,
        description="Order by travel time on the road network with this mode (each item gets travel_time_s); "
        "only where a network is loaded",
    )


class NearestSite(SiteSummary, WorkerView):
    distance_m: float = Field(description="Geodesic distance on the WGS-84 spheroid, metres")
    travel_time_s: float | None = Field(
        default=None, description="With `mode`: seconds on the road network, walks to and from the roads included"
    )
    access: AccessMode
    access_note: str | None
    last_verified_at: dt.datetime | None


class NearestSites(BaseModel):
    items: list[NearestSite]
    travel: NearestTravel | None = Field(default=None, description="With `mode`: how travel_time_s was measured")
