"""The generated national register: N sites over China's counties by 2020 census population, to try the national
view and to load-test at national scale (`yizhan seed --national-register`, the benchmarks).

Points scatter around each county seat and are kept only inside the county's boundary (the national set of
app.regions.loader), so the density follows where people live: dense in the east, sparse in the west. The same N
and seed give the same sites. GENERATED, not real stations: every site has the source `generated-national` and a
name saying so (生成站点 370102-17: generated site 17, in county 370102). Loading replaces the generated sites of an
earlier load and touches no other site.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.database.connections import act_as, driver_connection
from app.regions import loader

SOURCE = "generated-national"
DEFAULT_SITES = 200_000
SEED = 2024
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
# A county without a census figure (made after 2020, or 金门县) gets sites as a small county would.
NO_CENSUS_POPULATION = 50_000
INSERT_CHUNK = 10_000  # staged rows an INSERT writes: each row fires the region trigger, so progress is shown by chunk


class GeneratedSite(NamedTuple):
    kind: str
    external_id: str  # the county's adcode and the site's number in the register, e.g. 370102-17
    lon: float
    lat: float
    amenities: list[str]
    opening_hours: str
    verified_days_ago: int

    @property
    def name(self) -> str:
        return f"生成站点 {self.external_id}"


def generate(n: int, seed: int = SEED) -> Iterator[GeneratedSite]:
    """`n` sites, shared among the counties by census population, each inside its county."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    counties = list(loader.national_counties().values())
    people = [c.population if c.population is not None else NO_CENSUS_POPULATION for c in counties]
    total = sum(people)
    made = 0
    for i, (county, population) in enumerate(zip(counties, people, strict=True)):
        want = round(n * population / total) if i < len(counties) - 1 else n - made
        want = min(want, n - made)
        seat_lon, seat_lat = county.seat
        minx, miny, maxx, maxy = county.boundary.bounds
        sigma = max(maxx - minx, maxy - miny) / 5
        shapely.prepare(county.boundary)
        got: list[tuple[float, float]] = []
        for _ in range(50):
            if len(got) >= want:
                break
            lons = np_rng.normal(seat_lon, sigma, want * 2)
            lats = np_rng.normal(seat_lat, sigma, want * 2)
            keep = shapely.contains_xy(county.boundary, lons, lats)
            got += list(zip(lons[keep].tolist(), lats[keep].tolist(), strict=True))
        for lon, lat in got[:want]:
            kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
            amenities = sorted(a for a in AMENITIES if rng.random() < 0.6)
            hours = rng.choices([h for h, _ in HOURS], weights=[w for _, w in HOURS])[0]
            made += 1
            verified_days_ago = int(rng.expovariate(1 / 120))
            yield GeneratedSite(kind, f"{county.adcode}-{made}", lon, lat, amenities, hours, verified_days_ago)


@dataclass
class Loaded:
    """What a load did: the generated sites it removed and wrote, by kind, and how many lie in no loaded region."""

    replaced: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    without_region: int = 0

    @property
    def written(self) -> int:
        return sum(self.by_kind.values())


STAGED_COLUMNS = (
    "kind", "external_id", "name", "lon", "lat", "gcj02_lon", "gcj02_lat", "amenities", "opening_hours",
    "verified_days_ago",
)  # fmt: skip


async def load(
    conn: AsyncConnection, n: int = DEFAULT_SITES, seed: int = SEED, progress: loader.LoadProgress | None = None
) -> Loaded:
    """Replace the generated sites with `n` new ones, in the caller's transaction. Each site's region is derived
    from the loaded boundaries as it is written (the sites trigger): load the regions first."""
    done = Loaded()
    if progress is not None:
        progress.step(f"generating {n:,} sites", n)
    rows = []
    for site in generate(n, seed):
        # Each with its GCJ-02 twin, as the service's own write paths store it (Site.gcj02_lon).
        gcj02 = geo.from_wgs84(site.lon, site.lat, geo.CoordSys.gcj02)
        rows.append((site.kind, site.external_id, site.name, site.lon, site.lat, *gcj02, site.amenities,
                     site.opening_hours, site.verified_days_ago))  # fmt: skip
        if progress is not None and len(rows) % INSERT_CHUNK == 0:
            progress.advance(INSERT_CHUNK)
    if progress is not None:
        progress.advance(len(rows) % INSERT_CHUNK)
    await act_as(conn, "yizhan seed --national-register")
    deleted = await conn.execute(text("DELETE FROM sites WHERE source = :source"), {"source": SOURCE})
    done.replaced = deleted.rowcount
    driver = await driver_connection(conn)
    # Binary COPY has no geography encoder: stage lon/lat, then build the points in SQL.
    await driver.execute(
        "CREATE TEMP TABLE national_register_stage (n bigserial, kind text, external_id text, name text, "
        "lon float8, lat float8, gcj02_lon float8, gcj02_lat float8, amenities text[], opening_hours text, "
        "verified_days_ago int) ON COMMIT DROP"
    )
    await driver.copy_records_to_table("national_register_stage", records=rows, columns=list(STAGED_COLUMNS))
    if progress is not None:
        progress.step(f"writing {len(rows):,} sites, each into its region", len(rows))
    for start in range(0, len(rows), INSERT_CHUNK):
        await driver.execute(
            "INSERT INTO sites (kind, name, location, gcj02_lon, gcj02_lat, amenities, source, external_id, "
            "opening_hours, last_verified_at, verified_by) "
            "SELECT kind, name, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, gcj02_lon, gcj02_lat, "
            "amenities, $1, external_id, opening_hours, now() - make_interval(days => verified_days_ago), "
            "'inspection' FROM national_register_stage WHERE n > $2 AND n <= $3",
            SOURCE,
            start,
            start + INSERT_CHUNK,
        )
        if progress is not None:
            progress.advance(min(INSERT_CHUNK, len(rows) - start))
    counts = await driver.fetch(
        "SELECT kind, count(*) AS sites, count(*) FILTER (WHERE region_adcode IS NULL) AS without_region "
        "FROM sites WHERE source = $1 GROUP BY kind ORDER BY kind",
        SOURCE,
    )
    done.by_kind = {r["kind"]: r["sites"] for r in counts}
    done.without_region = sum(r["without_region"] for r in counts)
    await driver.execute("ANALYZE sites")
    return done
