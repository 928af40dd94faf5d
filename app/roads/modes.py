"""Travel modes: which OpenStreetMap ways each may use, in which direction, and how fast.

Each mode's cost of an edge is its geodesic length over the mode's speed on that way, in seconds, along the way
and against it; a way the mode may not use, or may not use in that direction, costs -1 (pgRouting's "no way").

- walk: 4.5 km/h on every way but motorways and ways closed to pedestrians; one-way streets are walked both ways.
  The national standard for outdoor workers' stations is a 15-minute walk (about 1 km).
- ebike: 15 km/h, the speed the radius rules assume (30 min × 15 km/h = 7.5 km), on roads, cycleways and tracks,
  not motorways, trunk roads, footways or steps unless tagged for bicycles; keeps to one-way streets unless
  `oneway:bicycle=no`.
- car: a speed by road class (CAR_KMH), capped by `maxspeed` where tagged; keeps to one-way streets.

Off the network (from a point to the nearest road, at most SNAP_M away) every mode walks.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    walk = "walk"
    ebike = "ebike"
    car = "car"

    @property
    def label(self) -> str:
        return {"walk": "步行 walking", "ebike": "电动自行车 e-bike", "car": "汽车 car"}[self.value]


WALK_KMH = 4.5
EBIKE_KMH = 15.0
SNAP_M = 500.0  # a point further than this from every road does not join the network
OFF_ROAD_REACH_M = 50.0  # an isochrone covers this far either side of the roads it reaches

CAR_KMH: Mapping[str, float] = {
    "motorway": 100, "motorway_link": 60, "trunk": 70, "trunk_link": 50, "primary": 50, "primary_link": 40,
    "secondary": 40, "secondary_link": 35, "tertiary": 35, "tertiary_link": 30, "unclassified": 30,
    "residential": 25, "road": 25, "service": 15, "living_street": 10,
}  # fmt: skip
# Not ways to travel on: planned, being built, gone, or not a way at all.
NOT_ROADS = frozenset({"proposed", "construction", "abandoned", "disused", "razed", "platform", "bus_stop", "raceway",
                       "rest_area", "services", "elevator", "emergency_bay", "escape"})  # fmt: skip
MOTORWAYS = frozenset({"motorway", "motorway_link"})
NO_EBIKE = MOTORWAYS | {"trunk", "trunk_link", "footway", "pedestrian", "steps", "path", "bridleway", "corridor"}
NO = frozenset({"no", "private"})
YES = frozenset({"yes", "designated", "permissive", "destination"})


def top_kmh(mode: Mode) -> float:
    """No way is travelled faster: the bound that makes the nearest-by-time search exact."""
    return {Mode.walk: WALK_KMH, Mode.ebike: EBIKE_KMH, Mode.car: max(CAR_KMH.values())}[mode]


@dataclass(frozen=True)
class Way:
    """What the modes read of an OSM way's tags."""

    tags: Mapping[str, str]

    @property
    def highway(self) -> str:
        return self.tags.get("highway", "")

    def oneway(self, mode: Mode) -> int:
        """1: only along the way as drawn, -1: only against it, 0: both ways."""
        if mode is Mode.walk:
            value = self.tags.get("oneway:foot", "")  # a street's one-way sign is not for pedestrians
            if not value:
                return 0
        elif mode is Mode.ebike:
            value = self.tags.get("oneway:bicycle") or self.tags.get("oneway", "")
        else:
            value = self.tags.get("oneway", "")
        if value == "no":
            return 0
        if value in {"yes", "true", "1"} or (not value and self.tags.get("junction") in {"roundabout", "circular"}):
            return 1
        return -1 if value == "-1" else 0

    def kmh(self, mode: Mode) -> float | None:
        """The mode's speed on this way; None where it may not go."""
        tags, highway = self.tags, self.highway
        if not highway or highway in NOT_ROADS or tags.get("area") == "yes":
            return None
        closed = tags.get("access") in NO
        if mode is Mode.walk:
            foot = tags.get("foot")
            if foot in NO or (foot not in YES and (highway in MOTORWAYS or closed)):
                return None
            return WALK_KMH
        if mode is Mode.ebike:
            bicycle = tags.get("bicycle")
            if bicycle in NO or (bicycle not in YES and (highway in NO_EBIKE or closed)):
                return None
            return EBIKE_KMH
        if highway not in CAR_KMH or closed or tags.get("motor_vehicle") in NO or tags.get("motorcar") in NO:
            return None
        limit = maxspeed_kmh(tags.get("maxspeed", ""))
        return min(CAR_KMH[highway], limit) if limit else CAR_KMH[highway]


def maxspeed_kmh(value: str) -> float | None:
    """`maxspeed` in km/h: "50", "30 mph"; None for what is not a number ("signals", "none", "CN:urban")."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*", value)
    if found is None:
        return None
    speed = float(found.group(1))
    return speed * 1.609344 if found.group(2) == "mph" else speed


def costs(way: Way, length_m: float) -> dict[str, float]:
    """Seconds along and against the way for each mode (-1: not that way), as road_edges stores them."""
    found: dict[str, float] = {}
    for mode in Mode:
        kmh = way.kmh(mode)
        seconds = length_m / (kmh / 3.6) if kmh else -1.0
        oneway = way.oneway(mode)
        found[f"{mode}_s"] = seconds if oneway >= 0 else -1.0
        found[f"{mode}_reverse_s"] = seconds if oneway <= 0 else -1.0
    return found
