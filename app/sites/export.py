"""The register as files: GeoJSON, CSV or XLSX, with the field names a bulk import reads back."""

from typing import Any

import orjson

from app import geo
from app.database.read_pool import Reader
from app.formats import geojson, spreadsheets
from app.sites import fields, repository

# What a bulk import reads (so an export re-imports as-is): the site's id and natural key, the fields a partner
# writes, then the rest of the register's own (which an import leaves alone).
COLUMNS = [
    "id",
    *fields.names(fields.NATURAL_KEY),
    *fields.names(fields.PARTNER),
    *(name for name in fields.names(fields.REGISTER) if name != "id"),
]


async def rows(reader: Reader, kind: str | None, coordsys: str) -> list[dict[str, Any]]:
    return [geo.record_from_wgs84(record, coordsys) for record in await repository.all_live(reader, kind)]


def to_geojson(sites: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(geojson.feature_collection([geojson.point_feature(s) for s in sites]))


def _table(sites: list[dict[str, Any]]) -> list[list[Any]]:
    return [[s.get(c) for c in COLUMNS] for s in sites]


def to_csv(sites: list[dict[str, Any]]) -> bytes:
    return spreadsheets.to_csv(COLUMNS, _table(sites))


def to_xlsx(sites: list[dict[str, Any]]) -> bytes:
    return spreadsheets.to_xlsx(COLUMNS, _table(sites), "sites")
