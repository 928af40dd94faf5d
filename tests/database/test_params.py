"""Statements composed from fragments (app.database.params.Params): numbered in the order their values are added,
and written the same way for the same variant whatever the values, so that asyncpg's prepared statement (kept per
text) serves every call of a variant."""

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import shapely

from app.china_time import today
from app.coverage import repository as coverage
from app.database.params import Params
from app.sites import repository as sites
from app.sites.nearest import repository as nearest
from app.tiles import repository as tiles

PAST = dt.date(2024, 1, 1)
NOON = dt.datetime(2026, 6, 1, 12, 0)  # when the nearest candidates' standing is read (China time)


def test_placeholders_are_numbered_in_the_order_values_are_added() -> None:
    p = Params()
    assert [p.add("371602"), p.add(2000.0), p.add(None), p.add(["a"])] == ["$1", "$2", "$3", "$4"]
    assert p.values == ["371602", 2000.0, None, ["a"]]


class RecordingReader:
    """The test's connection, keeping each statement's text and arguments."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.sent.append((query, args))
        rows: list[asyncpg.Record] = await self.conn.fetch(query, *args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.sent.append((query, args))
        row: asyncpg.Record | None = await self.conn.fetchrow(query, *args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.sent.append((query, args))
        return await self.conn.fetchval(query, *args)


Call = Callable[[RecordingReader], Awaitable[object]]


async def _sent(conn: asyncpg.Connection, call: Call) -> tuple[str, tuple[Any, ...]]:
    reader = RecordingReader(conn)
    await call(reader)
    assert len(reader.sent) == 1
    return reader.sent[0]


async def test_each_variant_is_written_the_same_way_whatever_its_values(conn: asyncpg.Connection) -> None:
    regions = [await coverage.region(conn, adcode) for adcode in ("371602", "371621")]
    of = [
        coverage.Catchments(r["adcode"], "legal_aid", radius, r["equal_area_srid"], day, day == today())
        for r, radius, day in ((regions[0], 2000.0, today()), (regions[1], 5000.0, today()))
    ]
    past = [coverage.Catchments(o.adcode, o.kind, o.radius_m, o.srid, PAST, False) for o in of]
    area = shapely.to_wkb(shapely.box(0.0, 0.0, 1000.0, 1000.0))  # any covered area in the region's plane
    tile_a, tile_b = (14, 13560, 6280, 0.0, 0.0), (12, 3390, 1570, 310.5, -120.25)
    # Pairs of calls of one variant with different values, each pair a different variant.
    variants: list[tuple[Call, Call]] = [
        (lambda r: coverage.coverage(r, of[0]), lambda r: coverage.coverage(r, of[1], [(118.0, 37.4)])),
        (lambda r: coverage.uncovered_cells(r, past[0]), lambda r: coverage.uncovered_cells(r, of[1])),
        (lambda r: coverage.gaps(r, of[0], 10_000.0), lambda r: coverage.gaps(r, of[1], 1.0)),
        (lambda r: coverage.covered_figures(r, of[0], area), lambda r: coverage.covered_figures(r, past[1], area)),
        (
            lambda r: tiles.sites(r, tile_a, None, today(), True),
            lambda r: tiles.sites(r, tile_b, None, today(), True),
        ),
        (
            lambda r: tiles.sites(r, tile_a, ["legal_aid"], PAST, False),
            lambda r: tiles.sites(r, tile_b, ["legal_aid", "outdoor_station"], PAST, False),
        ),
        (
            lambda r: tiles.catchments(r, tile_a, "legal_aid", {"371602": 2000.0}, (0.1, 0.1), today(), True, []),
            lambda r: tiles.catchments(r, tile_b, "outdoor_station", {}, (0.0, 0.0), today(), True, []),
        ),
        (
            lambda r: nearest.candidates(r, 117.97, 37.38, 5000.0, 10, ["legal_aid"], [], None, PAST, False, NOON),
            lambda r: nearest.candidates(
                r, 118.1, 37.5, 900.0, 3, ["outdoor_station"], [], None, today(), False, NOON + dt.timedelta(hours=3)
            ),
        ),
        (
            lambda r: sites.page(r, sites.SiteFilter(region="371600", kinds=["legal_aid"]), 5, 10),
            lambda r: sites.page(r, sites.SiteFilter(region="371602", kinds=["outdoor_station"]), 900, 3),
        ),
    ]
    texts = []
    for first, second in variants:
        (text, args), (same_text, other_args) = await _sent(conn, first), await _sent(conn, second)
        assert text == same_text
        assert args != other_args
        texts.append(text)
    assert len(set(texts)) == len(variants)
