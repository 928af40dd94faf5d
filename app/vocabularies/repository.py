"""SQL for the vocabularies that are data (site kinds, amenities)."""

from app.database.read_pool import Reader

# The table names are fixed here, never taken from a request.
LABELLED_SQL = {
    table: f"SELECT code, label_zh AS zh, label_en AS en FROM {table} ORDER BY sort_order, code"
    for table in ("site_kinds", "amenities")
}


async def labelled(reader: Reader, table: str) -> list[dict[str, str]]:
    return [dict(r) for r in await reader.fetch(LABELLED_SQL[table])]
