"""Headless Chromium driving the service on a real port (tests/conftest.py live_server).

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run), driven by Playwright; WebGL through SwiftShader.
Every request to a host other than 127.0.0.1 is refused and recorded, so a test can assert the page asked none.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright

from app.paths import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_INSTALLED = Path(CHROMIUM).exists()
# Where CI keeps test output (screenshots, the printed PDF).
OUTPUT_DIR = Path(os.environ.get("TEST_OUTPUT_DIR", PROJECT_ROOT / ".test-output"))


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM_INSTALLED:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    async with async_playwright() as p:
        found = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
        )
        yield found
        await found.close()


@dataclass
class Visit:
    page: Page
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@pytest.fixture
async def visit(browser: Browser) -> AsyncIterator[Visit]:
    context = await browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    page = await context.new_page()
    found = Visit(page)
    page.on("console", lambda m: found.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.errors.append(str(e)))

    async def only_this_machine(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            await route.continue_()  # type: ignore[attr-defined]
        else:
            found.outside.append(url)
            await route.abort()  # type: ignore[attr-defined]

    await page.route("**/*", only_this_machine)
    yield found
    await context.close()


async def wait_ready(page: Page) -> None:
    # Functions, not expressions: Playwright evaluates an expression with eval, which the map's
    # Content-Security-Policy refuses (as it should any page script).
    await page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
    await page.wait_for_function("() => window.yizhan.map.loaded()", timeout=30_000)


# The daily salts visits and ratings make: a page test that commits visits or ratings drops those it made, or the
# visits tests later in the session find today's salt beside theirs.
SALTS = {"visit_salts": "day", "rating_salts": "period"}


@asynccontextmanager
async def dropping_new_salts(db: asyncpg.Connection) -> AsyncIterator[None]:
    kept = {table: [row[key] for row in await db.fetch(f"SELECT {key} FROM {table}")] for table, key in SALTS.items()}
    try:
        yield
    finally:
        for table, key in SALTS.items():
            await db.execute(f"DELETE FROM {table} WHERE NOT {key} = ANY($1)", kept[table])
