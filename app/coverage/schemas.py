"""Request shapes of the coverage API."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.coverage.service import MAX_RULE_RADIUS_M, MAX_SUGGESTIONS
from app.geo import CoordSys

Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


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
    region: str = Field(pattern=r"^[0-9]{6}$", description="Region adcode (a county, or a city: all its counties)")
    kind: str = "legal_aid"
    count: int = Field(ge=1, le=MAX_SUGGESTIONS, description="How many new sites to place")
    candidates: PointCollection | None = Field(
        default=None, description="Where sites could go; default: centroids of the uncovered 1 km population cells"
    )
    radius_m: float | None = Field(default=None, gt=0, le=MAX_RULE_RADIUS_M, description="What-if radius")
    as_of: dt.date | None = None
    coordsys: CoordSys = Field(default=CoordSys.wgs84, description="Datum of the candidates and the suggestions")
