"""SQL for API keys."""

from typing import Any

import asyncpg
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.read_pool import Reader
from app.keys.models import ApiKey


async def insert_key(
    conn: AsyncConnection, name: str, prefix: str, digest: str, scopes: list[str], region_prefix: str | None
) -> None:
    await conn.execute(
        insert(ApiKey).values(
            name=name, prefix=prefix, secret_sha256=digest, scopes=scopes, region_prefix=region_prefix
        )
    )


async def list_all(conn: AsyncConnection) -> list[dict[str, Any]]:
    query = select(
        ApiKey.prefix, ApiKey.name, ApiKey.scopes, ApiKey.region_prefix, ApiKey.created_at, ApiKey.revoked_at
    ).order_by(ApiKey.id)
    return [dict(row._mapping) for row in await conn.execute(query)]


async def revoke(conn: AsyncConnection, prefix: str) -> bool:
    result = await conn.execute(
        update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
    )
    return bool(result.rowcount)


async def move_region(conn: AsyncConnection, retired: str, successor: str) -> list[str]:
    """Keys limited to exactly a retired region's code now limited to the region that replaced it (a county's union
    keeps writing in its county made a district); their prefixes."""
    result = await conn.execute(
        update(ApiKey).where(ApiKey.region_prefix == retired).values(region_prefix=successor).returning(ApiKey.prefix)
    )
    return list(result.scalars())


FIND_SQL = "SELECT name, scopes, region_prefix FROM api_keys WHERE secret_sha256 = $1 AND revoked_at IS NULL"


async def find(reader: Reader, digest: str) -> asyncpg.Record | None:
    return await reader.fetchrow(FIND_SQL, digest)
