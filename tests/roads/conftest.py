"""What the road-network tests share: the independent reference network and a client of the service on the
module's own database (each module's `database` fixture)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.roads.reference import EXTRACT, ReferenceNetwork


@pytest.fixture(scope="session")
def reference() -> ReferenceNetwork:
    return ReferenceNetwork(EXTRACT)


@pytest.fixture
async def http(database: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as client:
            yield client
