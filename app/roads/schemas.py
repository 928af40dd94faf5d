"""HTTP shapes of the road networks' answers."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class NetworkSource(BaseModel):
    name: str
    source_file: str = Field(description="The OpenStreetMap extract it was imported from")
    extract_date: datetime | None = Field(description="The extract's timestamp (its newest way where it has none)")
    attribution: str = Field(description="Show it with every result drawn from the network (ODbL)")


class Start(BaseModel):
    lat: float
    lon: float
    off_road_m: float = Field(description="Walked (at walking speed) from the point to the nearest usable road")


class RingProperties(BaseModel):
    minutes: float
    area_km2: float
    road_km: float = Field(description="Length of road reached")
    edges_reached: int


class Ring(BaseModel):
    type: Literal["Feature"]
    geometry: dict[str, Any] | None = Field(description="Polygon or MultiPolygon; null when nothing is reached")
    properties: RingProperties


class Isochrones(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[Ring] = Field(description="One ring per `minutes` value, the shortest first")
    mode: str
    method: str = Field(description="How the rings were made: the network, its date, the mode")
    network: NetworkSource
    start: Start
    off_road_reach_m: float = Field(description="How far either side of a reached road a ring extends")


class NearestTravel(BaseModel):
    """How `travel_time_s` was measured (GET /v1/sites/nearest with `mode`)."""

    mode: str
    method: str
    network: NetworkSource
    off_road_m: float = Field(description="From the query point to the road it joins")
    complete: bool = Field(
        description="false: the 1,024 nearest sites by distance held fewer reachable ones than asked (the answer "
        "lists those, quickest first)"
    )
