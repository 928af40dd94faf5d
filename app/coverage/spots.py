"""The worst-served spot of a region under a single radius (SPEC §6): the point farthest from every site a search
reached, found in the region's plane (app.coverage.planar.farthest_from_sites) from what the search statements name
(app.coverage.repository: the region in its plane, the sites' ids, points and WGS-84 positions)."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np
from numpy.typing import NDArray

from app import geo
from app.coverage import planar, planes


@dataclass(frozen=True)
class Spot:
    """A region's worst-served spot (WGS-84), its planar distance to the nearest site the search reached, and the
    site geodesically nearest it among those (as app.sites.nearest finds it; ties: the lower id) with that distance:
    the nearest of all when the planar distance proves the search (within it by the planar margin), since the
    spot's planar-nearest site is then geodesically nearer than the search distance."""

    lon: float
    lat: float
    planar_m: float
    nearest: tuple[int, float]


async def worst_spots(searched: Sequence[asyncpg.Record]) -> list[Spot | None]:
    """Each search's spot (None: it reached no site). A few milliseconds of GEOS for a batch of regions: in a
    thread, off the event loop (GEOS runs without the GIL)."""
    points = [(_floats(row["xs"]), _floats(row["ys"])) for row in searched]
    asked = [(row["region_plane"], x, y) for row, (x, y) in zip(searched, points, strict=True)]
    found = await asyncio.to_thread(planar.farthest_from_sites_each, asked)
    return [
        None if far is None else _spot(row, x, y, far) for row, (x, y), far in zip(searched, points, found, strict=True)
    ]


def _floats(values: list[float] | None) -> NDArray[np.float64]:
    return np.asarray(values or [], dtype=np.float64)


def _spot(row: asyncpg.Record, x: NDArray[np.float64], y: NDArray[np.float64], far: planar.Farthest) -> Spot:
    lon, lat = planes.from_plane(row["plane"]).transform(far.x, far.y)
    # The geodesically nearest site is among those this near in the plane: planar distances are within the planar
    # margin of geodesic ones.
    near = np.hypot(x - far.x, y - far.y) <= far.distance * (1 + geo.PLANAR_MARGIN) / (1 - geo.PLANAR_MARGIN)
    ids = np.asarray(row["ids"])[near]
    lons, lats = _floats(row["lons"])[near], _floats(row["lats"])[near]
    distances = geo.GEOD.inv(np.full(len(ids), lon), np.full(len(ids), lat), lons, lats)[2]
    distance_m, site_id = min(zip(distances.tolist(), ids.tolist(), strict=True))
    return Spot(float(lon), float(lat), far.distance, (int(site_id), float(distance_m)))
