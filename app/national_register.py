"""The generated national register: N sites over China's counties by 2020 census population, to try the national
view and to load-test at national scale (`yizhan seed --national-register`, the benchmarks).

Points scatter around each county seat and are kept only inside the county's boundary (the national set of
app.regions.loader), so the density follows where people live: dense in the east, sparse in the west. The same N
and seed give the same sites. GENERATED, not real stations: every site has the source `generated-national` and a
name saying so (生成站点 370102-17: generated site 17, in county 370102). Loading replaces the generated sites of an
earlier load (those it does not generate again are deleted, as a partner's full upload would delete them) and touches
no other site.
"""

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import shapely
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.connections import act_as, driver_connection
from app.regions import loader
from app.sites import fields as sites_fields
from app.sites import repository

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
INSERT_CHUNK = 10_000  # rows an upsert writes: each row fires the region trigger, so progress is shown by chunk
EXTERNAL_ID = list(repository.STAGE_COLUMNS).index("external_id")


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
    """What a load did: the earlier run's generated sites it deleted (not generated again), the sites it wrote, by
    kind, and how many lie in no loaded region."""

    replaced: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    without_region: int = 0

    @property
    def written(self) -> int:
        return sum(self.by_kind.values())


async def load(
    conn: AsyncConnection, n: int = DEFAULT_SITES, seed: int = SEED, progress: loader.LoadProgress | None = None
) -> Loaded:
    """Replace the generated sites with `n` new ones, in the caller's transaction, as a partner's full upload would:
    sites are upserted by external id and the earlier run's sites not among them are deleted, so the change feed
    tells partners what went. Each site's region is derived from the loaded boundaries as it is written (the sites
    trigger): load the regions first."""
    done = Loaded()
    if progress is not None:
        progress.step(f"generating {n:,} sites", n)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for site in generate(n, seed):
        fields = sites_fields.DEFAULTS | {
            "kind": site.kind, "external_id": site.external_id, "name": site.name, "lon": site.lon, "lat": site.lat,
            "amenities": site.amenities, "opening_hours": site.opening_hours, "source": SOURCE,
            "last_verified_at": now - dt.timedelta(days=site.verified_days_ago), "verified_by": "inspection",
        }  # fmt: skip
        rows.append(repository.staged_row(fields))
        if progress is not None and len(rows) % INSERT_CHUNK == 0:
            progress.advance(INSERT_CHUNK)
    if progress is not None:
        progress.advance(len(rows) % INSERT_CHUNK)
        progress.step(f"writing {len(rows):,} sites, each into its region", len(rows))
    await act_as(conn, "yizhan seed --national-register")
    for start in range(0, len(rows), INSERT_CHUNK):
        await repository.upsert_by_external_id(conn, rows[start : start + INSERT_CHUNK])
        if progress is not None:
            progress.advance(min(INSERT_CHUNK, len(rows) - start))
    kept = [row[EXTERNAL_ID] for row in rows]
    done.replaced = await repository.delete_missing(conn, SOURCE, kept)
    driver = await driver_connection(conn)
    counts = await driver.fetch(
        "SELECT kind, count(*) AS sites, count(*) FILTER (WHERE region_adcode IS NULL) AS without_region "
        "FROM sites WHERE source = $1 AND deleted_at IS NULL GROUP BY kind ORDER BY kind",
        SOURCE,
    )
    done.by_kind = {r["kind"]: r["sites"] for r in counts}
    done.without_region = sum(r["without_region"] for r in counts)
    await driver.execute("ANALYZE sites")
    return done
