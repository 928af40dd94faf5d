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
import shapely
from pyproj import Transformer
from shapely import MultiPolygon, make_valid, transform
from shapely.geometry.base import BaseGeometry

from app.geo import local_equal_area

CELL_SIZE_M = 1000.0
MAX_CELLS = 2500  # per county, at CELL_SIZE_M: counties larger than 2,500 km² get coarser cells
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

    def __init__(self, cell_size_m: float = CELL_SIZE_M) -> None:
        self.cell_size_m = cell_size_m
        self.source = (
            "modelled from the 2020 census county total: urban share around the county seat (weight exp(-d/3 km)), "
            f"rest uniform by land area; {cell_size_m / 1000:g} km cells"
        )

    @classmethod
    def for_area(cls, area_km2: float) -> "CensusSeatDecayModel":
        """1 km cells, coarser (by half kilometres) where a county would need more than MAX_CELLS of them: the
        vast western counties would otherwise hold most of China's cells and few of its people."""
        if area_km2 <= MAX_CELLS:
            return cls()
        return cls(math.ceil(math.sqrt(area_km2 / MAX_CELLS) * 2) * 500.0)

    def cells(self, region: RegionForModel) -> Iterator[Cell]:
        cells, centroids, population = self.cell_arrays(region)
        for cell, centroid, people in zip(cells, centroids, population, strict=True):
            yield Cell(cell=cell, centroid=centroid, population=float(people))

    def cell_arrays(self, region: RegionForModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cells (WGS-84 MultiPolygons), a point inside each and its people, as arrays: a county's thousands of
        cells are made by shapely's vectorized operations, not one by one."""
        proj = local_equal_area(*region.seat)
        to_plane = _array_transform(Transformer.from_crs("EPSG:4326", proj, always_xy=True))
        to_lonlat = _array_transform(Transformer.from_crs(proj, "EPSG:4326", always_xy=True))
        # A valid outline can come out of the projection invalid (vertices a few millimetres apart cross).
        pieces = self._pieces(make_valid(transform(region.boundary, to_plane)))
        areas = shapely.area(pieces)
        centres = shapely.centroid(pieces)
        # The seat is the projection's origin, so its distance to a cell is the cell centre's norm.
        urban_weights = areas * np.exp(-np.hypot(shapely.get_x(centres), shapely.get_y(centres)) / URBAN_DECAY_M)
        urban = region.population * region.urban_share
        rural = region.population - urban
        population = urban * urban_weights / urban_weights.sum() + rural * areas / areas.sum()
        inside = np.where(shapely.contains(pieces, centres), centres, shapely.point_on_surface(pieces))
        return transform(pieces, to_lonlat), transform(inside, to_lonlat), population

    def _pieces(self, area: BaseGeometry) -> np.ndarray:
        """The grid's squares clipped to the area, row by row from the south-west; a square wholly inside is kept
        as it is, so only the squares the boundary crosses are clipped (most of a county's are inside)."""
        size = self.cell_size_m
        minx, miny, maxx, maxy = area.bounds
        grid_x, grid_y = np.meshgrid(
            np.arange(math.floor(minx / size) * size, maxx, size), np.arange(math.floor(miny / size) * size, maxy, size)
        )
        x, y = grid_x.ravel(), grid_y.ravel()
        squares = shapely.box(x, y, x + size, y + size)
        shapely.prepare(area)
        whole = shapely.contains_properly(area, squares)
        pieces = np.empty(len(squares), dtype=object)
        pieces[whole] = shapely.multipolygons(squares[whole], indices=np.arange(int(whole.sum())))
        pieces[~whole] = [_polygons(piece) for piece in shapely.intersection(area, squares[~whole])]
        kept: np.ndarray = pieces[shapely.area(pieces) > 1.0]
        return kept
