"""Request and response shapes of the coverage API."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from app import geo
from app.api.parameters import IsoDate
from app.coverage.parameters import WhatIfMinSites, WhatIfRadius
from app.coverage.siting import MAX_SUGGESTIONS
from app.geo import CoordSys, Latitude, Longitude
from app.regions.adcode import ADCODE_PATTERN


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: tuple[Longitude, Latitude]


class PointFeature(BaseModel):
    type: Literal["Feature"]
    geometry: PointGeometry


class PointCollection(BaseModel):
    """GeoJSON FeatureCollection of candidate points, WGS-84 [lon, lat]."""

    type: Literal["FeatureCollection"]
    features: list[PointFeature] = Field(min_length=1, max_length=10_000)


class SuggestRequest(BaseModel):
    region: str = Field(pattern=ADCODE_PATTERN, description="Region adcode (a county, or a city: all its counties)")
    kind: str = "legal_aid"
    count: int = Field(ge=1, le=MAX_SUGGESTIONS, description="How many new sites to place")
    candidates: PointCollection | None = Field(
        default=None, description="Where sites could go; default: centroids of the uncovered 1 km population cells"
    )
    radius_m: WhatIfRadius | None = Field(default=None, description="What-if radius")
    min_sites: WhatIfMinSites | None = Field(
        default=None, description="What-if: sites a place must be reached by (2: 交叉覆盖)"
    )
    as_of: IsoDate | None = None
    coordsys: CoordSys = Field(default=CoordSys.wgs84, description="Datum of the candidates and the suggestions")

    def candidates_wgs84(self) -> list[tuple[float, float]]:
        """The candidates' (lon, lat) in WGS-84 (an empty list when none are given)."""
        points = [f.geometry.coordinates for f in self.candidates.features] if self.candidates is not None else []
        if self.coordsys == CoordSys.wgs84:
            return [(lon, lat) for lon, lat in points]
        return [geo.to_wgs84(lon, lat, self.coordsys) for lon, lat in points]


# --- answers ----------------------------------------------------------------------------------------------------


class NetworkUsed(BaseModel):
    name: str
    source_file: str
    extract_date: dt.datetime | None
    attribution: str
    share_of_region: float = Field(description="Share of the region's area within the network's extent")


class RuleApplied(BaseModel):
    type: Literal["radius", "travel_time"]
    radius_m: float = Field(description="The distance a place may be from a site and count as covered")
    travel_minutes: int | None
    assumed_speed_kmh: float | None
    mode: Literal["walk", "ebike", "car"] | None = Field(description="The travel mode of a travel-time rule")
    min_sites: int = Field(description="Sites a place must be within reach of to count as covered (2: 交叉覆盖)")
    method: str = Field(
        description="How the rule was evaluated: 'road network: <source>, <date>, <mode>' (with its share of the "
        "region when the network covers part of it), 'radius = minutes × assumed speed (no road network loaded)' "
        "or 'radius'"
    )
    approximation: str | None = Field(description="How a travel time became a radius, when it did")
    network: NetworkUsed | None = Field(description="The road network travelled on, with its attribution")
    scope: Literal["region", "urban_district_default", "default", "query"]
    note: str | None


class PerChildRule(BaseModel):
    type: Literal["per_child_region"]
    children: dict[str, str] = Field(description="Child adcode → its rule, in short")


class WorstServed(BaseModel):
    lat: float
    lon: float
    distance_m: float = Field(
        description="Geodesic distance to the site serving it: the k-th nearest (k = min_sites), or on a road "
        "network the k-th quickest"
    )
    nearest_site_id: int = Field(description="That site")
    travel_time_s: float | None = Field(
        default=None, description="On a road network: travel time to the k-th quickest site (null: beyond the search)"
    )
    method: str = Field(description="How the spot was found: exactly, or among which points")


class CoverageRow(BaseModel):
    adcode: str
    name: str
    is_urban_district: bool
    rule: RuleApplied | PerChildRule
    rule_label: str
    method: str = Field(description="How the rule was evaluated (see RuleApplied.method)")
    area_km2: float
    covered_area_km2: float
    covered_area_share: float | None
    population: int | None
    population_source: str | None
    covered_population: float | None = Field(description="Modelled: people in the covered population cells")
    covered_population_share: float | None
    site_count: int
    worst_served: WorstServed | None


class RegionCoverage(CoverageRow):
    kind: str
    as_of: dt.date


class ChildCoverage(BaseModel):
    kind: str
    as_of: dt.date
    items: list[CoverageRow]


class NearestServing(BaseModel):
    id: int
    distance_m: float
    travel_time_s: float | None = Field(default=None, description="Door to door, on a road network")


class PointCoverage(BaseModel):
    kind: str
    as_of: dt.date
    region: str
    rule: RuleApplied
    method: str = Field(description="Door to door on a road network, or geodesic distance within the radius")
    covered: bool
    sites_reaching: int = Field(description="Sites within reach, counted up to the rule's min_sites")
    nearest_site: NearestServing | None


class GapProperties(BaseModel):
    region: str
    area_km2: float
    population: int | None


class GapFeature(BaseModel):
    type: Literal["Feature"]
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon")
    properties: GapProperties


class Gaps(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[GapFeature]
    kind: str
    as_of: dt.date
    min_gap_area_km2: float
    methods: dict[str, str] = Field(description="Per region (adcode): how its rule was evaluated")


class CoveredTotals(BaseModel):
    covered_area_km2: float
    covered_population: int
    covered_population_share: float | None


class Suggestion(BaseModel):
    rank: int
    lat: float
    lon: float
    region: str | None
    gain_population: int
    gain_area_km2: float


class Suggestions(BaseModel):
    region: str
    kind: str
    as_of: dt.date
    rules: dict[str, RuleApplied]
    method: str
    candidate_source: str
    candidates_considered: int
    before: CoveredTotals
    after: CoveredTotals
    suggestions: list[Suggestion]
