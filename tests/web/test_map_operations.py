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
# The kind every page here shows, which the operations layer follows: the API asked the same.
OF_KIND = {"kind": "outdoor_station"}


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
        before = (await http.get(f"/v1/coverage/regions/{BINZHOU}/usage", params=OF_KIND)).json()
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

            usage = (await http.get(f"/v1/coverage/regions/{BINZHOU}/usage", params=OF_KIND)).json()
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


AS_OF = dt.date(2026, 9, 30)
DAY_BEFORE = AS_OF - dt.timedelta(days=1)
# One station's visits by day: 29 in the 30 days ending AS_OF (one short of the default rule of 30), 40 the day
# before that window, inside DAY_BEFORE's: idle as of AS_OF, in use as of the day before (29 - 9 + 40 = 60).
SHIFTING = {dt.date(2026, 8, 31): 40, dt.date(2026, 9, 1): 10, dt.date(2026, 9, 15): 10, AS_OF: 9}


async def idle_listed(visit: Visit) -> set[int]:
    listed = await visit.page.eval_on_selector_all(
        '[data-testid="idle-sites"] li', "items => items.map(li => Number(li.dataset.siteId))"
    )
    assert len(listed) == len(set(listed))
    return set(listed)


async def test_the_operations_layer_judges_idle_on_the_pages_date(
    visit: Visit, live_server: str, settings: Settings
) -> None:
    db = await asyncpg.connect(str(settings.database_url))
    placed: list[int] = []
    try:
        async with httpx.AsyncClient(base_url=live_server) as http:

            async def usage_on(day: dt.date) -> dict:
                answer = await http.get(f"/v1/coverage/regions/{BINZHOU}/usage", params={**OF_KIND, "as_of": str(day)})
                assert answer.status_code == 200, answer.text
                return answer.json()

            before = await usage_on(AS_OF)
            assert before["idle_rule"]["below_visits"] == 30
            serving = [s["site_id"] for s in before["sites"] if s["serving"] and s["visits_last_30_days"] == 0]
            shifting, busy = serving[:2]
            placed += [shifting, busy]
            rows = [(shifting, day, n) for day, n in SHIFTING.items()]
            rows += [(busy, day, 40) for day in (DAY_BEFORE, AS_OF)]  # in use on both dates
            await db.executemany(
                "INSERT INTO site_visit_days (site_id, day, worker_group, visits) VALUES ($1, $2, 'courier', $3)", rows
            )
            on, day_before = await usage_on(AS_OF), await usage_on(DAY_BEFORE)
        idle_on = {s["site_id"] for s in on["sites"] if s["idle"]}
        idle_before = {s["site_id"] for s in day_before["sites"] if s["idle"]}
        assert shifting in idle_on and shifting not in idle_before and busy not in idle_on | idle_before
        # The same sites stood on both days, so the rest of the idle sets agree.
        assert idle_on - {shifting} == idle_before

        await visit.page.goto(f"{live_server}/map?region={BINZHOU}&kind=outdoor_station&as_of={AS_OF}&layer=operations")
        await wait_ready(visit.page)
        await operations_ready(visit)
        assert await drawn(visit, "operations-idle") == idle_on
        assert await idle_listed(visit) == idle_on
        assert int(await visit.page.text_content('[data-testid="idle-count"]')) == len(idle_on)
        summary = await visit.page.text_content('[data-testid="operations-summary"]')
        assert summary.startswith(f"{on['from']} – {on['to']} ") and on["to"] == str(AS_OF)
        assert str(AS_OF) in await visit.page.text_content('[data-testid="operations-legend-days"]')
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        await visit.page.click('[data-testid="operations-panel"] summary')  # opens the idle list
        await visit.page.locator('[data-testid="operations-panel"]').scroll_into_view_if_needed()
        await visit.page.screenshot(path=str(OUTPUT_DIR / "map-operations-as-of.png"), full_page=True)

        # A planner steps the date back a day: the station the 40 visits now fall within is no longer idle.
        await visit.page.fill('[data-testid="as-of"]', str(DAY_BEFORE))
        await visit.page.wait_for_function(
            "day => document.querySelector('[data-testid=\"operations-summary\"]').textContent.includes(' – ' + day)",
            arg=str(DAY_BEFORE),
        )
        await operations_ready(visit)
        assert f"as_of={DAY_BEFORE}" in visit.page.url
        assert await drawn(visit, "operations-idle") == idle_before
        assert shifting in await drawn(visit, "operations-use")
        assert await idle_listed(visit) == idle_before
        assert visit.errors == [] and visit.outside == []
    finally:
        await db.execute("DELETE FROM site_visit_days WHERE site_id = ANY($1::bigint[])", placed)
        await db.close()


async def test_workers_reports_are_listed_and_ringed_on_the_layer(
    visit: Visit, live_server: str, settings: Settings, engine: AsyncEngine
) -> None:
    key_name = "滨州市报告" + secrets.token_hex(4)
    async with engine.begin() as conn:
        key = await keys.create(conn, key_name, ["write", "inspect"], BINZHOU[:4])
    auth = {"Authorization": f"Bearer {key}"}
    db = await asyncpg.connect(str(settings.database_url))
    today = china_time.today()
    filed: list[int] = []
    try:
        async with httpx.AsyncClient(base_url=live_server) as http:
            usage = (await http.get(f"/v1/coverage/regions/{BINZHOU}/usage", params=OF_KIND)).json()
            sites = [s["site_id"] for s in usage["sites"]][:3]
            for site_id, body in zip(
                sites,
                (
                    {"type": "locked", "note": HOSTILE},
                    {"type": "closed"},
                    {"type": "needs_app", "note": "门口要扫码 & 登记"},
                ),
                strict=True,
            ):
                answer = await http.post(f"/v1/sites/{site_id}/reports", json=body)
                assert answer.status_code == 201, answer.text
                filed.append(answer.json()["id"])
            # The first filed a week ago: due 3 days after, so overdue today.
            await db.execute("UPDATE site_reports SET created_at = now() - interval '7 days' WHERE id = $1", filed[0])
            open_reports = (
                await http.get("/v1/reports", params={"region": BINZHOU, "status": "open", "limit": 500}, headers=auth)
            ).json()["items"]
            overdue = (
                await http.get(
                    "/v1/reports", params={"region": BINZHOU, "overdue_on": str(today), "limit": 500}, headers=auth
                )
            ).json()["items"]
        assert set(filed) <= {r["id"] for r in open_reports}
        assert filed[0] in {r["id"] for r in overdue} and not {filed[1], filed[2]} & {r["id"] for r in overdue}

        await visit.page.goto(f"{live_server}/map?region={BINZHOU}&kind=outdoor_station&layer=operations")
        await wait_ready(visit.page)
        await operations_ready(visit)
        assert await visit.page.text_content('[data-testid="reports-open-status"]') == "需要密钥"
        assert await drawn(visit, "operations-reported") == set()
        await visit.page.fill('[data-testid="operations-key"]', key)
        await visit.page.click('[data-testid="operations-key-use"]')
        await visit.page.wait_for_selector('[data-testid="reports-open"] li')
        await visit.page.wait_for_selector('[data-testid="reports-overdue"] li')
        await operations_ready(visit)

        def ids(testid: str) -> str:
            return f'[data-testid="{testid}"] li'

        shown = await visit.page.eval_on_selector_all(
            ids("reports-open"), "items => items.map(li => [Number(li.dataset.reportId), li.firstChild.textContent])"
        )
        assert shown == [[r["id"], r["site_name"]] for r in open_reports]
        assert int(await visit.page.text_content('[data-testid="reports-open-count"]')) == len(open_reports)
        shown_overdue = await visit.page.eval_on_selector_all(
            ids("reports-overdue"), "items => items.map(li => Number(li.dataset.reportId))"
        )
        assert shown_overdue == [r["id"] for r in overdue]
        # The notes as their characters: the HTML one is text, nothing of it runs or becomes an element.
        text = await visit.page.text_content('[data-testid="reports-open"]')
        assert HOSTILE in text and "门口要扫码 & 登记" in text and "锁门进不去" in text
        assert await visit.page.locator('[data-testid="operations-panel"] img').count() == 0
        assert await visit.page.evaluate("() => window.hacked") is None
        # The ringed sites are those of the layer (the page's kind) with an open report.
        on_layer = {s["site_id"] for s in usage["sites"]}
        ringed = {r["site_id"] for r in open_reports} & on_layer
        assert set(sites) <= ringed and await drawn(visit, "operations-reported") == ringed
        assert key not in visit.page.url
        assert visit.errors == [] and visit.outside == []
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        await visit.page.locator('[data-testid="reports-overdue"]').scroll_into_view_if_needed()
        await visit.page.screenshot(path=str(OUTPUT_DIR / "map-operations-reports.png"), full_page=True)
        # Forgetting the key takes the lists and the rings away.
        await visit.page.click('[data-testid="operations-key-forget"]')
        await visit.page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"reports-open\"] li').length === 0"
        )
        await operations_ready(visit)
        assert await drawn(visit, "operations-reported") == set()
    finally:
        await db.execute("DELETE FROM site_reports WHERE id = ANY($1::bigint[])", filed)
        await db.execute("DELETE FROM api_keys WHERE name = $1", key_name)
        await db.close()


async def test_a_key_without_the_write_scope_sees_why_the_reports_are_not_listed(
    visit: Visit, live_server: str, settings: Settings, engine: AsyncEngine
) -> None:
    key_name = "滨州市检查" + secrets.token_hex(4)
    async with engine.begin() as conn:
        key = await keys.create(conn, key_name, ["inspect"], BINZHOU[:4])
    try:
        async with httpx.AsyncClient(base_url=live_server) as http:
            refused = await http.get(
                "/v1/reports", params={"region": BINZHOU, "status": "open"}, headers={"Authorization": f"Bearer {key}"}
            )
        assert refused.status_code == 403
        reason = refused.json()["detail"]
        await visit.page.goto(f"{live_server}/map?region={BINZHOU}&kind=outdoor_station&layer=operations")
        await wait_ready(visit.page)
        await visit.page.fill('[data-testid="operations-key"]', key)
        await visit.page.click('[data-testid="operations-key-use"]')
        await visit.page.wait_for_function(
            "() => !['', '需要密钥']"
            ".includes(document.querySelector('[data-testid=\"reports-open-status\"]').textContent)"
        )
        for testid in ("reports-open", "reports-overdue"):
            assert await visit.page.text_content(f'[data-testid="{testid}-status"]') == reason
            assert await visit.page.locator(f'[data-testid="{testid}"] li').count() == 0
            assert await visit.page.text_content(f'[data-testid="{testid}-count"]') == "—"
        assert await drawn(visit, "operations-reported") == set()
    finally:
        db = await asyncpg.connect(str(settings.database_url))
        await db.execute("DELETE FROM api_keys WHERE name = $1", key_name)
        await db.close()
