"""Write jining_legal_aid_generated.csv: a small GENERATED list of union legal-aid points in 济宁市 (370800), not
real sites, in the CSV form a county union's spreadsheet takes to `POST /v1/sites/bulk` (the README's walkthrough).

Each county gets a point at its seat (from the national set, seed/china) and a few more: in the two urban districts
(任城区, 兖州区: the 2 km rule) on a hexagonal lattice around the seat, spacing √3 × 2 km so their 2 km circles
tile the core, in the other counties at best-candidate spots inside the county (its half-hour circles leave gaps).
Names and addresses read like real ones but none is real. Deterministic: `python seed/generate_jining.py` rewrites
the same file.
"""

import csv
import gzip
import json
import math
import random
from pathlib import Path

from shapely import Point, prepare
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

HERE = Path(__file__).resolve().parent
COUNTIES = HERE / "china" / "china_counties_tianditu_wgs84.geojson.gz"
OUT = HERE / "jining_legal_aid_generated.csv"
JINING = "370800"
URBAN = ("370811", "370812")
LATTICE_M = math.sqrt(3) * 2000
LATTICE_RINGS = 1  # the six around the seat
SPOTS_PER_COUNTY = 3  # besides the seat
ROADS = ["建设路", "太白楼路", "红星路", "府河路", "文化路", "人民路", "车站路", "共青团路", "科苑路", "运河路"]
HOURS = ["Mo-Fr 08:30-17:00", "Mo-Fr 09:00-12:00,14:00-17:30", "Tu,Th 09:00-11:30", "Mo,We,Fr 14:00-17:00"]
COLUMNS = ["external_id", "kind", "name", "address", "lat", "lon", "operator", "opening_hours", "access", "services"]


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    return lon + east_m / (111_320 * math.cos(math.radians(lat))), lat + north_m / 110_574


def lattice(seat: tuple[float, float]) -> list[tuple[float, float]]:
    """The hexagonal lattice around the seat, LATTICE_RINGS deep, without the seat itself."""
    points = []
    for q in range(-LATTICE_RINGS, LATTICE_RINGS + 1):
        for r in range(-LATTICE_RINGS, LATTICE_RINGS + 1):
            if abs(q + r) <= LATTICE_RINGS and (q, r) != (0, 0):
                east, north = LATTICE_M * (q + r / 2), LATTICE_M * r * math.sqrt(3) / 2
                points.append(offset(*seat, east, north))
    return points


def best_candidates(
    area: BaseGeometry, taken: list[tuple[float, float]], count: int, rng: random.Random
) -> list[tuple[float, float]]:
    """`count` spots inside `area`, each the farthest from those taken of 30 random tries (Mitchell's sampling)."""
    minx, miny, maxx, maxy = area.bounds
    chosen = list(taken)
    for _ in range(count):
        tries = []
        while len(tries) < 30:
            p = (rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if area.contains(Point(p)):
                tries.append(p)
        chosen.append(max(tries, key=lambda p: min(math.dist(p, q) for q in chosen)))
    return chosen[len(taken) :]


def main() -> None:
    rng = random.Random(int(JINING))
    with gzip.open(COUNTIES, "rt", encoding="utf-8") as f:
        features = [f for f in json.load(f)["features"] if str(f["properties"]["city_adcode"]) == JINING]
    rows = []
    for feature in sorted(features, key=lambda f: str(f["properties"]["adcode"])):
        p = feature["properties"]
        adcode, county = str(p["adcode"]), p["name"]
        area = shape(feature["geometry"])
        prepare(area)
        seat = (float(p["seat_lon"]), float(p["seat_lat"]))
        if adcode in URBAN:
            jitter = [offset(lon, lat, rng.uniform(-250, 250), rng.uniform(-250, 250)) for lon, lat in lattice(seat)]
            points = [seat, *(q for q in jitter if area.contains(Point(q)))]
        else:
            points = [seat, *best_candidates(area, [seat], SPOTS_PER_COUNTY, rng)]
        for i, (lon, lat) in enumerate(points, start=1):
            at_seat = i == 1
            rows.append(
                {
                    "external_id": f"JN-LA-{adcode}-{i:02d}",
                    "kind": "legal_aid",
                    "name": f"{county}总工会职工法律援助{'中心' if at_seat else f'工作站{i - 1}'}",
                    "address": f"山东省济宁市{county}{rng.choice(ROADS)}{rng.randint(1, 399)}号",
                    "lat": f"{lat:.6f}",
                    "lon": f"{lon:.6f}",
                    "operator": f"{county}总工会",
                    "opening_hours": HOURS[0] if at_seat else rng.choice(HOURS[1:]),
                    "access": "open",
                    "services": "rights_protection",
                }
            )
    with OUT.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
