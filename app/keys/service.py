"""API keys: made and revoked by operators (the `yizhan keys` command), checked on every write."""

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.read_pool import Reader
from app.keys import repository


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name (recorded in the history), scopes and region limit."""

    name: str
    scopes: frozenset[str]
    region_prefix: str | None

    def may_write_in(self, region_adcode: str | None) -> bool:
        if self.region_prefix is None:
            return True
        return region_adcode is not None and region_adcode.startswith(self.region_prefix)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> tuple[str, str]:
    """(prefix, full key). The prefix names the key in listings; the rest is 256 random bits."""
    prefix = secrets.token_hex(4)
    return prefix, f"yz_{prefix}_{secrets.token_urlsafe(32)}"


async def create(conn: AsyncConnection, name: str, scopes: list[str], region_prefix: str | None) -> str:
    prefix, secret = new_secret()
    await repository.insert_key(conn, name, prefix, _digest(secret), scopes, region_prefix)
    return secret


async def list_all(conn: AsyncConnection) -> list[dict[str, Any]]:
    return await repository.list_all(conn)


async def revoke(conn: AsyncConnection, prefix: str) -> bool:
    return await repository.revoke(conn, prefix)


async def find(reader: Reader, secret: str) -> Principal | None:
    row = await repository.find(reader, _digest(secret))
    if row is None:
        return None
    return Principal(row["name"], frozenset(row["scopes"]), row["region_prefix"])
