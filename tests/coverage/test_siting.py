"""POST /v1/coverage/suggest: the greedy against an exact solver (PySAL spopt MCLP), and gains that really happen."""

import asyncpg
import httpx
import numpy as np
import pulp
import pytest
from spopt.locate import MCLP

from app import china_time
from app.coverage import planar, siting
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept


def exact_optimum(instance: planar.Instance, count: int) -> float:
    """People covered by spopt's maximal covering location model (CBC), on the same candidates and demand."""
    reach = instance.coverage_matrix()  # (candidates, demand)
    # Radii may differ per demand cell (a city's districts and counties): express "within reach" as cost <= 1.
    cost = np.where(reach.T, 0.5, 2.0)
    model = MCLP.from_cost_matrix(cost, instance.demand_people, service_radius=1.0, p_facilities=count)
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=120))
    return float(pulp.value(model.problem.objective))


@pytest.mark.parametrize(("adcode", "count"), [("371623", 5), ("371621", 5), ("371603", 8)])
async def test_greedy_reaches_95_percent_of_the_exact_optimum(
    conn: asyncpg.Connection, adcode: str, count: int
) -> None:
    ev = Evaluation("legal_aid", china_time.today(), None)
    problem = await siting.siting_instance(conn, CoverageKept(), adcode, ev)
    greedy_people = sum(p.people for p in planar.greedy(problem.instance, count))
    optimum = exact_optimum(problem.instance, count)
    assert optimum > 0
    assert greedy_people >= 0.95 * optimum, (greedy_people, optimum)
    assert greedy_people <= optimum * (1 + 1e-6)  # sanity: the exact solver is an upper bound


async def test_suggested_sites_raise_coverage_by_the_reported_gain(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    r = await client.post("/v1/coverage/suggest", json={"region": "371623", "kind": "legal_aid", "count": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    suggestions = body["suggestions"]
    assert len(suggestions) == 4 and body["candidate_source"].startswith("centroids")
    gains = [s["gain_population"] for s in suggestions]
    assert gains == sorted(gains, reverse=True)  # greedy: each pick adds no more than the one before
    before = (await client.get("/v1/coverage/regions/371623", params={"kind": "legal_aid"})).json()
    assert before["covered_area_km2"] == pytest.approx(body["before"]["covered_area_km2"], abs=0.01)
    for s in suggestions:
        await conn.execute(
            "INSERT INTO sites (kind, name, location, source, external_id, opened_on) VALUES ('legal_aid', $1, "
            "ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, 'test', $1, current_date - 1)",
            f"suggested-{s['rank']}",
            s["lon"],
            s["lat"],
        )
    after = (await client.get("/v1/coverage/regions/371623", params={"kind": "legal_aid"})).json()
    area_gain = sum(s["gain_area_km2"] for s in suggestions)
    people_gain = sum(s["gain_population"] for s in suggestions)
    assert after["covered_area_km2"] - before["covered_area_km2"] == pytest.approx(area_gain, rel=1e-3, abs=0.05)
    assert after["covered_population"] - before["covered_population"] == pytest.approx(people_gain, rel=0.01)
    assert after["covered_area_km2"] == pytest.approx(body["after"]["covered_area_km2"], abs=0.05)


async def test_given_candidates_are_the_only_places_considered(client: httpx.AsyncClient) -> None:
    points = [(117.70, 38.05), (117.80, 37.95), (117.62, 37.80)]
    candidates = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": list(p)}} for p in points],
    }
    r = await client.post("/v1/coverage/suggest", json={"region": "371623", "count": 2, "candidates": candidates})
    body = r.json()
    assert body["candidates_considered"] == 3 and body["candidate_source"] == "given (3 points)"
    assert {(s["lon"], s["lat"]) for s in body["suggestions"]} <= set(points)


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"region": "371623", "count": 0}, 422, "count"),
        ({"region": "371623", "count": 10**6}, 422, "count"),
        ({"region": "371623"}, 422, "count"),
        ({"region": "3716", "count": 3}, 422, "region"),
        ({"region": "110101", "count": 3}, 404, None),
        ({"region": "371623", "count": 3, "kind": "spa"}, 422, "kind"),
        ({"region": "371623", "count": 3, "radius_m": -1}, 422, "radius_m"),
        (
            {
                "region": "371623",
                "count": 3,
                "candidates": {
                    "type": "FeatureCollection",
                    "features": [
                        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[117, 38], [118, 38]]}}
                    ],
                },
            },
            422,
            "candidates.features.0.geometry.type",
        ),
        (
            {
                "region": "371623",
                "count": 3,
                "candidates": {
                    "type": "FeatureCollection",
                    "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [117, 95]}}],
                },
            },
            422,
            "candidates.features.0.geometry.coordinates.1",
        ),
    ],
)
async def test_bad_suggest_requests(client: httpx.AsyncClient, payload: dict, status: int, field: str | None) -> None:
    r = await client.post("/v1/coverage/suggest", json=payload)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if field:
        assert field in [e["field"] for e in r.json()["errors"]], r.json()["errors"]


def test_under_cross_coverage_a_cell_counts_once_its_last_site_is_placed() -> None:
    # Cell 0 (100 people) needs two more sites, cell 1 (60) one; candidate 0 reaches cell 0, candidate 1 both,
    # candidate 2 neither.
    instance = planar.Instance(
        demand_xy=np.zeros((2, 2)),
        demand_people=np.array([100.0, 60.0]),
        demand_area_km2=np.array([1.0, 1.0]),
        demand_radius_m=np.zeros(2),
        candidate_xy=np.zeros((3, 2)),
        demand_need=np.array([2, 1]),
        reach=np.array([[True, False], [True, True], [False, False]]),
    )
    picks = planar.greedy(instance, 3)
    assert [(p.candidate, p.people) for p in picks] == [(1, 60.0), (0, 100.0)]


@pytest.mark.parametrize(("candidates", "cells", "radius_m"), [(10_000, 9_600, 100_000), (30_000, 3_000, 60_000)])
def test_siting_whose_candidates_reach_too_many_cells_is_refused_before_the_memory_goes(
    candidates: int, cells: int, radius_m: float
) -> None:
    """Every candidate within reach of every cell (a what-if radius over a region with no site of the kind): the
    pairs are counted a block at a time and refused past the limit, never all held."""
    rng = np.random.default_rng(3)
    instance = planar.Instance(
        demand_xy=rng.uniform(0, 50_000, (cells, 2)),
        demand_people=np.ones(cells),
        demand_area_km2=np.ones(cells),
        demand_radius_m=np.full(cells, radius_m),
        candidate_xy=rng.uniform(0, 50_000, (candidates, 2)),
    )
    with pytest.raises(planar.TooManyPairs) as refused:
        planar.greedy(instance, 5)
    assert planar.MAX_REACH_PAIRS < refused.value.pairs <= planar.MAX_REACH_PAIRS + planar.BLOCK_PAIRS
