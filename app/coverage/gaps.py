"""What coverage leaves uncovered (SPEC §6): a region's gaps, with the modelled people in each, and its uncovered
population cells."""

from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
import shapely.geometry

from app.compute import offload
from app.coverage import covered, planar, repository
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.coverage.regions import each_region, find_region, leaves
from app.coverage.rules import Rule, resolve_rule
from app.database.read_pool import Reader
from app.formats import geojson

# Gaps smaller than this are slivers between overlapping circles or along the boundary, not places.
GAP_MIN_AREA_M2 = 10_000.0
GEOJSON_PER_WKB_BYTE = 8  # a GeoJSON dict of Python floats weighs about eight times its WKB


@dataclass(frozen=True)
class Gap:
    """An uncovered part of a leaf region: GeoJSON and WKB (WGS-84), true area, modelled people."""

    region: str
    geometry: dict[str, Any]
    wkb: bytes
    area_km2: float
    population: int | None


async def uncovered_cells(
    reader: Reader, kept: CoverageKept, region: asyncpg.Record, rule: Rule, ev: Evaluation
) -> list[asyncpg.Record]:
    of = ev.catchments(region, rule.radius_m)
    if rule.is_single_radius:
        return await repository.uncovered_cells(reader, of)
    found = await covered.covered_by(reader, kept, region, rule, ev)
    return await repository.covered_uncovered_cells(reader, of, found.wkb)


async def _gap_parts(
    reader: Reader, kept: CoverageKept, region: asyncpg.Record, rule: Rule, ev: Evaluation
) -> list[asyncpg.Record]:
    of = ev.catchments(region, rule.radius_m)
    if rule.is_single_radius:
        return await repository.gaps(reader, of, GAP_MIN_AREA_M2)
    found = await covered.covered_by(reader, kept, region, rule, ev)
    return await repository.covered_gaps(reader, of, found.wkb, GAP_MIN_AREA_M2)


def _gaps_bytes(gaps: list[Gap]) -> int:
    return sum(len(gap.wkb) for gap in gaps) * (1 + GEOJSON_PER_WKB_BYTE)


async def leaf_gaps(reader: Reader, kept: CoverageKept, leaf: asyncpg.Record, ev: Evaluation) -> list[Gap]:
    return await kept.get("gaps", leaf, ev, lambda: _compute_leaf_gaps(reader, kept, leaf, ev), _gaps_bytes)


async def _compute_leaf_gaps(reader: Reader, kept: CoverageKept, leaf: asyncpg.Record, ev: Evaluation) -> list[Gap]:
    rule = await resolve_rule(reader, leaf["adcode"], ev)
    parts = await _gap_parts(reader, kept, leaf, rule, ev)
    cells = await uncovered_cells(reader, kept, leaf, rule, ev) if leaf["population_source"] else None
    people = await _people_in(parts, cells) if cells is not None else None
    return [
        Gap(
            leaf["adcode"],
            part["geometry"],
            part["wkb"],
            round(part["area_km2"], 3),
            round(people[i]) if people is not None else None,
        )
        for i, part in enumerate(parts)
    ]


async def gaps(reader: Reader, kept: CoverageKept, adcode: str, ev: Evaluation) -> dict[str, Any]:
    region = await find_region(reader, adcode)
    features: list[dict[str, Any]] = []
    found_leaves = await leaves(reader, region)
    for found in await each_region(found_leaves, lambda leaf: leaf_gaps(reader, kept, leaf, ev)):
        for gap in found:
            properties = {"region": gap.region, "area_km2": gap.area_km2, "population": gap.population}
            features.append(geojson.feature(gap.geometry, properties))
    features.sort(key=lambda f: f["properties"]["area_km2"], reverse=True)
    methods = {leaf["adcode"]: (await resolve_rule(reader, leaf["adcode"], ev)).method() for leaf in found_leaves}
    return geojson.feature_collection(
        features, kind=ev.kind, as_of=ev.as_of.isoformat(), min_gap_area_km2=GAP_MIN_AREA_M2 / 1e6, methods=methods
    )


async def _people_in(parts: list[asyncpg.Record], cells: list[asyncpg.Record]) -> list[float]:
    """People of the uncovered cells whose centroid lies in each gap part (cells in dropped slivers count nowhere)."""
    if not cells:
        return [0.0] * len(parts)
    lon = np.array([c["lon"] for c in cells])
    lat = np.array([c["lat"] for c in cells])
    population = np.array([c["population"] for c in cells], dtype=np.float64)
    shapes = [shapely.geometry.shape(part["geometry"]) for part in parts]
    return await offload.run(planar.people_in, shapes, lon, lat, population)
