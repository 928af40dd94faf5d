"""GeoJSON output: one way to make a Feature and a FeatureCollection."""

from collections.abc import Iterable, Mapping
from typing import Any

MEDIA_TYPE = "application/geo+json"


def feature(geometry: Any, properties: Mapping[str, Any], id: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "Feature"}
    if id is not None:
        found["id"] = id
    found["geometry"] = geometry
    found["properties"] = dict(properties)
    return found


def point_feature(record: Mapping[str, Any], hidden: Iterable[str] = ()) -> dict[str, Any]:
    """A record with id, lat and lon as a Point Feature ([lon, lat]); its other fields, less `hidden`, as properties."""
    left_out = {"lat", "lon", *hidden}
    properties = {k: v for k, v in record.items() if k not in left_out}
    return feature({"type": "Point", "coordinates": [record["lon"], record["lat"]]}, properties, record["id"])


def feature_collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """A FeatureCollection; `members` are foreign members (next_cursor, numberMatched, links …)."""
    return {"type": "FeatureCollection", "features": features, **members}
