"""Progress against targets: the series agrees with the coverage answers `as_of` each period's end and with an
independent reference (sites counted from the table, shapely unions of geodesic circles); statuses follow the
documented rule (app.targets.standing), recomputed here; the children come behind first."""

import datetime as dt
import itertools
from typing import Any

import asyncpg
import httpx
import pytest
from shapely import unary_union

from tests.coverage.test_coverage import COUNTIES, geodesic_area_km2, geodesic_circle, serving_sites
from tests.progress.conftest import BINZHOU, HUIMIN, serving_count

MONTH_ENDS = [dt.date(2026, m + 1, 1) - dt.timedelta(days=1) for m in range(6, 12)]  # June … November
SECOND_HALF = {"from": "2026-06-01", "to": "2026-11-30", "by": "month", "kind": "legal_aid"}
DAYS_A_MONTH = 365.25 / 12


def expected_standing(target: dict[str, Any], on: dt.date, actual: float) -> tuple[float, str, float]:
    """The documented rule (README, Progress), written out again: the line, the status, the monthly rate needed."""
    starts_on, due_on = dt.date.fromisoformat(target["starts_on"]), dt.date.fromisoformat(target["due_on"])
    line = (
        target["start_value"]
        + (target["value"] - target["start_value"]) * (on - starts_on).days / (due_on - starts_on).days
    )
    if actual >= target["value"]:
        return line, "met", 0.0
    months_left = (due_on - on).days / DAYS_A_MONTH
    needed = (target["value"] - actual) / months_left
    return line, "on_track" if actual >= line else "behind", needed


async def set_target(client: httpx.AsyncClient, planner: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await client.post("/v1/targets", json={"kind": "legal_aid", **body}, headers=planner)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_the_series_is_the_coverage_answers_as_of_each_month_end(
    client: httpx.AsyncClient, conn: asyncpg.Connection, moved: list[dict[str, Any]], planner: dict[str, str]
) -> None:
    june_count = await serving_count(conn, HUIMIN, "legal_aid", MONTH_ENDS[0])
    target = await set_target(
        client,
        planner,
        region=HUIMIN,
        measure="count",
        value=june_count + 6,
        starts_on="2026-06-01",
        start_value=june_count - 1,
        due_on="2027-05-31",
    )
    body = (await client.get(f"/v1/progress/{HUIMIN}", params=SECOND_HALF)).json()
    assert (body["region"], body["name"], body["kind"]) == (HUIMIN, "惠民县", "legal_aid")
    assert [p["period"] for p in body["periods"]] == [f"2026-{m:02d}" for m in range(6, 12)]
    county = COUNTIES[HUIMIN]
    counts = []
    statuses = set()
    for period, month_end in zip(body["periods"], MONTH_ENDS, strict=True):
        assert period["ends_on"] == month_end.isoformat() and not period["partial"]
        as_of = (
            await client.get(f"/v1/coverage/regions/{HUIMIN}", params={"kind": "legal_aid", "as_of": str(month_end)})
        ).json()
        for field in ("site_count", "covered_area_share", "covered_population_share"):
            assert period[field] == as_of[field], (field, month_end)
        # Independently: the sites counted from the table, the covered share from shapely and pyproj.
        assert period["site_count"] == await serving_count(conn, HUIMIN, "legal_aid", month_end)
        circles = unary_union(
            [geodesic_circle(lon, lat, 7500) for lon, lat in await serving_sites(conn, "legal_aid", month_end)]
        )
        reference = geodesic_area_km2(county.intersection(circles)) / geodesic_area_km2(county)
        assert period["covered_area_share"] == pytest.approx(reference, abs=0.005), month_end
        [standing] = period["targets"]
        line, status, needed = expected_standing(target, month_end, period["site_count"])
        assert standing["line"] == pytest.approx(line, abs=1e-4)
        assert standing["status"] == status
        assert standing["needed_per_month"] == pytest.approx(needed, abs=1e-4)
        counts.append(period["site_count"])
        statuses.add(status)
    # The register moved: one opened in July, one in August, one (opened in June) closed in September.
    assert [b - a for a, b in itertools.pairwise(counts)] == [1, 1, -1, 0, 0]
    assert statuses == {"on_track", "behind"}
    assert body["standing"]["status"] == body["periods"][-1]["targets"][0]["status"]


async def test_the_citys_series_is_its_coverage_as_of_each_month_end(
    client: httpx.AsyncClient, conn: asyncpg.Connection, moved: list[dict[str, Any]]
) -> None:
    body = (await client.get(f"/v1/progress/{BINZHOU}", params=SECOND_HALF)).json()
    for period, month_end in zip(body["periods"], MONTH_ENDS, strict=True):
        as_of = (
            await client.get(f"/v1/coverage/regions/{BINZHOU}", params={"kind": "legal_aid", "as_of": str(month_end)})
        ).json()
        for field in ("site_count", "covered_area_share", "covered_population_share"):
            assert period[field] == as_of[field], (field, month_end)
        assert period["site_count"] == await serving_count(conn, BINZHOU, "legal_aid", month_end)
    # A city without a target of its own: figures, no standing.
    assert body["targets"] == [] and body["standing"] is None


async def test_weeks_end_on_sundays_and_the_running_one_is_partial(client: httpx.AsyncClient) -> None:
    body = (
        await client.get(f"/v1/progress/{HUIMIN}", params={"by": "week", "from": "2026-11-02", "to": "2026-11-18"})
    ).json()
    assert [(p["period"], p["ends_on"], p["partial"]) for p in body["periods"]] == [
        ("2026-W45", "2026-11-08", False),
        ("2026-W46", "2026-11-15", False),
        ("2026-W47", "2026-11-18", True),
    ]


async def test_children_are_ranked_behind_first(
    client: httpx.AsyncClient, conn: asyncpg.Connection, moved: list[dict[str, Any]], planner: dict[str, str]
) -> None:
    start, due = "2026-06-01", "2027-06-01"
    counts = {c: await serving_count(conn, c, "legal_aid", dt.date(2026, 6, 1)) for c in COUNTIES}
    yangxin_now = await serving_count(conn, "371622", "legal_aid", MONTH_ENDS[-1])
    targets = {
        # Far behind: 60 more by next June, measured from what it had.
        HUIMIN: dict(measure="count", value=counts[HUIMIN] + 60, start_value=counts[HUIMIN]),
        # Behind, less so.
        "371681": dict(measure="count", value=counts["371681"] + 12, start_value=counts["371681"]),
        # On track: the line started below what it had, and has not reached what it has now.
        "371622": dict(measure="count", value=yangxin_now + 2, start_value=max(0, counts["371622"] - 5)),
        # Met.
        "371602": dict(measure="area_share", value=0.2, start_value=0.1),
    }
    for region, target in targets.items():
        await set_target(client, planner, region=region, starts_on=start, due_on=due, **target)
    body = (await client.get(f"/v1/progress/{BINZHOU}/children", params=SECOND_HALF)).json()
    items = body["items"]
    assert [i["region"] for i in items[:4]] == [HUIMIN, "371681", "371622", "371602"]
    assert [i["standing"]["status"] for i in items[:4]] == ["behind", "behind", "on_track", "met"]
    assert items[0]["standing"]["shortfall"] > items[1]["standing"]["shortfall"] > 0
    assert all(i["standing"] is None for i in items[4:])
    assert {i["region"] for i in items} == set(COUNTIES)
    # Each child's series is its own region's progress.
    own = (await client.get(f"/v1/progress/{HUIMIN}", params=SECOND_HALF)).json()
    assert items[0]["periods"] == own["periods"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "no_such_kind"}, "kind"),
        ({"from": "2026-12-01", "to": "2026-11-01"}, "from"),
        ({"to": "2099-01-01"}, "to"),
        ({"by": "day"}, "by"),
        ({"from": "1990-01-01", "to": "2026-11-30"}, "from"),
        ({"to": "0001-02-01"}, "to"),
    ],
)
async def test_bad_progress_questions_name_the_field(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    r = await client.get(f"/v1/progress/{HUIMIN}", params=params)
    assert r.status_code == 422, r.text
    assert field in [e["field"].split(".")[-1] for e in r.json()["errors"]]


async def test_an_unknown_region_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/progress/999999")).status_code == 404
