"""Coverage answers kept for the same state of the register (app.coverage.kept), by the application that computed
them."""

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.china_time import today
from app.config import Settings
from app.coverage import figures, repository
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.main import create_app

LEAF = "371602"  # 滨城区, a county-level district: its own rule applies


class CountingReader:
    """The test's connection, counting the statements sent through it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.sent = 0

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.sent += 1
        rows: list[asyncpg.Record] = await self.conn.fetch(query, *args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.sent += 1
        row: asyncpg.Record | None = await self.conn.fetchrow(query, *args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.sent += 1
        return await self.conn.fetchval(query, *args)


async def test_a_kept_answer_is_not_computed_again_and_another_store_computes_its_own(
    conn: asyncpg.Connection,
) -> None:
    reader = CountingReader(conn)
    ev = Evaluation("legal_aid", today(), None, state=await repository.register_state(conn))
    kept = CoverageKept()
    first = await figures.region_coverage(reader, kept, LEAF, ev)
    reader.sent = 0
    assert await figures.region_coverage(reader, kept, LEAF, ev) == first
    assert reader.sent == 2  # the region looked up, the state of the sites around it read, its figures kept
    reader.sent = 0
    assert await figures.region_coverage(reader, CoverageKept(), LEAF, ev) == first
    assert reader.sent > 1  # computed again


async def test_the_routes_keep_answers_on_their_application(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    mine, the_apps = CoverageKept(), app.state.coverage_kept
    # Swapped by hand: pytest's monkeypatch deletes a Starlette State attribute on undo instead of restoring it.
    app.state.coverage_kept = mine
    try:
        response = await client.get(f"/v1/coverage/regions/{LEAF}", params={"kind": "legal_aid"})
    finally:
        app.state.coverage_kept = the_apps
    assert response.status_code == 200, response.text
    assert len(mine) == 1
    other = create_app(settings).state.coverage_kept
    assert isinstance(other, CoverageKept) and other is not mine and len(other) == 0


BINZHOU = "371600"


async def test_a_parents_leaves_made_in_one_statement_are_each_one_made_alone(
    reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table's rows (its leaves' first statements batched, app.coverage.figures) equal each leaf's own row, and
    two questions asking for the same leaves at once make each leaf's statement once."""
    asked: list[str] = []
    made = repository.coverage_and_worst_served

    async def counted(reader: Any, leaves: list[tuple[repository.Catchments, float]]) -> Any:
        asked.extend(of.adcode for of, _ in leaves)
        return await made(reader, leaves)

    monkeypatch.setattr(repository, "coverage_and_worst_served", counted)
    ev = Evaluation("legal_aid", today(), None, state=await repository.register_state(reader))
    kept = CoverageKept()
    first, second = await asyncio.gather(
        figures.child_rows(reader, kept, BINZHOU, ev), figures.child_rows(reader, kept, BINZHOU, ev)
    )
    assert first == second
    assert sorted(asked) == sorted(row["adcode"] for row in first)  # each county once, for both questions
    for row in first:
        alone = await figures.region_coverage(reader, CoverageKept(), row["adcode"], ev)
        assert alone == {"kind": "legal_aid", "as_of": today().isoformat(), **row}
