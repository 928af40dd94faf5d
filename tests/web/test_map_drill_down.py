"""The planners' map from China down to a county, in a real browser, over regions loaded as `yizhan regions load`
loads them: 山东省's 16 cities, 天津市 and 上海市 under the national root, and legal-aid points spread over every
county. Each view is compared with the API's own answer; the URL keeps the level.

Of Shandong's 136 counties only 济宁市's 11 and the smallest of each other city are loaded (a city is made of its
loaded counties): its 16 cities are there while the load and the cold coverage of every county take seconds, not a
minute."""

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from alembic import command
from playwright.async_api import Page
from sqlalchemy import text

from app.cli import alembic_config
from app.config import Settings
from app.database.connections import act_as, create_engine
from app.regions import loader
from app.sites import fields
from app.sites import repository as sites
from tests.conftest import serving
from tests.tools import admin, database_url, unlimited
from tests.web.conftest import OUTPUT_DIR, Visit, wait_ready
from tests.web.test_map_page import percent, table

# Two small provinces beside Shandong, so that the country has more than one child.
SMALL_PROVINCES = ("12", "31")
SITES_PER_COUNTY = 2
CHINA, SHANDONG, JINING = "100000", "370000", "370800"


def counties() -> list[loader.County]:
    shandong = loader.select_counties(province="37")
    smallest: dict[str, loader.County] = {}
    for county in shandong:
        city = county.city_adcode or county.adcode
        if city not in smallest or county.boundary.area < smallest[city].boundary.area:
            smallest[city] = county
    jining = [c for c in shandong if c.city_adcode == JINING]
    others = [c for city, c in smallest.items() if city != JINING]
    return jining + others + [c for p in SMALL_PROVINCES for c in loader.select_counties(province=p)]


async def _load(settings: Settings) -> None:
    """The provinces' regions, then SITES_PER_COUNTY legal-aid points at seeded random spots in each county, written
    as the bulk API writes them."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await loader.load(conn, counties())
            await act_as(conn, "test:map-drill-down")
            spots = await conn.execute(
                text(
                    "SELECT r.adcode, r.name, g.path[1] AS n, ST_X(g.geom) AS lon, ST_Y(g.geom) AS lat "
                    "FROM regions r, ST_Dump(ST_GeneratePoints(r.boundary, :n, 2026)) AS g "
                    "WHERE r.level = 'county' ORDER BY r.adcode, n"
                ),
                {"n": SITES_PER_COUNTY},
            )
            rows = [
                {
                    **fields.DEFAULTS,
                    "kind": "legal_aid",
                    "source": "test:map-drill-down",
                    "external_id": f"{s.adcode}-{s.n}",
                    "name": f"{s.name}法律援助站{s.n}",
                    "opening_hours": "Mo-Fr 09:00-17:00",
                    "lon": s.lon,
                    "lat": s.lat,
                }
                for s in spots
            ]
            await sites.upsert_by_external_id(conn, [sites.staged_row(row) for row in rows])
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def provinces_server() -> Iterator[str]:
    """The service over a database of its own holding counties() (the demo's test database stays as it is)."""
    name = f"yizhan_map_provinces_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        # Cold, the country's table computes every loaded county: on a busy machine that can outlast the default
        # request budget, and a test never fails because the machine is slow.
        settings = unlimited(database_url(name), request_budget_s=600)
        command.upgrade(alembic_config(settings), "head")
        asyncio.run(_load(settings))
        with serving(settings) as base:
            yield base
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def api(base: str, path: str, **params: str) -> dict[str, Any]:
    # Cold, the figures of a country or a province are computed from every loaded county: seconds on a busy machine.
    async with httpx.AsyncClient(base_url=base, timeout=300) as http:
        r = await http.get(path, params=params)
        r.raise_for_status()
        return dict(r.json())


async def shows_the_apis_table(visit: Visit, base: str, parent: str, rows: int) -> list[dict[str, Any]]:
    """The page's table is the API's children of `parent`, row for row: name, area and people covered, sites."""
    expected = (await api(base, f"/v1/coverage/regions/{parent}/children", kind="legal_aid"))["items"]
    shown = await table(visit)
    assert len(shown) == len(expected) == rows
    for row in expected:
        name, area, people, count, _ = shown[row["adcode"]]
        assert (name, area, people, count) == (
            row["name"],
            percent(row["covered_area_share"]),
            percent(row["covered_population_share"]),
            str(row["site_count"]),
        )
    return list(expected)


async def breadcrumb(page: Page) -> str:
    return " ".join((await page.text_content('[data-testid="breadcrumb"]') or "").split())


async def click_at(visit: Visit, lon: float, lat: float) -> None:
    x, y = await visit.page.evaluate(
        "([lon, lat]) => { const p = window.yizhan.map.project([lon, lat]); return [p.x, p.y]; }", [lon, lat]
    )
    box = await visit.page.locator("#map").bounding_box()
    assert box is not None
    await visit.page.mouse.click(box["x"] + x, box["y"] + y)


async def test_the_national_view_shades_the_provinces_as_the_api_gives_them(
    visit: Visit, provinces_server: str
) -> None:
    # Cold, the country's figures take seconds (every loaded county): asked first, so the page's wait is the page's.
    expected = (await api(provinces_server, f"/v1/coverage/regions/{CHINA}/children", kind="legal_aid"))["items"]
    asked: list[str] = []
    visit.page.on("request", lambda request: asked.append(request.url))
    await visit.page.goto(f"{provinces_server}/map")
    await wait_ready(visit.page)
    assert f"region={CHINA}" in visit.page.url  # the country is loaded: the map opens on it
    assert await breadcrumb(visit.page) == "全国"
    await shows_the_apis_table(visit, provinces_server, CHINA, rows=1 + len(SMALL_PROVINCES))
    assert await visit.page.text_content("#table-title") == "分省覆盖情况"
    # The fill is the provinces' (the tiles carry every level), each shaded by the API's share.
    await visit.page.evaluate(
        "() => new Promise((done) => { const map = window.yizhan.map; map.once('idle', done); map.triggerRepaint(); })"
    )
    drawn = await visit.page.evaluate(
        """() => window.yizhan.map.queryRenderedFeatures({ layers: ['region-fill'] })
             .map((f) => [f.properties.adcode, f.properties.parent_adcode, f.properties.covered_area_share])"""
    )
    assert {parent for _, parent, _ in drawn} == {CHINA}
    shares = {adcode: share for adcode, _, share in drawn}
    assert shares == {row["adcode"]: pytest.approx(row["covered_area_share"], rel=1e-9) for row in expected}
    # The country's gaps are every county's: not asked for until the planner asks.
    assert not [url for url in asked if "/gaps" in url]
    assert visit.errors == [] and visit.outside == []
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    await visit.page.screenshot(path=str(OUTPUT_DIR / "map-china.png"), full_page=True)
    await visit.page.click('[data-testid="gaps-load"]')
    await visit.page.wait_for_function(
        "() => document.querySelector('[data-testid=\"gap-count\"]').textContent !== '—'", timeout=60_000
    )
    gaps = await api(provinces_server, f"/v1/coverage/regions/{CHINA}/gaps", kind="legal_aid")
    assert int(await visit.page.text_content('[data-testid="gap-count"]') or "") == len(gaps["features"]) > 0


async def test_drilling_down_to_jining_and_back_up(visit: Visit, provinces_server: str) -> None:
    await visit.page.goto(f"{provinces_server}/map")
    await wait_ready(visit.page)
    # A click on Shandong's shape (inside Jining's largest county): its 16 cities.
    largest = max((c for c in counties() if c.city_adcode == JINING), key=lambda c: c.boundary.area)
    inside = largest.boundary.representative_point()
    await click_at(visit, inside.x, inside.y)
    await visit.page.wait_for_url(f"**region={SHANDONG}**")
    await wait_ready(visit.page)
    await shows_the_apis_table(visit, provinces_server, SHANDONG, rows=16)
    assert await breadcrumb(visit.page) == "全国 › 山东省"
    # A click on 济宁市's row: its 11 counties, the city's figures and gaps.
    await visit.page.click(f'tr[data-adcode="{JINING}"]')
    await visit.page.wait_for_url(f"**region={JINING}**")
    await wait_ready(visit.page)
    await shows_the_apis_table(visit, provinces_server, JINING, rows=11)
    assert await breadcrumb(visit.page) == "全国 › 山东省 › 济宁市"
    coverage = await api(provinces_server, f"/v1/coverage/regions/{JINING}", kind="legal_aid")
    summary = await visit.page.text_content('[data-testid="region-summary"]') or ""
    assert f"面积覆盖率 {percent(coverage['covered_area_share'])}" in summary
    assert f"站点 {coverage['site_count']}" in summary
    gaps = await api(provinces_server, f"/v1/coverage/regions/{JINING}/gaps", kind="legal_aid")
    assert int(await visit.page.text_content('[data-testid="gap-count"]') or "") == len(gaps["features"]) > 0
    drawn = await visit.page.evaluate(
        """() => window.yizhan.map.queryRenderedFeatures({ layers: ['region-fill'] })
             .map((f) => f.properties.parent_adcode)"""
    )
    assert drawn and set(drawn) == {JINING}
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    await visit.page.screenshot(path=str(OUTPUT_DIR / "map-jining.png"), full_page=True)
    # Reloaded (or the link shared), the same level; back goes up a level at a time.
    await visit.page.reload()
    await wait_ready(visit.page)
    await shows_the_apis_table(visit, provinces_server, JINING, rows=11)
    await visit.page.go_back()
    await visit.page.wait_for_url(f"**region={SHANDONG}**")
    await wait_ready(visit.page)
    await shows_the_apis_table(visit, provinces_server, SHANDONG, rows=16)
    await visit.page.go_back()
    await visit.page.wait_for_url(f"**region={CHINA}**")
    await wait_ready(visit.page)
    await shows_the_apis_table(visit, provinces_server, CHINA, rows=1 + len(SMALL_PROVINCES))
    assert visit.errors == [] and visit.outside == []


async def test_a_county_is_marked_in_its_citys_table_and_the_breadcrumb_goes_up(
    visit: Visit, provinces_server: str
) -> None:
    counties = (await api(provinces_server, "/v1/regions", parent=JINING))["items"]
    county = counties[0]["adcode"]
    await visit.page.goto(f"{provinces_server}/map?region={county}&kind=legal_aid")
    await wait_ready(visit.page)
    await shows_the_apis_table(visit, provinces_server, JINING, rows=11)
    assert await visit.page.get_attribute(f'tr[data-adcode="{county}"]', "class") == "selected"
    assert await breadcrumb(visit.page) == f"全国 › 山东省 › 济宁市 › {counties[0]['name']}"
    assert await visit.page.input_value('[data-testid="region"]') == county
    await visit.page.click(f'[data-testid="breadcrumb"] a[data-adcode="{SHANDONG}"]')
    await visit.page.wait_for_url(f"**region={SHANDONG}**")
    await wait_ready(visit.page)
    await shows_the_apis_table(visit, provinces_server, SHANDONG, rows=16)
    await visit.page.go_back()
    await visit.page.wait_for_url(f"**region={county}**")
    await wait_ready(visit.page)
    await shows_the_apis_table(visit, provinces_server, JINING, rows=11)
    assert visit.errors == [] and visit.outside == []
