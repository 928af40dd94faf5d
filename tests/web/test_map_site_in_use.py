"""The map's site card shows the station in use as the API gives it: star level, workers' rating, last inspection,
and the latest comments as text (a comment written as HTML is shown as its characters, never run)."""

import asyncpg
import httpx

from app.config import Settings
from tests.web.conftest import Visit, wait_ready

HOSTILE = '<img src=x onerror="window.hacked=1">脏'


async def test_the_site_card_shows_stars_rating_inspection_and_escaped_comments(
    visit: Visit, live_server: str, settings: Settings
) -> None:
    db = await asyncpg.connect(str(settings.database_url))
    site_id = await db.fetchval(
        "SELECT id FROM sites WHERE region_adcode = '371602' AND kind = 'legal_aid' AND deleted_at IS NULL "
        "ORDER BY id DESC LIMIT 1"
    )
    try:
        for stars, comment in ((4, "干净"), (2, HOSTILE)):
            await db.execute(
                "INSERT INTO site_ratings (site_id, client, stars, comment) VALUES ($1, $2, $3, $4)",
                site_id,
                bytes([stars]) * 16,
                stars,
                comment,
            )
        await db.execute("INSERT INTO site_rating_totals (site_id, ratings, stars) VALUES ($1, 2, 6)", site_id)
        await db.execute(
            "INSERT INTO site_inspections (site_id, inspected_on, unannounced, hardware, equipment, signage, rules, "
            "funding, use, activities, level, passed, inspector, recorded_by) "
            "VALUES ($1, '2026-11-20', true, 90, 80, 80, 80, 80, 80, 81, 4, true, '王', 'x')",
            site_id,
        )
        async with httpx.AsyncClient(base_url=live_server) as http:
            site = (await http.get(f"/v1/sites/{site_id}")).json()
        assert (site["star_level"], site["worker_rating"]) == (4, {"mean": 3.0, "count": 2})
        await visit.page.goto(f"{live_server}/map?region=371602&kind=legal_aid&site={site_id}")
        await wait_ready(visit.page)
        await visit.page.wait_for_selector('[data-testid="site-star-level"]')
        assert await visit.page.text_content('[data-testid="site-star-level"]') == "★★★★"
        assert (
            await visit.page.text_content('[data-testid="site-worker-rating"]') == "3 (2 条)"
        )  # the API's 3.0, as JavaScript prints it
        assert await visit.page.text_content('[data-testid="site-last-inspection"]') == "2026-11-20 (81.6)"
        comments = visit.page.locator('[data-testid="site-comments"] li')
        assert await comments.all_text_contents() == [f"★★ {HOSTILE}", "★★★★ 干净"]
        assert await visit.page.locator('[data-testid="site-comments"] img').count() == 0
        assert await visit.page.evaluate("window.hacked") is None
    finally:
        for table in ("site_inspections", "site_rating_totals", "site_ratings"):
            await db.execute(f"DELETE FROM {table} WHERE site_id = $1", site_id)
        await db.close()
