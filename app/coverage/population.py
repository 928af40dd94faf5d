"""The population surface coverage is weighed with: people per cell of a region.

No gridded population is available offline, so the demo uses a *model* of the 2020 census county totals (labelled
as such in every answer): the urban share of a county's people is spread around the county seat with an
exponential decay, the rest evenly over the land. Any other source — a real grid (WorldPop, GHS-POP) cut to the
regions — fills the same `population_cells` table through `PopulationModel`, and coverage does not change.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pyproj import Transformer
from shapely import MultiPolygon, box, make_valid, transform
from shapely.geometry.base import BaseGeometry

from app.geo import local_equal_area

CELL_SIZE_M = 1000.0
URBAN_DECAY_M = 3000.0


@dataclass(frozen=True)
class RegionForModel:
    adcode: str
    boundary: BaseGeometry  # WGS-84 lon/lat
    seat: tuple[float, float]
    population: int
    urban_share: float


@dataclass(frozen=True)
class Cell:
    cell: MultiPolygon  # WGS-84, clipped to the region
    centroid: BaseGeometry  # WGS-84 point inside the cell
    population: float


def _array_transform(transformer: Transformer) -> Callable[[np.ndarray], np.ndarray]:
    """pyproj over shapely's (n, 2) coordinate arrays."""

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return apply


def _polygons(geometry: BaseGeometry) -> MultiPolygon:
    """The areal part of a clipped cell (a clip along a boundary can leave lines or points beside it)."""
    if geometry.geom_type == "Polygon":
        return MultiPolygon([geometry])
    if geometry.geom_type == "MultiPolygon":
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type == "Polygon"]
    return MultiPolygon(parts)


class PopulationModel(Protocol):
    source: str

    def cells(self, region: RegionForModel) -> Iterator[Cell]: ...


class CensusSeatDecayModel:
    """Census total per county: urban share around the seat (exp(-d / 3 km)), the rest uniform by area."""

    source = (
        "modelled from the 2020 census county total: urban share around the county seat (weight exp(-d/3 km)), "
        "rest uniform by land area; 1 km cells"
    )

    def cells(self, region: RegionForModel) -> Iterator[Cell]:
        proj = local_equal_area(*region.seat)
        to_plane = _array_transform(Transformer.from_crs("EPSG:4326", proj, always_xy=True))
        to_lonlat = _array_transform(Transformer.from_crs(proj, "EPSG:4326", always_xy=True))
        # A valid outline can come out of the projection invalid (vertices a few millimetres apart cross).
        area = make_valid(transform(region.boundary, to_plane))
        minx, miny, maxx, maxy = area.bounds
        pieces = []
        y = math.floor(miny / CELL_SIZE_M) * CELL_SIZE_M
        while y < maxy:
            x = math.floor(minx / CELL_SIZE_M) * CELL_SIZE_M
            while x < maxx:
                piece = _polygons(area.intersection(box(x, y, x + CELL_SIZE_M, y + CELL_SIZE_M)))
                if piece.area > 1.0:
                    pieces.append(piece)
                x += CELL_SIZE_M
            y += CELL_SIZE_M
        # The seat is the projection's origin, so its distance to a cell is the cell centre's norm.
        urban_weights = [p.area * math.exp(-math.hypot(*p.centroid.coords[0]) / URBAN_DECAY_M) for p in pieces]
        total_area = sum(p.area for p in pieces)
        total_urban = sum(urban_weights)
        urban = region.population * region.urban_share
        rural = region.population - urban
        for piece, weight in zip(pieces, urban_weights, strict=True):
            inside = piece.centroid if piece.contains(piece.centroid) else piece.representative_point()
            yield Cell(
                cell=transform(piece, to_lonlat),
                centroid=transform(inside, to_lonlat),
                population=urban * weight / total_urban + rural * piece.area / total_area,
            )
