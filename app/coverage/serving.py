"""The sites of an evaluation's kind serving on its date nearest a place."""

import asyncpg

from app import geo
from app.coverage.evaluation import Evaluation
from app.database.read_pool import Reader
from app.sites.nearest import service as nearest


async def serving_near(reader: Reader, ev: Evaluation, lon: float, lat: float, k: int = 1) -> list[asyncpg.Record]:
    """The `k` sites of the kind nearest to (lon, lat) that serve on the evaluation date, by geodesic distance
    alone (coverage is about where sites are, not how far workers trust them), wherever they are."""
    found = await nearest.nearest(
        reader, lon, lat, kinds=[ev.kind], radius_m=geo.FARTHEST_M, limit=k, serving_on=ev.as_of, trusted_first=False
    )
    return list(found)
