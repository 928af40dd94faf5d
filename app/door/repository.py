"""SQL for door tokens."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.read_pool import Reader

# A site's token, issued on first use: the statement both issues and reads, so two first requests agree.
ISSUE_SQL = text("""
WITH issued AS (
    INSERT INTO site_door_tokens (site_id, token) VALUES (:site_id, :token)
    ON CONFLICT (site_id) DO NOTHING
    RETURNING token, issued_at
)
SELECT token, issued_at FROM issued
UNION ALL
SELECT token, issued_at FROM site_door_tokens WHERE site_id = :site_id
LIMIT 1
""")

CURRENT_SQL = text("SELECT token, issued_at FROM site_door_tokens WHERE site_id = :site_id")

ROTATE_SQL = text("""
INSERT INTO site_door_tokens (site_id, token) VALUES (:site_id, :token)
ON CONFLICT (site_id) DO UPDATE SET token = EXCLUDED.token, issued_at = now()
RETURNING token, issued_at
""")

# The site a token stands for now: a rotated token matches no row, a deleted site's token no site.
SITE_OF_TOKEN_SQL = """
SELECT t.site_id FROM site_door_tokens t JOIN sites s ON s.id = t.site_id AND s.deleted_at IS NULL
WHERE t.token = $1
"""


async def issue(conn: AsyncConnection, site_id: int, token: str) -> Any:
    """The site's token: its current one, else `token`, issued now."""
    found = (await conn.execute(ISSUE_SQL, {"site_id": site_id, "token": token})).one_or_none()
    if found is None:
        # Issued by another transaction while this statement ran: its snapshot cannot see it, the next can.
        found = (await conn.execute(CURRENT_SQL, {"site_id": site_id})).one()
    return found


async def rotate(conn: AsyncConnection, site_id: int, token: str) -> Any:
    return (await conn.execute(ROTATE_SQL, {"site_id": site_id, "token": token})).one()


async def site_of(reader: Reader, token: str) -> int | None:
    found: int | None = await reader.fetchval(SITE_OF_TOKEN_SQL, token)
    return found
