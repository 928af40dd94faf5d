"""`yizhan regions import`: a union's own boundaries (GeoJSON, GeoPackage, Shapefile) over the loaded ones, all or
nothing.

A file is read with pyogrio (GDAL), its outlines taken to WGS-84 (from the file's CRS, then from GCJ-02 or BD-09
vertex by vertex with app.geo's precise inverse), and every feature checked before anything is written; every bad
feature is named with its adcode and field, and a file with one is refused whole. The checks against the loaded
regions, the write and what follows it (sites re-assigned by the boundaries' trigger, population surfaces rebuilt,
the history kept by trigger) are app.regions.staged's, in one savepoint of the caller's transaction.

Tolerances, because two sources never draw a line the same way (DataV's county outlines of Binzhou, converted,
leave the Tianditu city's outline by up to 3.8 % of a coastal county's area, and cross a Tianditu neighbour's by
up to 0.9 % of the smaller county):
- a child may lie outside its parent by OUTSIDE_PARENT_SHARE of its own area;
- two siblings may overlap by OVERLAP_SHARE of the smaller one's area;
- an invalid outline is repaired (ST_MakeValid) when the repair changes its area by at most REPAIR_AREA_CHANGE
  (a ring touching itself, a repeated vertex), and refused when it would change it more (a figure-eight ring, a
  hole outside its shell: the drawing is wrong, not its digitising).
"""

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pydantic_core import PydanticCustomError
from pyogrio import raw
from pyogrio.errors import DataSourceError
from pyproj import CRS, Transformer
from shapely import MultiPolygon
from shapely.geometry.base import BaseGeometry

from app import geo
from app.formats import text
from app.regions import urban
from app.regions.adcode import ADCODE_PATTERN
from app.vocabularies.closed import RegionLevel

OUTSIDE_PARENT_SHARE = 0.05
OVERLAP_SHARE = 0.02
REPAIR_AREA_CHANGE = 0.01

# Level names as files spell them: DataV calls every county-level unit a district.
LEVEL_NAMES = {**{level.value: level.value for level in RegionLevel}, "district": RegionLevel.county.value}

# The centroid of an outline averages its drawing out and keeps the datum's offset (tests/test_coordsys.py): an
# outline whose centroid is this close to where the loaded outline's centroid lies read as GCJ-02 (a shift of
# 300-700 m), and farther from the loaded one than that, is a GCJ-02 file read as WGS-84. As the bulk import of
# sites does (app.sites.bulk), the file is warned about, not refused.
DATUM_SHIFT_MATCH_M = 150.0


class ImportRefused(ValueError):
    """Nothing was written: every problem found, one line each, and the warnings that may explain them (a file
    that looks shifted by the GCJ-02 datum sticks out of its parent)."""

    def __init__(self, problems: list[str], warnings: list[str] | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.warnings = warnings or []


@dataclass(frozen=True)
class Properties:
    """The names of the properties a file's features carry their adcode, name, parent and level in (DataV's by
    default: its parent is an object `{"adcode": …}`, which a plain adcode may replace), and the code a feature
    replaces (a county made a district under a new code, 撤县设区: the old region is retired, app.regions.staged)."""

    adcode: str = "adcode"
    name: str = "name"
    parent: str = "parent"
    level: str = "level"
    replaces: str = "replaces"


@dataclass
class Feature:
    number: int  # 1-based, in the file's order
    adcode: str
    name: str
    level: str
    parent: str | None  # None: inferred from the adcode (its city's, its province's code)
    boundary: MultiPolygon  # WGS-84
    replaces: str | None = None  # the loaded region whose place it takes, under its own new code

    def label(self) -> str:
        return f"feature {self.number} ({self.adcode})"


@dataclass(frozen=True)
class Population:
    row: int
    adcode: str
    population: int
    urban_share: float | None
    source: str


@dataclass
class Imported:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    replaced: dict[str, str] = field(default_factory=dict)  # retired code → the region that replaced it
    sites_reassigned: int = 0
    surfaces_rebuilt: list[str] = field(default_factory=list)


def read(path: Path, properties: Properties, coordsys: geo.CoordSys) -> list[Feature]:
    """The file's features as regions in WGS-84; ImportRefused naming every bad feature and field."""
    try:
        meta, _, geometries, values = raw.read(path)
    except DataSourceError as exc:
        raise ImportRefused([f"{path.name}: not a GeoJSON, GeoPackage or Shapefile that GDAL reads ({exc})"]) from None
    columns = {name: column for name, column in zip(meta["fields"], values, strict=True)}
    missing = [
        f"the features have no property {wanted!r} (option {option}; their properties: {', '.join(columns) or 'none'})"
        for wanted, option in ((properties.adcode, "--adcode-property"), (properties.name, "--name-property"))
        if wanted not in columns
    ]
    if missing:
        raise ImportRefused(missing)
    to_wgs84 = _crs_to_wgs84(meta.get("crs"))
    problems: list[str] = []
    features: list[Feature] = []
    seen: dict[str, int] = {}
    for index, wkb in enumerate(geometries):
        number = index + 1

        def value(name: str, index: int = index) -> Any:
            return columns[name][index] if name in columns else None

        before = len(problems)
        adcode = _adcode(value(properties.adcode))
        label = f"feature {number} ({adcode})" if adcode and re.match(ADCODE_PATTERN, adcode) else f"feature {number}"
        if adcode is None:
            problems.append(f"{label}: {properties.adcode}: missing")
        elif not re.match(ADCODE_PATTERN, adcode):
            problems.append(f"{label}: {properties.adcode}: {adcode!r} is not a six-digit administrative code")
        elif adcode in seen:
            problems.append(f"{label}: {properties.adcode}: {adcode} is feature {seen[adcode]}'s too")
        else:
            seen[adcode] = number
        name = _name(value(properties.name), f"{label}: {properties.name}", problems)
        level = _level(value(properties.level), adcode, f"{label}: {properties.level}", problems)
        parent = _parent(value(properties.parent), f"{label}: {properties.parent}", problems)
        replaces = _replaces(value(properties.replaces), adcode, f"{label}: {properties.replaces}", problems)
        boundary = _boundary(wkb, f"{label}: geometry", problems)
        if len(problems) == before:
            assert adcode is not None and name is not None and level is not None and boundary is not None
            outline = _to_wgs84(boundary, to_wgs84, coordsys)
            features.append(Feature(number, adcode, name, level, parent, outline, replaces))
    if problems:
        raise ImportRefused(problems)
    if not features:
        raise ImportRefused([f"{path.name}: no features"])
    return features


def _adcode(raw_value: Any) -> str | None:
    if raw_value is None or (isinstance(raw_value, float) and math.isnan(raw_value)):
        return None
    if isinstance(raw_value, (int, np.integer)) or (isinstance(raw_value, float) and raw_value.is_integer()):
        return str(int(raw_value))
    found = str(raw_value).strip()
    return found or None


def _name(raw_value: Any, where: str, problems: list[str]) -> str | None:
    name = str(raw_value).strip() if raw_value is not None else ""
    if not name:
        problems.append(f"{where}: missing")
        return None
    try:
        return text.ONE_LINE.check(name)
    except PydanticCustomError as refused:
        problems.append(f"{where}: {refused}")
        return None


def _level(raw_value: Any, adcode: str | None, where: str, problems: list[str]) -> str | None:
    if raw_value is None or not str(raw_value).strip():
        return level_of(adcode) if adcode and re.match(ADCODE_PATTERN, adcode) else None
    level = LEVEL_NAMES.get(str(raw_value).strip().lower())
    if level is None:
        problems.append(f"{where}: {raw_value!r} is not one of {', '.join(LEVEL_NAMES)}")
    return level


def level_of(adcode: str) -> str:
    """The level an adcode's digits give: 370000 a province, 371600 a city, 371602 a county."""
    if adcode.endswith("0000"):
        return RegionLevel.province.value
    return RegionLevel.city.value if adcode.endswith("00") else RegionLevel.county.value


def _parent(raw_value: Any, where: str, problems: list[str]) -> str | None:
    if raw_value is None or (isinstance(raw_value, float) and math.isnan(raw_value)) or raw_value == "":
        return None
    if isinstance(raw_value, str) and raw_value.strip().startswith("{"):
        try:
            raw_value = json.loads(raw_value).get("adcode")
        except (json.JSONDecodeError, AttributeError):
            problems.append(f"{where}: {raw_value!r} is neither an adcode nor an object with one")
            return None
    parent = _adcode(raw_value)
    if parent is not None and not re.match(ADCODE_PATTERN, parent):
        problems.append(f"{where}: {parent!r} is not a six-digit administrative code")
        return None
    return parent


def _replaces(raw_value: Any, adcode: str | None, where: str, problems: list[str]) -> str | None:
    replaced = _adcode(raw_value)
    if replaced is None:
        return None
    if not re.match(ADCODE_PATTERN, replaced):
        problems.append(f"{where}: {replaced!r} is not a six-digit administrative code")
        return None
    if replaced == adcode:
        problems.append(f"{where}: {replaced} is the feature's own adcode")
        return None
    return replaced


def _boundary(wkb: bytes | None, where: str, problems: list[str]) -> MultiPolygon | None:
    if wkb is None:
        problems.append(f"{where}: missing")
        return None
    geometry = shapely.force_2d(shapely.from_wkb(wkb))
    if geometry.is_empty:
        problems.append(f"{where}: empty")
        return None
    if geometry.geom_type == "Polygon":
        return MultiPolygon([geometry])
    if geometry.geom_type == "MultiPolygon":
        return geometry
    problems.append(f"{where}: a {geometry.geom_type}; a region's outline is a Polygon or MultiPolygon")
    return None


def _crs_to_wgs84(crs: str | None) -> Transformer | None:
    """From the file's CRS to WGS-84 lon/lat (None: it is lon/lat on WGS-84 already, or says nothing)."""
    if crs is None:
        return None
    source = CRS.from_user_input(crs)
    if source.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return None
    return Transformer.from_crs(source, "EPSG:4326", always_xy=True)


def _to_wgs84(boundary: MultiPolygon, from_crs: Transformer | None, coordsys: geo.CoordSys) -> MultiPolygon:
    if from_crs is not None:
        boundary = shapely.transform(boundary, lambda xy: np.column_stack(from_crs.transform(xy[:, 0], xy[:, 1])))
    if coordsys == geo.CoordSys.wgs84:
        return boundary
    # Every vertex by the precise inverse: the shift varies over a county by metres, too much for one offset.
    converted: BaseGeometry = shapely.transform(
        boundary, lambda xy: np.array([geo.to_wgs84(lon, lat, coordsys) for lon, lat in xy]).reshape(-1, 2)
    )
    assert isinstance(converted, MultiPolygon)
    return converted


def is_urban_district(feature: Feature) -> bool:
    """市辖区 by the one rule (app.regions.urban); a city governs it unless its parent is a province (a code ending in
    0000: a municipality's districts, a province's own 林区)."""
    parent = feature.parent or f"{feature.adcode[:4]}00"
    return feature.level == RegionLevel.county and urban.is_urban_district(
        feature.name, in_a_city=not parent.endswith("0000")
    )


def read_population(path: Path) -> list[Population]:
    """A census CSV (UTF-8, or GBK as Excel on Chinese Windows saves it): `adcode` and `population` (people, a
    whole number), optionally `urban_share` (0–1: the share living in towns, which the population model puts around
    the seat) and `source` (else the file's name). ImportRefused naming every bad row and column."""
    data = path.read_bytes()
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = data.decode("gbk", errors="strict")
    reader = csv.DictReader(io.StringIO(content))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in ("adcode", "population") if c not in columns]
    if missing:
        raise ImportRefused([f"{path.name}: no column {', '.join(missing)} (its columns: {', '.join(columns)})"])
    problems: list[str] = []
    rows: list[Population] = []
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        where = f"{path.name} row {number}"
        adcode = row["adcode"]
        before = len(problems)
        if not re.match(ADCODE_PATTERN, adcode):
            problems.append(f"{where}: adcode: {adcode!r} is not a six-digit administrative code")
        population = row["population"].replace(",", "")
        if not population.isdigit():
            problems.append(f"{where} ({adcode}): population: {row['population']!r} is not a whole number of people")
        share: float | None = None
        if row.get("urban_share"):
            try:
                share = float(row["urban_share"])
            except ValueError:
                share = math.nan
            if not 0 <= share <= 1:
                problems.append(f"{where} ({adcode}): urban_share: {row['urban_share']!r} is not a share from 0 to 1")
        if len(problems) == before:
            rows.append(Population(number, adcode, int(population), share, row.get("source") or path.name))
    if problems:
        raise ImportRefused(problems)
    return rows


def looks_shifted(
    new_centroid: tuple[float, float], loaded_centroid: tuple[float, float]
) -> tuple[float, float] | None:
    """(metres from the loaded centroid, metres from it read as GCJ-02) when an outline looks like a GCJ-02 outline
    read as WGS-84 (DATUM_SHIFT_MATCH_M), else None."""
    shifted = geo.from_wgs84(*loaded_centroid, geo.CoordSys.gcj02)
    from_loaded = geo.GEOD.inv(*new_centroid, *loaded_centroid)[2]
    from_shifted = geo.GEOD.inv(*new_centroid, *shifted)[2]
    if from_shifted < DATUM_SHIFT_MATCH_M and from_loaded > from_shifted:
        return from_loaded, from_shifted
    return None
