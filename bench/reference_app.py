"""The minimal reference for the nearest benchmark: the same KNN as a bare asyncpg query behind FastAPI.

No validation beyond FastAPI's own, no re-ranking, no error shaping: the floor our real endpoint is measured
against, so the ratio between the two is independent of the machine.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from fastapi import FastAPI
from starlette.responses import Response

SQL = """
SELECT id, kind, name, address, ST_Y(geom) AS lat, ST_X(geom) AS lon, amenities,
       ST_Distance(location, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography) AS distance_m
FROM sites
WHERE deleted_at IS NULL AND status = 'active'
  AND ST_DWithin(location, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, 50000)
ORDER BY location <-> ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography
LIMIT $3
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/nearest")
async def nearest(lat: float, lon: float, limit: int = 10) -> Response:
    rows = await app.state.pool.fetch(SQL, lon, lat, limit)
    return Response(orjson.dumps({"items": [dict(r) for r in rows]}), media_type="application/json")
