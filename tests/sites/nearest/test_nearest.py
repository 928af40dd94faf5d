"""GET /v1/sites/nearest: order and distances against an exhaustive pyproj.Geod computation."""

import datetime as dt
import random

import asyncpg
import httpx
import pytest

from tests.reference import active_sites, brute_force_nearest

# Binzhou's extent, padded so some probes fall outside the city.
BINZHOU = (117.1, 36.5, 118.6, 38.4)


def assert_matches_reference(items: list[dict], expected: list[tuple[int, float]]) -> None:
    assert len(items) == len(expected)
    for got, (ref_id, ref_m) in zip(items, expected, strict=True):
        assert got["distance_m"] == pytest.approx(ref_m, rel=1e-3, abs=0.1)
        if got["id"] != ref_id:
            # Only a tie (two sites at the same distance to within 1 cm) may swap places.
            assert abs(got["distance_m"] - ref_m) < 0.01, (got, ref_id, ref_m)


async def test_nearest_agrees_with_geodesic_brute_force(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    sites = await active_sites(conn)
    rng = random.Random(7)
    probes = [(rng.uniform(BINZHOU[0], BINZHOU[2]), rng.uniform(BINZHOU[1], BINZHOU[3])) for _ in range(60)]
    for lon, lat in probes:
        limit = rng.choice([1, 5, 10, 25, 100])
        r = await client.get("/v1/sites/nearest", params={"lat": lat, "lon": lon, "limit": limit})
        assert r.status_code == 200, r.text
        assert_matches_reference(r.json()["items"], brute_force_nearest(sites, lon, lat, limit=limit))


async def test_far_probes_use_the_radius(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    sites = await active_sites(conn)
    # Jinan (~100 km), Beijing (~300 km), Shanghai (~700 km), Europe (nothing within reach).
    for lon, lat in [(117.0, 36.65), (116.4, 39.9), (121.47, 31.23), (2.35, 48.85)]:
        for radius in (50_000, 400_000, 1_000_000):
            params = {"lat": lat, "lon": lon, "limit": 20, "max_distance_m": radius}
            r = await client.get("/v1/sites/nearest", params=params)
            assert r.status_code == 200
            expected = brute_force_nearest(sites, lon, lat, limit=20, max_distance_m=radius)
            assert_matches_reference(r.json()["items"], expected)


async def test_antimeridian(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    """Sites on both sides of ±180° are equally near; the distance wraps, it does not go round the world."""
    points = [(179.95, -16.5), (-179.97, -16.52), (179.999, -16.45), (-179.5, -16.9), (178.9, -17.1)]
    for i, (lon, lat) in enumerate(points):
        await conn.execute(
            "INSERT INTO sites (kind, name, location, source, external_id, amenities) VALUES "
            "('outdoor_station', $1, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, 'test', $1, "
            "'{drinking_water}')",
            f"dateline-{i}",
            lon,
            lat,
        )
    sites = await active_sites(conn)
    for lon, lat in [(180.0, -16.5), (-180.0, -16.5), (179.99, -16.6), (-179.9, -16.7)]:
        r = await client.get("/v1/sites/nearest", params={"lat": lat, "lon": lon, "max_distance_m": 200_000})
        expected = brute_force_nearest(sites, lon, lat, max_distance_m=200_000)
        assert len(expected) == 5
        assert_matches_reference(r.json()["items"], expected)


async def test_dense_cluster_ties_and_overfetch(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    """Many sites at nearly equal distance (a ring): the over-fetch by sphere must still give the spheroid top k."""
    rng = random.Random(3)
    lon0, lat0 = 117.5, 38.3
    from tests.reference import GEOD

    for i in range(300):
        lon, lat, _ = GEOD.fwd(lon0, lat0, rng.uniform(0, 360), 5_000 + rng.uniform(0, 40))
        await conn.execute(
            "INSERT INTO sites (kind, name, location, source, external_id) VALUES "
            "('legal_aid', $1, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, 'test', $1)",
            f"ring-{i}",
            lon,
            lat,
        )
    sites = await active_sites(conn)
    r = await client.get("/v1/sites/nearest", params={"lat": lat0, "lon": lon0, "limit": 100, "kind": "legal_aid"})
    expected = brute_force_nearest(sites, lon0, lat0, limit=100, kinds={"legal_aid"})
    assert_matches_reference(r.json()["items"], expected)


async def test_kind_and_amenity_filters(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    sites = await active_sites(conn)
    lon, lat = 117.98, 37.40
    params = [
        ("lat", lat),
        ("lon", lon),
        ("limit", 30),
        ("kind", "outdoor_station"),
        ("kind", "service_centre"),
        ("amenity", "drinking_water"),
        ("amenity", "ebike_charging"),
    ]
    r = await client.get("/v1/sites/nearest", params=params)
    items = r.json()["items"]
    assert items, "the demo register has stations with water and e-bike charging near the city centre"
    for item in items:
        assert item["kind"] in {"outdoor_station", "service_centre"}
        assert {"drinking_water", "ebike_charging"} <= set(item["amenities"])
    expected = brute_force_nearest(
        sites,
        lon,
        lat,
        limit=30,
        kinds={"outdoor_station", "service_centre"},
        amenities={"drinking_water", "ebike_charging"},
    )
    assert_matches_reference(items, expected)


async def test_max_distance_bounds_the_answer(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/sites/nearest", params={"lat": 37.4, "lon": 117.98, "limit": 100, "max_distance_m": 1500})
    items = r.json()["items"]
    assert items and all(i["distance_m"] <= 1500 for i in items)


async def test_only_active_sites_are_offered(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    row = await conn.fetchrow("SELECT id, ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE status = 'active' LIMIT 1")
    r = await client.get("/v1/sites/nearest", params={"lat": row["lat"], "lon": row["lon"], "limit": 1})
    assert r.json()["items"][0]["id"] == row["id"]
    await conn.execute("UPDATE sites SET status = 'closed', closed_on = current_date WHERE id = $1", row["id"])
    r = await client.get("/v1/sites/nearest", params={"lat": row["lat"], "lon": row["lon"], "limit": 5})
    assert row["id"] not in [i["id"] for i in r.json()["items"]]
    await conn.execute(
        "UPDATE sites SET status = 'active', closed_on = NULL, deleted_at = now() WHERE id = $1", row["id"]
    )
    r = await client.get("/v1/sites/nearest", params={"lat": row["lat"], "lon": row["lon"], "limit": 5})
    assert row["id"] not in [i["id"] for i in r.json()["items"]]


async def test_item_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/sites/nearest", params={"lat": 37.4, "lon": 117.98, "limit": 1})
    assert r.headers["content-type"] == "application/json"
    (item,) = r.json()["items"]
    assert set(item) == {
        "id",
        "kind",
        "name",
        "address",
        "lat",
        "lon",
        "distance_m",
        "amenities",
        "access",
        "access_note",
        "open_now",
        "opens_at",
        "closes_at",
        "last_verified_at",
        "trust",
        "links",
        "worker_rating",
        "star_level",
        "busy_now",
    }
    assert r.headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"lat": 91, "lon": 117}, "lat", 422),
        ({"lat": -90.5, "lon": 117}, "lat", 422),
        ({"lat": 37, "lon": "abc"}, "lon", 422),
        ({"lat": 37, "lon": 180.01}, "lon", 422),
        ({"lat": "nan", "lon": 117}, "lat", 422),
        ({"lon": 117}, "lat", 422),
        ({"lat": 37, "lon": 117, "limit": 0}, "limit", 422),
        ({"lat": 37, "lon": 117, "limit": 10**6}, "limit", 422),
        ({"lat": 37, "lon": 117, "max_distance_m": 1e12}, "max_distance_m", 422),
        ({"lat": 37, "lon": 117, "max_distance_m": -5}, "max_distance_m", 422),
        ({"lat": 37, "lon": 117, "max_distance_m": "inf"}, "max_distance_m", 422),
        ({"lat": 37, "lon": 117, "kind": "spa"}, "kind", 422),
        ({"lat": 37, "lon": 117, "amenity": "sauna"}, "amenity", 422),
        ({"lat": 37, "lon": 117, "coordsys": "mercator"}, "coordsys", 422),
        ({"lat": 37, "lon": 117, "open_now": "maybe"}, "open_now", 422),
        ({"lat": 37, "lon": 117, "at": "tomorrow"}, "at", 422),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    client: httpx.AsyncClient, params: dict, field: str, status: int
) -> None:
    r = await client.get("/v1/sites/nearest", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert field in [e["field"] for e in body["errors"]]


async def test_overfetch_fallback_when_sphere_and_spheroid_disagree(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    """PostGIS's KNN orders by sphere, which shortens east-west and lengthens north-south distances at 45°N.

    Ten sites due east at 4,995–4,999 m and one due north at 4,992 m: by sphere the east ones come first and fill
    the over-fetch, by spheroid the north one is the nearest. The answer must be the north one.
    """
    from tests.reference import GEOD

    lon0, lat0 = 100.0, 45.0  # far from any demo site
    placed = [(90.0, 4_995.0 + 0.4 * i, f"east-{i}") for i in range(10)] + [(0.0, 4_992.0, "north")]
    for azimuth, metres, name in placed:
        lon, lat, _ = GEOD.fwd(lon0, lat0, azimuth, metres)
        await conn.execute(
            "INSERT INTO sites (kind, name, location, source, external_id) VALUES "
            "('legal_aid', $1, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, 'test', $1)",
            name,
            lon,
            lat,
        )
    sphere_order = await conn.fetch(
        "SELECT name FROM sites ORDER BY location <-> ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography LIMIT 11",
        lon0,
        lat0,
    )
    assert sphere_order[-1]["name"] == "north", "the instance must put the true nearest last by sphere"
    r = await client.get("/v1/sites/nearest", params={"lat": lat0, "lon": lon0, "limit": 1})
    (item,) = r.json()["items"]
    assert item["name"] == "north"
    assert item["distance_m"] == pytest.approx(4_992.0, abs=0.1)


async def test_a_site_not_yet_opened_or_already_closed_is_not_sent_to(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    # The same rule as coverage's "serving on a date" (app.sites.repository.serving_on), for today.
    lon, lat = 100.0, 45.0  # far from the demo data
    future, past = dt.date(2999, 1, 1), dt.date(2000, 1, 1)
    for name, opened, closed in (("future", future, None), ("past", None, past), ("open", None, None)):
        await conn.execute(
            "INSERT INTO sites (kind, name, location, source, external_id, opened_on, closed_on) VALUES "
            "('legal_aid', $1, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, 'test', $1, $4::date, $5::date)",
            name,
            lon,
            lat,
            opened,
            closed,
        )
    items = (await client.get("/v1/sites/nearest", params={"lat": lat, "lon": lon, "limit": 5})).json()["items"]
    assert [i["name"] for i in items if i["distance_m"] < 1] == ["open"]
