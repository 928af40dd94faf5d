"""SQL for targets and their history. A target's every write and the history row it leaves are one statement, so
neither can be written without the other."""

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.params import Params
from app.database.read_pool import Reader

# A region and every region below it.
_REGION_AND_BELOW = """
WITH RECURSIVE tree AS (
    SELECT adcode FROM regions WHERE adcode = {adcode}
    UNION ALL
    SELECT r.adcode FROM regions r JOIN tree ON r.parent_adcode = tree.adcode
)
SELECT adcode FROM tree"""

DOCUMENT = (
    "jsonb_build_object('region', t.region_adcode, 'kind', t.kind, 'measure', t.measure, 'value', t.value, "
    "'due_on', t.due_on, 'starts_on', t.starts_on, 'start_value', t.start_value, 'note', t.note, "
    "'status', t.status)"
)

TARGET_COLUMNS = """
    t.id, t.region_adcode AS region, r.name AS region_name, t.kind, t.measure, t.value, t.due_on, t.starts_on,
    t.start_value, t.note, t.status, t.version, t.created_at, t.updated_at,
    (SELECT c.actor FROM target_changes c WHERE c.target_id = t.id ORDER BY c.id LIMIT 1) AS set_by
"""

INSERT_SQL = text(f"""
WITH t AS (
    INSERT INTO targets (region_adcode, kind, measure, value, due_on, starts_on, start_value, note)
    VALUES (:region, :kind, :measure, :value, :due_on, :starts_on, :start_value, :note)
    RETURNING *
)
INSERT INTO target_changes (target_id, action, version, actor, before, after)
SELECT t.id, 'created', t.version, :actor, NULL, {DOCUMENT} FROM t
RETURNING target_id
""")

LOCK_SQL = text(f"SELECT t.*, {DOCUMENT} AS document FROM targets t WHERE t.id = :id FOR UPDATE")


def _update_sql(columns: list[str]) -> Any:
    assignments = ", ".join(f"{c} = :{c}" for c in columns)
    return text(f"""
WITH t AS (
    UPDATE targets SET {assignments}, version = version + 1, updated_at = now() WHERE id = :id RETURNING *
)
INSERT INTO target_changes (target_id, action, version, actor, before, after)
SELECT t.id, :action, t.version, :actor, CAST(:before AS jsonb), {DOCUMENT} FROM t
""")


WRITABLE = ("value", "due_on", "starts_on", "start_value", "note", "status")


async def insert(conn: AsyncConnection, values: dict[str, Any], actor: str) -> int:
    return int((await conn.execute(INSERT_SQL, {**values, "actor": actor})).scalar_one())


async def lock(conn: AsyncConnection, target_id: int) -> Any:
    return (await conn.execute(LOCK_SQL, {"id": target_id})).one_or_none()


async def change(
    conn: AsyncConnection, target_id: int, values: dict[str, Any], action: str, actor: str, before: dict[str, Any]
) -> None:
    columns = [c for c in WRITABLE if c in values]
    await conn.execute(
        _update_sql(columns),
        {**{c: values[c] for c in columns}, "id": target_id, "action": action, "actor": actor, "before": before},
    )


async def one(reader: Reader, target_id: int) -> asyncpg.Record | None:
    return await reader.fetchrow(
        f"SELECT {TARGET_COLUMNS} FROM targets t JOIN regions r ON r.adcode = t.region_adcode WHERE t.id = $1",
        target_id,
    )


async def page(
    reader: Reader, region: str | None, kind: str | None, statuses: Sequence[str], after: int, limit: int
) -> list[asyncpg.Record]:
    """Targets in id order after `after`: of a region and the regions below it, of a kind."""
    p = Params()
    clauses = [f"t.id > {p.add(after)}", f"t.status = ANY({p.add(list(statuses))}::text[])"]
    if region is not None:
        clauses.append(f"t.region_adcode IN ({_REGION_AND_BELOW.format(adcode=p.add(region))})")
    if kind is not None:
        clauses.append(f"t.kind = {p.add(kind)}")
    sql = (
        f"SELECT {TARGET_COLUMNS} FROM targets t JOIN regions r ON r.adcode = t.region_adcode "
        f"WHERE {' AND '.join(clauses)} ORDER BY t.id LIMIT {p.add(limit)}"
    )
    return list(await reader.fetch(sql, *p.values))


async def of_regions(reader: Reader, adcodes: list[str], kind: str) -> list[asyncpg.Record]:
    """The active targets of these regions for a kind, in the order they were set."""
    return list(
        await reader.fetch(
            f"SELECT {TARGET_COLUMNS} FROM targets t JOIN regions r ON r.adcode = t.region_adcode "
            "WHERE t.region_adcode = ANY($1::text[]) AND t.kind = $2 AND t.status = 'active' ORDER BY t.id",
            adcodes,
            kind,
        )
    )


async def history(reader: Reader, target_id: int) -> list[asyncpg.Record]:
    return list(
        await reader.fetch(
            "SELECT action, version, actor, changed_at, before, after FROM target_changes WHERE target_id = $1 "
            "ORDER BY id",
            target_id,
        )
    )
