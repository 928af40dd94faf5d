"""SQL of the road networks: storing an extract, snapping a point to its nearest road, pgRouting's reach."""

from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.database.connections import driver_connection
from app.database.read_pool import Reader
from app.roads import osm
from app.roads.modes import Mode

NETWORK_COLUMNS = "id, name, source_file, source_sha256, extract_date, attribution, imported_at, nodes, edges"


async def network_named(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(text(f"SELECT {NETWORK_COLUMNS} FROM road_networks WHERE name = :n FOR UPDATE"), {"n": name})
    ).first()
    return dict(row._mapping) if row is not None else None


async def delete_network(conn: AsyncConnection, network_id: int) -> None:
    await conn.execute(text("DELETE FROM road_networks WHERE id = :id"), {"id": network_id})


async def insert_network(conn: AsyncConnection, name: str, extract: osm.Extract) -> int:
    """The network and its edges (COPY), its hull made from them; in the caller's transaction."""
    network_id = (
        await conn.execute(
            text(
                "INSERT INTO road_networks (name, source_file, source_sha256, extract_date, attribution, nodes, edges,"
                " hull) VALUES (:name, :file, :sha, :date, :attribution, :nodes, :edges, "
                "ST_GeomFromText('POLYGON EMPTY', 4326)) RETURNING id"
            ),
            {
                "name": name,
                "file": extract.path.name,
                "sha": extract.sha256,
                "date": extract.extract_date,
                "attribution": osm.ODBL,
                "nodes": extract.nodes,
                "edges": len(extract.edges),
            },
        )
    ).scalar_one()
    driver = await driver_connection(conn)
    costs = [f"{mode}{way}_s" for mode in Mode for way in ("", "_reverse")]
    await driver.execute(
        "CREATE TEMP TABLE staged_edges (network_id int, source bigint, target bigint, osm_way_id bigint, "
        f"highway text, length_m float8, {', '.join(f'{c} float8' for c in costs)}, ewkt text) ON COMMIT DROP"
    )
    await driver.copy_records_to_table("staged_edges", records=[osm.as_row(network_id, e) for e in extract.edges])
    columns = f"network_id, source, target, osm_way_id, highway, length_m, {', '.join(costs)}"
    await driver.execute(
        f"INSERT INTO road_edges ({columns}, geom) SELECT {columns}, ST_GeomFromEWKT(ewkt) FROM staged_edges"
    )
    await driver.execute(
        "UPDATE road_networks SET hull = (SELECT ST_ConvexHull(ST_Collect(geom)) FROM road_edges WHERE network_id = $1)"
        " WHERE id = $1",
        network_id,
    )
    return int(network_id)


async def regions_touched(conn: AsyncConnection, network_id: int) -> list[str]:
    """The county-level regions the network's hull overlaps."""
    result = await conn.execute(
        text(
            "SELECT r.adcode FROM regions r, road_networks n WHERE n.id = :id AND r.level = 'county' "
            "AND ST_Intersects(r.boundary, n.hull) ORDER BY r.adcode"
        ),
        {"id": network_id},
    )
    return [row[0] for row in result]


async def network_at(reader: Reader, lon: float, lat: float, within_m: float) -> asyncpg.Record | None:
    """The newest network whose area holds the point (or comes within `within_m` of it)."""
    return await reader.fetchrow(
        f"SELECT {NETWORK_COLUMNS} FROM road_networks "
        f"WHERE ST_DWithin(hull::geography, {geo.point_sql('$1', '$2', geography=True)}, $3) "
        "ORDER BY imported_at DESC, id DESC LIMIT 1",
        lon,
        lat,
        within_m,
    )


async def network_over(reader: Reader, adcode: str) -> asyncpg.Record | None:
    """The network covering most of a region (the newest of equals), with the share of the region's area within its
    extent (its hull)."""
    return await reader.fetchrow(
        f"SELECT {', '.join('n.' + c for c in NETWORK_COLUMNS.split(', '))}, "
        "ST_Area(ST_Intersection(n.hull, r.boundary)::geography) / ST_Area(r.boundary::geography) AS share "
        "FROM road_networks n JOIN regions r ON r.adcode = $1 AND ST_Intersects(n.hull, r.boundary) "
        "ORDER BY share DESC, n.imported_at DESC, n.id DESC LIMIT 1",
        adcode,
    )


async def within_extent(reader: Reader, network_id: int, lon: float, lat: float) -> bool:
    """Whether the point is within the network's extent (its hull)."""
    return bool(
        await reader.fetchval(
            f"SELECT ST_Covers(hull, {geo.point_sql('$2', '$3')}) FROM road_networks WHERE id = $1",
            network_id,
            lon,
            lat,
        )
    )


async def hull_in(reader: Reader, network_id: int, srid: int) -> bytes:
    """A network's extent (its hull) in a plane, WKB."""
    return bytes(
        await reader.fetchval(
            "SELECT ST_AsBinary(ST_Transform(hull, $2::int)) FROM road_networks WHERE id = $1", network_id, srid
        )
    )


async def nodes_in(reader: Reader, network_id: int, mode: Mode, adcode: str) -> list[asyncpg.Record]:
    """The nodes (edge ends) of the roads `mode` may use inside a region: node, lon, lat."""
    usable = f"network_id = $1 AND ({mode}_s >= 0 OR {mode}_reverse_s >= 0)"
    return await reader.fetch(
        f"WITH ends AS (SELECT source AS node, ST_StartPoint(geom) AS p FROM road_edges WHERE {usable} "
        f"UNION SELECT target, ST_EndPoint(geom) FROM road_edges WHERE {usable}) "
        "SELECT DISTINCT ON (e.node) e.node, ST_X(e.p) AS lon, ST_Y(e.p) AS lat "
        "FROM ends e JOIN regions r ON r.adcode = $2 AND ST_Covers(r.boundary, e.p) ORDER BY e.node",
        network_id,
        adcode,
    )


ISOCHRONES_SQL = """
SELECT p.site, ST_AsBinary(ST_Union(ST_Buffer(ST_LineSubstring(ST_Transform(e.geom, $5::int), p.start, p.stop),
                                              $6, 'quad_segs=4'))) AS wkb
FROM unnest($1::int[], $2::bigint[], $3::float8[], $4::float8[]) AS p(site, edge, start, stop)
JOIN road_edges e ON e.id = p.edge
WHERE p.stop > p.start
GROUP BY p.site
"""


async def isochrones_in(
    reader: Reader, parts: list[tuple[int, int, float, float]], srid: int, reach_m: float
) -> dict[int, bytes]:
    """Per site: its reached stretches of road (site, edge, from and to fraction) buffered by `reach_m`, in the
    plane `srid`, WKB."""
    rows = await reader.fetch(
        ISOCHRONES_SQL,
        [p[0] for p in parts],
        [p[1] for p in parts],
        [p[2] for p in parts],
        [p[3] for p in parts],
        srid,
        reach_m,
    )
    return {row["site"]: bytes(row["wkb"]) for row in rows}


def utm_srid(lon: float, lat: float) -> int:
    """The EPSG code of the WGS-84 UTM zone holding (lon, lat)."""
    return (32600 if lat >= 0 else 32700) + min(int((lon + 180) // 6) + 1, 60)


def _cost_columns(mode: Mode) -> str:
    return f"{mode}_s AS cost, {mode}_reverse_s AS reverse_cost"


SNAP_SQL = f"""
WITH p AS (SELECT {geo.point_sql("$2", "$3")} AS g),
near AS (
    SELECT e.id, e.source, e.target, e.length_m, {{costs}}, e.geom
    FROM road_edges e, p
    WHERE e.network_id = $1 AND ({{mode}}_s >= 0 OR {{mode}}_reverse_s >= 0)
    ORDER BY e.geom <-> p.g
    LIMIT 8
)
SELECT near.id, near.source, near.target, near.cost, near.reverse_cost,
       ST_LineLocatePoint(ST_Transform(near.geom, $4::int), ST_Transform(p.g, $4::int)) AS fraction,
       ST_Distance(near.geom::geography, p.g::geography) AS off_road_m
FROM near, p
ORDER BY off_road_m, near.id
LIMIT 1
"""


SNAP_MANY_SQL = f"""
SELECT p.n, s.*
FROM unnest($2::float8[], $3::float8[]) WITH ORDINALITY AS p(lon, lat, n)
CROSS JOIN LATERAL (
    SELECT near.id, near.source, near.target, near.cost, near.reverse_cost,
           ST_LineLocatePoint(ST_Transform(near.geom, $4::int), ST_Transform(q.g, $4::int)) AS fraction,
           ST_Distance(near.geom::geography, q.g::geography) AS off_road_m
    FROM (SELECT {geo.point_sql("p.lon", "p.lat")} AS g) q,
    LATERAL (
        SELECT e.id, e.source, e.target, {{costs}}, e.geom
        FROM road_edges e
        WHERE e.network_id = $1 AND ({{mode}}_s >= 0 OR {{mode}}_reverse_s >= 0)
        ORDER BY e.geom <-> q.g
        LIMIT 8
    ) near
    ORDER BY off_road_m, near.id
    LIMIT 1
) s
ORDER BY p.n
"""


async def snap_many(
    reader: Reader, network_id: int, mode: Mode, points: list[tuple[float, float]]
) -> list[asyncpg.Record]:
    """snap() for many points in one statement, in their order (n counts from 1)."""
    return await reader.fetch(
        SNAP_MANY_SQL.format(costs=_cost_columns(mode), mode=mode),
        network_id,
        [p[0] for p in points],
        [p[1] for p in points],
        utm_srid(*points[0]),
    )


async def snap(reader: Reader, network_id: int, mode: Mode, lon: float, lat: float) -> asyncpg.Record | None:
    """The nearest edge the mode may use, where on it the point's foot is (fraction of its length, in metres as
    the costs are), how far off."""
    return await reader.fetchrow(
        SNAP_SQL.format(costs=_cost_columns(mode), mode=mode), network_id, lon, lat, utm_srid(lon, lat)
    )


def edges_sql(network_id: int, mode: Mode, points: list[tuple[float, float]], reach_m: float) -> str:
    """pgRouting's edge query: the network's edges within `reach_m` of the points' box, with the mode's costs."""
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    # A box in degrees that holds the reach at these latitudes, a little wider for the edges' own length.
    dx, dy = (d + 0.001 for d in geo.degrees_around(reach_m, max(abs(south), abs(north))))
    return (
        f"SELECT id, source, target, {_cost_columns(mode)} FROM road_edges WHERE network_id = {int(network_id)} "
        f"AND geom && ST_MakeEnvelope({float(west) - dx}, {float(south) - dy}, {float(east) + dx}, "
        f"{float(north) + dy}, 4326)"
    )


async def driving_distance(reader: Reader, edges: str, starts: list[int], budget_s: float) -> list[asyncpg.Record]:
    """pgr_drivingDistance from each start: (start, node, seconds) within the budget."""
    # The start's column is from_v before pgRouting 3.6 and start_vid since: read it by either name.
    return await reader.fetch(
        "SELECT coalesce(j->>'start_vid', j->>'from_v')::bigint AS start, (j->>'node')::bigint AS node, "
        "(j->>'agg_cost')::float8 AS seconds "
        "FROM pgr_drivingDistance($1, $2::bigint[], $3, true) d, to_jsonb(d) j",
        edges,
        starts,
        budget_s,
    )


async def edges_between(reader: Reader, edges: str, nodes: list[int]) -> list[asyncpg.Record]:
    """The edges of the query `edges` with an end among `nodes`: what a reach may have travelled along."""
    return await reader.fetch(
        f"SELECT e.id, e.source, e.target, e.cost, e.reverse_cost, r.length_m FROM ({edges}) e "
        "JOIN road_edges r ON r.id = e.id WHERE e.source = ANY($1::bigint[]) OR e.target = ANY($1::bigint[])",
        nodes,
    )


REACHED_AREA_SQL = """
WITH parts AS (
    -- Cut in metres (the point's UTM zone), as the shares of an edge's cost are shares of its length.
    SELECT ST_LineSubstring(ST_Transform(e.geom, $5::int), p.start, p.stop) AS g
    FROM unnest($1::bigint[], $2::float8[], $3::float8[]) AS p(edge, start, stop)
    JOIN road_edges e ON e.id = p.edge
    WHERE p.stop > p.start
),
-- Each part buffered in the point's UTM zone (metres), then the buffers unioned (a cascaded union): nine times
-- faster than buffering the whole collection, and the same area.
area AS (
    SELECT ST_Transform(ST_Union(ST_Buffer(g, $4, 'quad_segs=4')), 4326) AS g FROM parts
)
SELECT ST_AsGeoJSON(area.g, 7)::jsonb AS geometry,
       ST_Area(area.g::geography) AS area_m2,
       (SELECT coalesce(sum(ST_Length(ST_Transform(g, 4326)::geography)), 0) FROM parts) AS road_m
FROM area
"""


async def reached_area(
    reader: Reader, segments: list[tuple[int, float, float]], reach_m: float, lon: float, lat: float
) -> asyncpg.Record | None:
    """The roads reached (parts of edges, as fractions of their length) buffered by `reach_m`: GeoJSON, m², m."""
    return await reader.fetchrow(
        REACHED_AREA_SQL,
        [s[0] for s in segments],
        [s[1] for s in segments],
        [s[2] for s in segments],
        reach_m,
        utm_srid(lon, lat),
    )
