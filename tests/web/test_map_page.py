"""The planners' map in a real browser, used as a planner would: read the table, select a county, click the map,
ask where the next sites go, step the date, print — each compared with the API's own answer."""

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from app import china_time
from app.config import Settings
from app.geo import CoordSys
from tests.conftest import serving
from tests.tools import huangpu_database, run
from tests.web.conftest import OUTPUT_DIR, Visit, wait_ready

HUIMIN = "371621"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f} %"


async def api(live_server: str, path: str, **params: object) -> dict:
    async with httpx.AsyncClient(base_url=live_server) as http:
        r = await http.get(path, params=params)
        r.raise_for_status()
        return r.json()


async def table(visit: Visit) -> dict[str, list[str]]:
    rows = await visit.page.eval_on_selector_all(
        "tr[data-adcode]", "rows => rows.map(r => [r.dataset.adcode, ...[...r.cells].map(c => c.textContent.trim())])"
    )
    return {row[0]: row[1:] for row in rows}


async def test_the_page_loads_offline_and_draws_the_map(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/map?region=371600&kind=legal_aid")
    await wait_ready(visit.page)
    assert await visit.page.locator("#map canvas").count() == 1
    assert visit.errors == [] and visit.outside == []
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    await visit.page.screenshot(path=str(OUTPUT_DIR / "map.png"), full_page=True)


async def test_without_a_region_the_page_opens_on_the_largest_loaded_one(visit: Visit, live_server: str) -> None:
    # The demo has no country: its city, Binzhou (上海市 stands for 黄浦区 alone, where the 黄浦区 demo is loaded).
    await visit.page.goto(f"{live_server}/map")
    await wait_ready(visit.page)
    assert "region=371600" in visit.page.url
    assert len(await table(visit)) == 7
    assert await visit.page.text_content('[data-testid="breadcrumb"]') == "滨州市"


async def test_the_table_shows_the_apis_figures(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/map?region=371600&kind=legal_aid")
    await wait_ready(visit.page)
    expected = (await api(live_server, "/v1/coverage/regions/371600/children", kind="legal_aid"))["items"]
    shown = await table(visit)
    assert len(shown) == len(expected) == 7
    for row in expected:
        name, area, people, sites, _ = shown[row["adcode"]]
        assert (name, area, people, sites) == (
            row["name"],
            percent(row["covered_area_share"]),
            percent(row["covered_population_share"]),
            str(row["site_count"]),
        )


async def test_selecting_a_county_draws_its_gaps(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/map?region=371600&kind=legal_aid")
    await wait_ready(visit.page)
    await visit.page.click(f'tr[data-adcode="{HUIMIN}"]')
    await wait_ready(visit.page)
    gaps = await api(live_server, f"/v1/coverage/regions/{HUIMIN}/gaps", kind="legal_aid")
    assert int(await visit.page.text_content('[data-testid="gap-count"]')) == len(gaps["features"]) > 0
    drawn = await visit.page.evaluate("window.yizhan.map.getSource('gaps').getData().then(d => d.features.length)")
    assert drawn == len(gaps["features"])
    assert f"region={HUIMIN}" in visit.page.url
    assert await visit.page.is_visible('[data-testid="worst-served"]')


async def test_clicking_the_map_names_the_nearest_site(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/map?region=371602&kind=legal_aid")
    await wait_ready(visit.page)
    lat, lon = 37.41, 117.99
    point = await visit.page.evaluate(
        f"(() => {{ const p = window.yizhan.map.project([{lon}, {lat}]); return [p.x, p.y]; }})()"
    )
    box = await visit.page.locator("#map").bounding_box()
    assert box is not None
    await visit.page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    await visit.page.wait_for_selector('[data-testid="nearest-panel"] li')
    clicked = await visit.page.evaluate("window.yizhan.state.clickMarker.getLngLat()")
    nearest = await api(
        live_server, "/v1/sites/nearest", lat=clicked["lat"], lon=clicked["lng"], kind="legal_aid", limit=3
    )
    first = await visit.page.get_attribute('[data-testid="nearest-panel"] li', "data-site-id")
    assert int(first) == nearest["items"][0]["id"]
    answer = await visit.page.text_content('[data-testid="coverage-answer"]')
    point_coverage = await api(
        live_server, "/v1/coverage/point", lat=clicked["lat"], lon=clicked["lng"], kind="legal_aid"
    )
    assert ("已覆盖" if point_coverage["covered"] else "未覆盖") in answer


async def test_the_next_three_sites(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/map?region={HUIMIN}&kind=legal_aid")
    await wait_ready(visit.page)
    await visit.page.fill('[data-testid="suggest-count"]', "3")
    await visit.page.click('[data-testid="suggest-button"]')
    await visit.page.wait_for_selector('[data-testid="suggestions"] li:nth-child(3)')
    assert await visit.page.locator('[data-testid="suggestion-marker"]').count() == 3
    async with httpx.AsyncClient(base_url=live_server) as http:
        expected = (
            await http.post("/v1/coverage/suggest", json={"region": HUIMIN, "kind": "legal_aid", "count": 3})
        ).json()
    shown = await visit.page.eval_on_selector_all(
        '[data-testid="suggestions"] li', "items => items.map(i => [Number(i.dataset.lat), Number(i.dataset.lon)])"
    )
    assert shown == [[s["lat"], s["lon"]] for s in expected["suggestions"]]


async def test_stepping_the_date_shows_the_apis_figures_for_it(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/map?region=371600&kind=legal_aid")
    await wait_ready(visit.page)
    await visit.page.fill('[data-testid="as-of"]', "2025-06-30")
    await visit.page.dispatch_event('[data-testid="as-of"]', "change")
    await wait_ready(visit.page)
    assert "as_of=2025-06-30" in visit.page.url
    expected = (await api(live_server, "/v1/coverage/regions/371600/children", kind="legal_aid", as_of="2025-06-30"))[
        "items"
    ]
    shown = await table(visit)
    for row in expected:
        assert shown[row["adcode"]][3] == str(row["site_count"])
        assert shown[row["adcode"]][1] == percent(row["covered_area_share"])
    await visit.page.click('[data-testid="month-next"]')
    await wait_ready(visit.page)
    assert "as_of=2025-07-31" in visit.page.url


async def test_clicking_a_site_shows_its_hours_as_the_api_gives_them(visit: Visit, live_server: str) -> None:
    sites = await api(live_server, "/v1/sites", region="371602", kind="legal_aid", limit=1)
    site = sites["items"][0]
    await visit.page.goto(f"{live_server}/map?region=371602&kind=legal_aid&site={site['id']}")
    await wait_ready(visit.page)
    await visit.page.wait_for_selector('[data-testid="site-name"]')
    assert await visit.page.text_content('[data-testid="site-name"]') == site["name"]
    assert await visit.page.text_content('[data-testid="site-hours"]') == (site["opening_hours"] or "—")
    near = await api(live_server, "/v1/sites/nearest", lat=site["lat"], lon=site["lon"], kind="legal_aid", limit=5)
    live = next(i for i in near["items"] if i["id"] == site["id"])
    shown = await visit.page.text_content('[data-testid="site-open-now"]')
    assert shown == {True: "正在开放", False: "当前关闭", None: "—"}[live["open_now"]]


async def test_clicking_a_site_shows_its_open_status_without_a_nearest_search(
    visit: Visit, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The live server runs in this process: its clock pinned, the page and this test read the site at one instant,
    # a Monday morning the site below is open.
    instant = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    monkeypatch.setattr(china_time, "_utc_now", lambda: instant.astimezone(dt.UTC))
    await visit.page.goto(f"{live_server}/map?region=371602&kind=legal_aid")
    await wait_ready(visit.page)
    coordsys = await visit.page.evaluate("() => document.body.dataset.coordsys")
    datum = {"coordsys": coordsys} if coordsys == "gcj02" else {}
    listed = await api(live_server, "/v1/sites", region="371602", kind="legal_aid", status="active", limit=100)
    site = next(s for s in listed["items"] if s["opening_hours"] == "Mo-Fr 08:30-12:00,13:30-17:30")
    expected = await api(live_server, f"/v1/sites/{site['id']}", **datum)
    assert (expected["open_now"], expected["closes_at"]) == (True, "2026-11-23T12:00:00+08:00")
    await visit.page.evaluate(
        """([lon, lat]) => new Promise((resolve) => {
             const map = window.yizhan.map;
             map.once("idle", resolve);
             map.jumpTo({ center: [lon, lat], zoom: 15 });
           })""",
        [expected["lon"], expected["lat"]],
    )
    x, y = await visit.page.evaluate(
        "([lon, lat]) => { const p = window.yizhan.map.project([lon, lat]); return [p.x, p.y]; }",
        [expected["lon"], expected["lat"]],
    )
    drawn = await visit.page.evaluate(
        """([x, y]) => window.yizhan.map.queryRenderedFeatures([x, y], { layers: ["sites"] })
             .map((f) => f.id ?? f.properties.id)""",
        [x, y],
    )
    assert site["id"] in drawn
    asked: list[str] = []
    visit.page.on("request", lambda request: asked.append(request.url))
    box = await visit.page.locator("#map").bounding_box()
    assert box is not None
    await visit.page.mouse.click(box["x"] + x, box["y"] + y)
    await visit.page.wait_for_selector('[data-testid="site-name"]')
    assert await visit.page.text_content('[data-testid="site-name"]') == site["name"]
    assert await visit.page.text_content('[data-testid="site-open-now"]') == "正在开放"
    assert await visit.page.text_content('[data-testid="site-next-change"]') == "关闭时间 2026-11-23T12:00:00+08:00"
    assert any(f"/v1/sites/{site['id']}" in url for url in asked)
    assert not [url for url in asked if "/v1/sites/nearest" in url]


async def test_the_print_layout_holds_map_table_legend_rule_and_date(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/map?region=371600&kind=legal_aid&as_of=2026-06-30")
    await wait_ready(visit.page)
    await visit.page.emulate_media(media="print")
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    pdf = OUTPUT_DIR / "map.pdf"
    await visit.page.pdf(path=str(pdf), format="A4", landscape=True, print_background=True)
    text = await run("pdftotext", "-layout", str(pdf), "-")
    squeezed = "".join(text.split())
    expected = await api(live_server, "/v1/coverage/regions/371600/children", kind="legal_aid", as_of="2026-06-30")
    for row in expected["items"]:
        assert row["name"] in squeezed
    assert "2026-06-30" in text and "规则" in squeezed and "图例" in squeezed and "数据来源" in squeezed
    size = next(line for line in (await run("pdfinfo", str(pdf))).splitlines() if line.startswith("Page size:"))
    width, _, height = size.split()[2:5]
    assert "A4" in size and float(width) > float(height)  # landscape


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_the_api_docs_work_offline(visit: Visit, live_server: str, path: str) -> None:
    await visit.page.goto(f"{live_server}{path}")
    await visit.page.get_by_text("/v1/sites/nearest").first.wait_for(timeout=30_000)
    assert visit.outside == []


@pytest.fixture(scope="module")
def gcj02_server(settings: Settings) -> Iterator[str]:
    """The service configured with a GCJ-02 base map (an Amap-like URL: refused offline, never reached)."""
    over_amap = settings.model_copy(
        update={
            "map_base_url": "https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8",
            "map_base_coordsys": CoordSys.gcj02,
        }
    )
    with serving(over_amap) as base:
        yield base


async def test_over_a_gcj02_base_map_everything_is_drawn_in_gcj02(visit: Visit, gcj02_server: str) -> None:
    await visit.page.goto(f"{gcj02_server}/map?region=371602&kind=legal_aid")
    await wait_ready(visit.page)
    tiles = await visit.page.evaluate("window.yizhan.map.getSource('sites').tiles[0]")
    assert "coordsys=gcj02" in tiles
    worst = await visit.page.evaluate("window.yizhan.state.markers[0].getLngLat()")
    coverage = await api(gcj02_server, "/v1/coverage/regions/371602", kind="legal_aid", coordsys="gcj02")
    assert (worst["lng"], worst["lat"]) == pytest.approx(
        (coverage["worst_served"]["lon"], coverage["worst_served"]["lat"])
    )
    box = await visit.page.locator("#map").bounding_box()
    assert box is not None
    # A spot in the upper half with no site drawn under the pointer (a click on a site opens its details).
    free = await visit.page.evaluate(
        """(() => { const map = window.yizhan.map, c = map.getCanvas();
        for (let y = 0.2; y < 0.5; y += 0.05) for (let x = 0.3; x < 0.8; x += 0.05) {
          const p = [x * c.clientWidth, y * c.clientHeight];
          const around = [[p[0] - 8, p[1] - 8], [p[0] + 8, p[1] + 8]];
          if (!map.queryRenderedFeatures(around, {layers: ['sites', 'site-counts']}).length) return p; } })()"""
    )
    await visit.page.mouse.click(box["x"] + free[0], box["y"] + free[1])
    await visit.page.wait_for_selector('[data-testid="nearest-panel"] li')
    clicked = await visit.page.evaluate("window.yizhan.state.clickMarker.getLngLat()")
    nearest = await api(
        gcj02_server, "/v1/sites/nearest", lat=clicked["lat"], lon=clicked["lng"], kind="legal_aid", coordsys="gcj02"
    )
    assert (
        int(await visit.page.get_attribute('[data-testid="nearest-panel"] li', "data-site-id"))
        == nearest["items"][0]["id"]
    )
    assert all("autonavi" in url for url in visit.outside)  # the online base map is the only outside request


@pytest.fixture(scope="module")
def huangpu_server() -> Iterator[str]:
    """The service over the 黄浦区 demo, whose stations' 15-minute walk is travelled on its road network."""
    with huangpu_database("huangpu_map") as settings, serving(settings) as base:
        yield base


async def test_a_network_rule_draws_isochrones_and_its_radius_beside_them(visit: Visit, huangpu_server: str) -> None:
    await visit.page.goto(f"{huangpu_server}/map?region=310101&kind=outdoor_station")
    await wait_ready(visit.page)
    coverage = await api(huangpu_server, "/v1/coverage/regions/310101", kind="outdoor_station")
    assert await visit.page.input_value('[data-testid="region"]') == "310101"  # a municipality's district is listed
    shown = await visit.page.text_content('[data-testid="region-method"]')
    assert shown is not None and coverage["method"] in shown and coverage["method"].startswith("road network: ")
    assert "OpenStreetMap" in (await visit.page.text_content('[data-testid="region-summary"]') or "")
    assert "OpenStreetMap" in (await visit.page.text_content('[data-testid="legend-rule"]') or "")
    await visit.page.click('[data-testid="compare-radius"]')
    # Closer in, then wait until every tile is drawn.
    await visit.page.evaluate(
        """new Promise(done => { const map = window.yizhan.map; map.once('idle', done);
             map.jumpTo({center: [121.474, 31.230], zoom: 14}); })"""
    )
    drawn = await visit.page.evaluate(
        """['catchments', 'catchments-radius'].map(source => window.yizhan.map
             .querySourceFeatures(source, {sourceLayer: 'catchments'}).map(f => f.properties))"""
    )
    isochrones, circles = drawn
    assert isochrones and all(p.get("mode") == "walk" for p in isochrones)
    assert circles and {p["radius_m"] for p in circles} == {coverage["rule"]["radius_m"]}
    assert visit.errors == [] and visit.outside == []
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    await visit.page.screenshot(path=str(OUTPUT_DIR / "map-huangpu.png"), full_page=True)
