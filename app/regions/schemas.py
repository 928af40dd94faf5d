"""Response shapes of the regions API."""

from typing import Any

from pydantic import BaseModel, Field

from app.vocabularies.closed import RegionLevel


class Region(BaseModel):
    adcode: str
    name: str
    level: RegionLevel
    parent_adcode: str | None
    is_urban_district: bool = Field(description="市辖区: the 2 km legal-aid rule applies")
    population: int | None
    population_source: str | None
    area_km2: float = Field(description="Geodesic area of the boundary")


class RegionList(BaseModel):
    items: list[Region]


class RegionDetail(Region):
    boundary: dict[str, Any] = Field(description="GeoJSON MultiPolygon, WGS-84")
    seat: dict[str, Any] | None = Field(description="GeoJSON Point of the seat of government")
