"""Absolute links (TileJSON, OGC API) name the service as configured (PUBLIC_BASE_URL) or as the socket it was
reached on, never as the request's Host or forwarding headers claim: a cache or a GIS client must not be handed
links to a host an attacker picked."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app

PATHS = [
    "/v1/tiles/sites.json",
    "/v1/tiles/gaps.json?kind=legal_aid",
    "/ogc",
    "/ogc/collections",
    "/ogc/collections/legal_aid",
    "/ogc/collections/legal_aid/items?limit=2",
    "/ogc/tileMatrixSets",
    "/ogc/collections/legal_aid/tiles/WebMercatorQuad",
    "/ogc/api",
]
SPOOFS = [
    {"Host": "evil.example"},
    {"Host": "evil.example:8443"},
    {"X-Forwarded-Host": "evil.example"},
    {"Forwarded": "host=evil.example;proto=https"},
]


def links_in(document: object) -> list[str]:
    """Every absolute URL in a JSON document."""
    if isinstance(document, dict):
        return [url for value in document.values() for url in links_in(value)]
    if isinstance(document, list):
        return [url for value in document for url in links_in(value)]
    return [document] if isinstance(document, str) and document.startswith(("http://", "https://")) else []


def own_links(document: object) -> list[str]:
    """The links to this service (not the OGC's vocabulary URIs)."""
    return [url for url in links_in(document) if "opengis.net" not in url]


@pytest.mark.parametrize("spoof", SPOOFS, ids=["host", "host-port", "x-forwarded-host", "forwarded"])
@pytest.mark.parametrize("path", PATHS)
def test_links_ignore_the_host_the_request_claims(live_server: str, path: str, spoof: dict[str, str]) -> None:
    answer = httpx.get(f"{live_server}{path}", headers=spoof)
    assert answer.status_code == 200, answer.text
    assert "evil.example" not in answer.text
    links = own_links(answer.json())
    assert links, "the answer has links to check"
    assert all(url.startswith(f"{live_server}/") for url in links), links


@pytest.fixture
async def published(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"public_base_url": "https://yizhan.example.cn/register"}))
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize("path", PATHS)
async def test_links_use_the_configured_public_base_url(published: FastAPI, path: str) -> None:
    transport = httpx.ASGITransport(app=published)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.5:8000") as http:
        answer = await http.get(path, headers={"Host": "evil.example"})
    assert answer.status_code == 200, answer.text
    links = own_links(answer.json())
    assert links and all(url.startswith("https://yizhan.example.cn/register/") for url in links), links
