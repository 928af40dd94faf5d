"""The pages the service serves say what they may load and that no other site may frame them: /map (scripts and
styles from here, tiles from here and the configured base map only), /docs and /redoc."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app


def directives(policy: str) -> dict[str, list[str]]:
    found = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        found[name] = sources
    return found


@pytest.mark.parametrize("path", ["/map", "/map?region=371600&kind=legal_aid", "/docs", "/redoc"])
async def test_a_page_cannot_be_framed_and_states_its_sources(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 200
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    policy = directives(answer.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    if path.startswith("/map"):
        assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        assert all("*" not in sources for sources in policy.values())  # no host but this one


@pytest.fixture
async def over_a_base_map(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(
        settings.model_copy(update={"map_base_url": "https://t{s}.tianditu.gov.cn/img_w/wmts?x={x}&y={y}&l={z}"})
    )
    async with app.router.lifespan_context(app):
        yield app


async def test_the_map_may_load_the_configured_base_map_and_nothing_else(over_a_base_map: FastAPI) -> None:
    transport = httpx.ASGITransport(app=over_a_base_map)
    async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as http:
        policy = directives((await http.get("/map")).headers["content-security-policy"])
    assert policy["img-src"] == ["'self'", "data:", "blob:", "https://*.tianditu.gov.cn"]
    assert policy["connect-src"] == ["'self'", "https://*.tianditu.gov.cn"]
    assert policy["script-src"] == ["'self'"]
