"""The worst-served spot's geometry (app.coverage.planar.farthest_from_sites) against dense sampling of the region:
no sampled point is farther from its nearest site than the point found, which lies in the region at the distance
reported."""

import numpy as np
import pytest
import shapely
from shapely import MultiPolygon, Point, Polygon

from app.coverage import planar

STAR = Polygon(
    [(30_000 * np.cos(a) * (1 if i % 2 else 0.45), 30_000 * np.sin(a) * (1 if i % 2 else 0.45))
     for i, a in enumerate(np.linspace(0, 2 * np.pi, 14, endpoint=False))]
)  # fmt: skip
WITH_HOLE = Polygon(
    [(-20_000, -15_000), (25_000, -18_000), (22_000, 20_000), (-18_000, 16_000)],
    [[(-5_000, -5_000), (6_000, -4_000), (4_000, 7_000), (-6_000, 5_000)]],
)
ISLANDS = MultiPolygon([Point(0, 0).buffer(9_000, quad_segs=8), Point(40_000, 12_000).buffer(6_000, quad_segs=8)])


def sampled_worst(region: shapely.Geometry, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
    minx, miny, maxx, maxy = region.bounds
    px, py = rng.uniform(minx, maxx, 60_000), rng.uniform(miny, maxy, 60_000)
    keep = shapely.contains_xy(region, px, py)
    px, py = px[keep], py[keep]
    return float(np.hypot(px[:, None] - x[None, :], py[:, None] - y[None, :]).min(axis=1).max())


@pytest.mark.parametrize("region", [STAR, WITH_HOLE, ISLANDS], ids=["star", "hole", "islands"])
@pytest.mark.parametrize("sites", [1, 2, 7, 40])
def test_no_point_of_the_region_is_farther_from_every_site(region: shapely.Geometry, sites: int) -> None:
    rng = np.random.default_rng(sites)
    minx, miny, maxx, maxy = region.bounds
    # Sites inside and around the region, some beyond its box.
    x = rng.uniform(minx - 15_000, maxx + 15_000, sites)
    y = rng.uniform(miny - 15_000, maxy + 15_000, sites)
    found = planar.farthest_from_sites(region, x, y)
    assert found is not None
    assert region.buffer(1e-6).covers(Point(found.x, found.y))
    nearest = np.hypot(x - found.x, y - found.y)
    assert found.distance == pytest.approx(nearest.min(), rel=1e-12)
    assert nearest[found.site] == pytest.approx(nearest.min(), rel=1e-12)
    assert sampled_worst(region, x, y, rng) <= found.distance * (1 + 1e-9)


@pytest.mark.parametrize("region", [STAR, ISLANDS], ids=["star", "islands"])
def test_sites_at_one_spot_count_once(region: shapely.Geometry) -> None:
    rng = np.random.default_rng(3)
    for x, y in ((np.array([4_000.0, 4_000.0]), np.array([-2_000.0, -2_000.0])),
                 (np.array([4_000.0, 4_000.0, -9_000.0]), np.array([-2_000.0, -2_000.0, 7_000.0]))):  # fmt: skip
        found = planar.farthest_from_sites(region, x, y)
        assert found is not None
        assert np.hypot(x - found.x, y - found.y).min() == pytest.approx(found.distance, rel=1e-12)
        assert sampled_worst(region, x, y, rng) <= found.distance * (1 + 1e-9)


def test_without_a_site_there_is_no_spot() -> None:
    assert planar.farthest_from_sites(STAR, np.empty(0), np.empty(0)) is None
