"""The map's operations layer and lists, used as a planner would: switch the layer on for 滨州市 after visits at some
stations' doors, read which sites the map draws grey and which the idle list names, and compare them with the
usage API's idle stations; with a key entered, the overdue inspections and call-backs equal the API's (a comment
written as HTML shown as its characters)."""

import datetime as dt
import secrets

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app import china_time
from app.config import Settings
from app.keys import service as keys
from tests.web.conftest import OUTPUT_DIR, Visit, dropping_new_salts, wait_ready

BINZHOU = "371600"
HOSTILE = '<img src=x onerror="window.hacked=1">门锁着'
BUSY_SITES = 3


async def drawn(visit: Visit, layer: str) -> set[int]:
    ids = await visit.page.evaluate(
        f"() => window.yizhan.map.queryRenderedFeatures({{ layers: ['{layer}'] }}).map(f => f.properties.id)"
    )
    return set(ids)


async def operations_ready(visit: Visit) -> None:
    await visit.page.wait_for_function("() => document.body.dataset.operations === 'ready'", timeout=30_000)
    await visit.page.wait_for_function("() => window.yizhan.map.loaded() && !window.yizhan.map.isMoving()")


async def test_the_operations_layer_greys_the_idle_sites_and_lists_what_is_overdue(
    visit: Visit, live_server: str, settings: Settings, engine: AsyncEngine
) -> None:
    key_name = "滨州市运营" + secrets.token_hex(4)
    async with engine.begin() as conn:
        key = await keys.create(conn, key_name, ["write", "inspect"], BINZHOU[:4])
    auth = {"Authorization": f"Bearer {key}"}
    db = await asyncpg.connect(str(settings.database_url))
    today = china_time.today()
    async with dropping_new_salts(db), httpx.AsyncClient(base_url=live_server) as http:
        before = (await http.get(f"/v1/coverage/regions/{BINZHOU}/usage")).json()
        threshold = before["idle_rule"]["below_visits"]
        busy = [s["site_id"] for s in before["sites"] if s["idle"]][:BUSY_SITES]
        assert len(busy) == BUSY_SITES
        tokens = {}
        try:
            for site_id in busy:
                door = await http.get(f"/v1/sites/{site_id}/door", headers=auth)
                assert door.status_code == 200, door.text
                tokens[site_id] = door.json()["token"]
                for n in range(threshold):
                    scan = await http.post(
                        "/v1/visits",
                        json={"token": tokens[site_id], "worker_group": "courier"},
                        headers={"X-Client-Id": f"ops-test-{site_id}-{n:04d}"},
                    )
                    assert scan.status_code == 201, scan.text
            # A bad rating at one of them opens a call-back; made overdue as days would.
            rated = await http.post(
                f"/v1/sites/{busy[0]}/ratings",
                json={"token": tokens[busy[0]], "stars": 1, "tags": ["locked"], "comment": HOSTILE},
                headers={"X-Client-Id": "ops-test-rater-0001"},
            )
            assert rated.status_code == 201, rated.text
            await db.execute(
                "UPDATE site_callbacks SET due_on = $1 WHERE site_id = $2 AND status = 'open'",
                today - dt.timedelta(days=1),
                busy[0],
            )

            usage = (await http.get(f"/v1/coverage/regions/{BINZHOU}/usage")).json()
            idle = {s["site_id"] for s in usage["sites"] if s["idle"]}
            in_use = {s["site_id"] for s in usage["sites"] if not s["idle"]}
            # The visits made those three busy; the others stay idle (the demo has no visits of its own).
            assert set(busy) <= in_use and idle and not idle & set(busy)
            due = (await http.get("/v1/inspections/due", params={"region": BINZHOU}, headers=auth)).json()["items"]
            callbacks = (
                await http.get(
                    "/v1/callbacks", params={"region": BINZHOU, "overdue_on": str(today), "limit": 500}, headers=auth
                )
            ).json()["items"]
            assert due and any(c["site_id"] == busy[0] for c in callbacks)

            await visit.page.goto(f"{live_server}/map?region={BINZHOU}&kind=outdoor_station")
            await wait_ready(visit.page)
            assert await visit.page.text_content('[data-testid="due-status"]') == "需要密钥"
            await visit.page.check('[data-testid="operations-toggle"]')
            await operations_ready(visit)
            assert "layer=operations" in visit.page.url

            # What the map draws: the grey layer holds exactly the API's idle stations, the shaded one the rest.
            assert await drawn(visit, "operations-idle") == idle
            assert await drawn(visit, "operations-use") == in_use
            grey = await visit.page.evaluate(
                "() => window.yizhan.map.getPaintProperty('operations-idle', 'circle-color')"
            )
            assert grey == "#9e9e9e"
            assert await visit.page.is_visible('[data-testid="operations-legend"]')
            legend = await visit.page.text_content('[data-testid="operations-legend"]')
            assert f"少于 {threshold} 次" in legend
            listed = await visit.page.eval_on_selector_all(
                '[data-testid="idle-sites"] li', "items => items.map(li => Number(li.dataset.siteId))"
            )
            assert set(listed) == idle and len(listed) == len(idle)
            assert int(await visit.page.text_content('[data-testid="idle-count"]')) == len(idle)

            # With the key: the overdue lists as the API gives them, the comment's HTML as text.
            await visit.page.fill('[data-testid="operations-key"]', key)
            await visit.page.click('[data-testid="operations-key-use"]')
            await visit.page.wait_for_selector('[data-testid="inspections-due"] li')
            await visit.page.wait_for_selector('[data-testid="callbacks-overdue"] li')
            names = await visit.page.eval_on_selector_all(
                '[data-testid="inspections-due"] li', "items => items.map(li => li.firstChild.textContent)"
            )
            assert names == [d["name"] for d in due]
            assert int(await visit.page.text_content('[data-testid="due-count"]')) == len(due)
            shown = await visit.page.eval_on_selector_all(
                '[data-testid="callbacks-overdue"] li', "items => items.map(li => Number(li.dataset.callbackId))"
            )
            assert shown == [c["id"] for c in callbacks]
            callback_text = await visit.page.text_content('[data-testid="callbacks-overdue"]')
            assert HOSTILE in callback_text
            assert await visit.page.locator('[data-testid="operations-panel"] img').count() == 0
            assert await visit.page.evaluate("() => window.hacked") is None
            # A listed site opens its card.
            await visit.page.click('[data-testid="inspections-due"] li:first-child')
            await visit.page.wait_for_function(
                "name => document.querySelector('[data-testid=\"site-name\"]')?.textContent === name",
                arg=due[0]["name"],
            )
            assert visit.errors == [] and visit.outside == []
            OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
            await visit.page.screenshot(path=str(OUTPUT_DIR / "map-operations.png"), full_page=True)
        finally:
            sites = list(tokens) or busy
            for table in (
                "site_callbacks",
                "site_rating_totals",
                "site_ratings",
                "site_visit_days",
                "site_visits",
                "site_hour_profiles",
                "site_door_tokens",
            ):
                await db.execute(f"DELETE FROM {table} WHERE site_id = ANY($1::bigint[])", sites)
            await db.execute("DELETE FROM api_keys WHERE name = $1", key_name)
    await db.close()


async def test_a_key_that_does_not_open_a_list_says_why(
    visit: Visit, live_server: str, settings: Settings, engine: AsyncEngine
) -> None:
    key_name = "滨州市写入" + secrets.token_hex(4)
    async with engine.begin() as conn:
        key = await keys.create(conn, key_name, ["write"], BINZHOU[:4])
    try:
        async with httpx.AsyncClient(base_url=live_server) as http:
            refused = await http.get(
                "/v1/inspections/due", params={"region": BINZHOU}, headers={"Authorization": f"Bearer {key}"}
            )
        assert refused.status_code == 403
        await visit.page.goto(f"{live_server}/map?region={BINZHOU}&kind=outdoor_station")
        await wait_ready(visit.page)
        await visit.page.fill('[data-testid="operations-key"]', key)
        await visit.page.click('[data-testid="operations-key-use"]')
        await visit.page.wait_for_function(
            "() => !['', '需要密钥'].includes(document.querySelector('[data-testid=\"due-status\"]').textContent)"
        )
        assert await visit.page.text_content('[data-testid="due-status"]') == refused.json()["detail"]
        assert await visit.page.locator('[data-testid="inspections-due"] li').count() == 0
        assert await visit.page.text_content('[data-testid="due-count"]') == "—"
        # The key stays in this tab only: never in the URL.
        assert key not in visit.page.url
    finally:
        db = await asyncpg.connect(str(settings.database_url))
        await db.execute("DELETE FROM api_keys WHERE name = $1", key_name)
        await db.close()
