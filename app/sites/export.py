"""The register as files: GeoJSON, CSV or XLSX, with the field names a bulk import reads back."""

import csv
import io
from typing import Any

import orjson
from openpyxl import Workbook

from app import geo
from app.db import Reader
from app.sites.repository import SITE_COLUMNS, STAGE_COLUMNS

# What a bulk import reads (so an export re-imports as-is), led by the natural key, then the register's own fields.
COLUMNS = [
    "id",
    "source",
    "external_id",
    *(c for c in STAGE_COLUMNS if c not in ("source", "external_id")),
    "region_adcode",
    "updated_at",
    "version",
]

EXPORT_SQL = f"""
SELECT {SITE_COLUMNS} FROM sites s
WHERE s.deleted_at IS NULL AND ($1::text IS NULL OR s.kind = $1)
ORDER BY s.id
"""


async def rows(reader: Reader, kind: str | None, coordsys: str) -> list[dict[str, Any]]:
    result = []
    for record in await reader.fetch(EXPORT_SQL, kind):
        row = dict(record)
        row["lon"], row["lat"] = geo.from_wgs84(row["lon"], row["lat"], coordsys)
        result.append(row)
    return result


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def to_geojson(sites: list[dict[str, Any]]) -> bytes:
    features = [
        {
            "type": "Feature",
            "id": s["id"],
            "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
            "properties": {k: v for k, v in s.items() if k not in ("lat", "lon")},
        }
        for s in sites
    ]
    return orjson.dumps({"type": "FeatureCollection", "features": features})


def to_csv(sites: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows([[_cell(s.get(c)) for c in COLUMNS] for s in sites])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel on Chinese Windows reads it as UTF-8


def to_xlsx(sites: list[dict[str, Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "sites"
    sheet.append(COLUMNS)
    for s in sites:
        sheet.append([_cell(s.get(c)) for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
