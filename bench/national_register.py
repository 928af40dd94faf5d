"""A national-scale generated register for benchmarks: N sites over China's counties, by 2020 census population.

Points scatter around each county seat and are kept only inside the county's boundary, so the density follows
where people live (dense in the east, sparse in the west). GENERATED, for load tests only.
"""

import csv
import json
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

KINDS = [("outdoor_station", 0.88), ("legal_aid", 0.1), ("service_centre", 0.02)]
# Hours as the demo register has them: most stations daytime, some 24/7 (≈ 12,000 of 186,000 nationally), offices.
HOURS = [
    ("Mo-Su 08:00-20:00", 45),
    ("Mo-Su 07:00-21:00", 25),
    ("Mo-Fr 08:30-17:30; PH off", 20),
    ("24/7", 7),
    ("Mo-Su 20:00-02:00", 3),
]
AMENITIES = ["drinking_water", "seating", "phone_charging", "microwave", "ebike_charging", "toilet", "wifi"]


def counties(shared_data: Path) -> list[tuple[str, object, tuple[float, float], int]]:
    with (shared_data / "population" / "tudigong_census2020_county_population.csv").open(encoding="utf-8-sig") as f:
        population = {row["CODE"]: int(row["POPU"]) for row in csv.DictReader(f) if row["POPU"].isdigit()}
    features = json.loads((shared_data / "boundaries" / "china_counties_tianditu_wgs84.geojson").read_text("utf-8"))
    out = []
    for feature in features["features"]:
        p = feature["properties"]
        adcode = str(p["adcode"])
        out.append((adcode, shape(feature["geometry"]), (p["seat_lon"], p["seat_lat"]), population.get(adcode, 50_000)))
    return out


def generate(shared_data: Path, n: int, seed: int = 2024) -> Iterator[tuple[str, str, float, float, list[str]]]:
    """(kind, name, lon, lat, amenities) rows."""
    for kind, name, lon, lat, amenities, _, _ in generate_full(shared_data, n, seed):
        yield kind, name, lon, lat, amenities


def generate_full(
    shared_data: Path, n: int, seed: int = 2024
) -> Iterator[tuple[str, str, float, float, list[str], str, int]]:
    """(kind, name, lon, lat, amenities, opening_hours, days since last verified) rows."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    regions = counties(shared_data)
    total = sum(r[3] for r in regions)
    made = 0
    for i, (adcode, polygon, (seat_lon, seat_lat), pop) in enumerate(regions):
        want = round(n * pop / total) if i < len(regions) - 1 else n - made
        want = min(want, n - made)
        minx, miny, maxx, maxy = polygon.bounds  # type: ignore[attr-defined]
        sigma = max(maxx - minx, maxy - miny) / 5
        shapely.prepare(polygon)
        got: list[tuple[float, float]] = []
        for _ in range(50):
            if len(got) >= want:
                break
            lons = np_rng.normal(seat_lon, sigma, want * 2)
            lats = np_rng.normal(seat_lat, sigma, want * 2)
            keep = shapely.contains_xy(polygon, lons, lats)
            got += list(zip(lons[keep].tolist(), lats[keep].tolist(), strict=True))
        for lon, lat in got[:want]:
            kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
            amenities = sorted(a for a in AMENITIES if rng.random() < 0.6)
            hours = rng.choices([h for h, _ in HOURS], weights=[w for _, w in HOURS])[0]
            made += 1
            yield kind, f"{adcode}-{made}", lon, lat, amenities, hours, int(rng.expovariate(1 / 120))
