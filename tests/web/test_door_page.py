"""The door page the QR code leads to (/d/{token}), used in headless Chromium as a worker would."""

import secrets

import asyncpg
from playwright.async_api import Browser, expect

from app.config import Settings
from tests.web.conftest import dropping_new_salts


async def test_the_door_page_checks_in_rates_and_reports_in_a_browser(
    live_server: str, settings: Settings, browser: Browser
) -> None:
    """The page the QR code leads to, used as a worker would: check in, then again (counted once), rate with a
    hostile comment (shown nowhere as HTML), report a problem (from the door: with its token); a rotated token's
    page finds no station."""
    db = await asyncpg.connect(str(settings.database_url))
    site_id = await db.fetchval("SELECT id FROM sites WHERE deleted_at IS NULL ORDER BY id DESC OFFSET 3 LIMIT 1")
    token = secrets.token_urlsafe(16)
    await db.execute("INSERT INTO site_door_tokens (site_id, token) VALUES ($1, $2)", site_id, token)
    async with dropping_new_salts(db):
        try:
            page = await browser.new_page()
            await page.goto(f"{live_server}/d/{token}")
            assert await page.locator("h1").inner_text() == await db.fetchval(
                "SELECT name FROM sites WHERE id = $1", site_id
            )
            await page.select_option("#worker-group", "sanitation")
            await page.click("#check-in")
            await expect(page.locator("#said")).to_contain_text("签到成功")
            await page.click("#check-in")
            await expect(page.locator("#said")).to_contain_text("已签到")
            await page.select_option("select[name=stars]", "2")
            await page.check("input[value=dirty]")
            await page.fill("textarea[name=comment]", "<b>脏</b>")
            await page.click("#rate button")
            await expect(page.locator("#said")).to_contain_text("谢谢")
            await page.select_option("select[name=type]", "locked")
            await page.click("#report button")
            await expect(page.locator("#said")).to_contain_text("已反映")
            visits = await db.fetch("SELECT worker_group FROM site_visits WHERE site_id = $1", site_id)
            assert [v["worker_group"] for v in visits] == ["sanitation"]
            rating = await db.fetchrow("SELECT stars, tags, comment FROM site_ratings WHERE site_id = $1", site_id)
            assert (rating["stars"], rating["tags"], rating["comment"]) == (2, ["dirty"], "<b>脏</b>")
            # Filed with the door's token: stored as from the door, as the reviewers' queue shows it.
            report = await db.fetchrow(
                "SELECT type, from_door FROM site_reports WHERE site_id = $1 AND status = 'open'", site_id
            )
            assert (report["type"], report["from_door"]) == ("locked", True)
            await db.execute(
                "UPDATE site_door_tokens SET token = $2 WHERE site_id = $1", site_id, secrets.token_urlsafe(16)
            )
            gone = await page.goto(f"{live_server}/d/{token}")
            assert gone is not None and gone.status == 404
            await page.close()
        finally:
            for table in ("site_visits", "site_visit_days", "site_hour_profiles", "site_callbacks", "site_ratings",
                          "site_rating_totals", "site_reports", "site_door_tokens"):  # fmt: skip
                await db.execute(f"DELETE FROM {table} WHERE site_id = $1", site_id)
            await db.execute("UPDATE sites SET access_reported = false WHERE id = $1", site_id)
    await db.close()
