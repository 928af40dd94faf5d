"""The map page's progress chart and report links, and its print: in a real browser, compared with the API."""

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from app.keys import service as keys
from tests.conftest import serving
from tests.tools import create_engine, own_database
from tests.web.conftest import OUTPUT_DIR, Visit, wait_ready

HUIMIN, BINZHOU = "371621", "371600"


async def _plan_key(settings: object) -> str:
    engine = create_engine(settings)  # type: ignore[arg-type]
    try:
        async with engine.begin() as conn:
            return await keys.create(conn, "滨州市总工会", ["plan"], "3716")
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def planned_server() -> Iterator[str]:
    """The service on a database of its own where 惠民县 has two targets for legal aid."""
    with own_database("progress_map") as (settings, _), serving(settings) as base:
        key = asyncio.run(_plan_key(settings))
        targets = [
            {"measure": "count", "value": 40, "starts_on": "2026-03-01", "start_value": 8, "due_on": "2027-06-30"},
            {"measure": "area_share", "value": 0.95, "starts_on": "2026-03-01", "due_on": "2027-12-31"},
        ]
        for target in targets:
            r = httpx.post(
                f"{base}/v1/targets",
                json={"region": HUIMIN, "kind": "legal_aid", **target},
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
            assert r.status_code == 201, r.text
        yield base


async def test_the_side_panel_charts_huimins_progress_as_the_api_gives_it(visit: Visit, planned_server: str) -> None:
    await visit.page.goto(f"{planned_server}/map?region={HUIMIN}&kind=legal_aid")
    await wait_ready(visit.page)
    points = await visit.page.eval_on_selector_all(
        '[data-testid="progress-point"]',
        "ps => ps.map(p => [p.dataset.period, Number(p.dataset.count), p.dataset.share])",
    )
    async with httpx.AsyncClient(base_url=planned_server, timeout=60) as http:
        progress = (await http.get(f"/v1/progress/{HUIMIN}", params={"kind": "legal_aid"})).json()
        expected = [(p["period"], p["site_count"], str(p["covered_area_share"])) for p in progress["periods"]]
        assert [tuple(p) for p in points] == expected
        assert len(points) == 12
        drawn = await visit.page.eval_on_selector_all(
            '[data-testid="progress-target"]', "ls => ls.map(l => Number(l.dataset.target))"
        )
        assert sorted(drawn) == sorted(t["id"] for t in progress["targets"])
        status = await visit.page.text_content('[data-testid="progress-standing"]')
        assert status == {"behind": "滞后", "on_track": "按计划推进", "met": "已完成"}[progress["standing"]["status"]]
        # The report is one click away: the link names the last month ended, and answers with the PDF.
        href = await visit.page.get_attribute('[data-testid="report-pdf"]', "href")
        assert href is not None and href.startswith(f"/v1/progress/{HUIMIN}/report?") and "f=pdf" in href
        report = await http.get(href)
        assert report.status_code == 200 and report.headers["content-type"] == "application/pdf"
    assert visit.errors == [] and visit.outside == []
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    await visit.page.locator('[data-testid="progress-panel"]').screenshot(path=str(OUTPUT_DIR / "map-progress.png"))


def _bbox(geometry: dict) -> tuple[float, float, float, float]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    lons = [p[0] for polygon in polygons for ring in polygon for p in ring]
    lats = [p[1] for polygon in polygons for ring in polygon for p in ring]
    return min(lons), min(lats), max(lons), max(lats)


async def test_the_printed_map_holds_the_regions_whole_boundary(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/map?region={BINZHOU}&kind=legal_aid")
    await wait_ready(visit.page)
    async with httpx.AsyncClient(base_url=live_server) as http:
        west, south, east, north = _bbox((await http.get(f"/v1/regions/{BINZHOU}")).json()["boundary"])
    await visit.page.emulate_media(media="print")
    await visit.page.wait_for_function("() => document.body.dataset.printReady === 'true'", timeout=30_000)
    bounds = await visit.page.evaluate(
        "() => { const b = window.yizhan.map.getBounds(); "
        "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()] }"
    )
    assert bounds[0] <= west and bounds[1] <= south and bounds[2] >= east and bounds[3] >= north, (bounds, north)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    await visit.page.pdf(path=str(OUTPUT_DIR / "map-print.pdf"), format="A4", landscape=True, print_background=True)
    # Back on screen, the screen's view again.
    await visit.page.emulate_media(media="screen")
    await visit.page.wait_for_function("() => document.body.dataset.printReady === 'false'")
