"""Response shapes of OGC API - Features (the parts of its schemas this service fills)."""

from typing import Any, Literal

from pydantic import BaseModel, Field


class Link(BaseModel):
    href: str
    rel: str
    type: str
    title: str | None = None


class Landing(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]


class SpatialExtent(BaseModel):
    bbox: list[list[float]]
    crs: str


class Extent(BaseModel):
    spatial: SpatialExtent


class Collection(BaseModel):
    id: str
    title: str
    description: str
    itemType: Literal["feature"]
    crs: list[str]
    storageCrs: str
    extent: Extent
    links: list[Link]


class Collections(BaseModel):
    links: list[Link]
    collections: list[Collection]


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: tuple[float, float] = Field(description="[lon, lat], CRS84")


class MultiPolygonGeometry(BaseModel):
    type: Literal["MultiPolygon"]
    coordinates: list[list[list[tuple[float, float]]]] = Field(description="Polygons of rings of [lon, lat], CRS84")


class Feature(BaseModel):
    type: Literal["Feature"]
    id: int | str = Field(description="A site's id; a region's adcode")
    geometry: PointGeometry | MultiPolygonGeometry
    properties: dict[str, Any]
    links: list[Link] | None = None


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[Feature]
    numberMatched: int
    numberReturned: int
    links: list[Link]
