"""`yizhan roads import`: an OpenStreetMap extract into a road network, all or nothing."""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.roads import osm, repository


class ImportRefused(ValueError):
    """Nothing was written, and why."""


@dataclass(frozen=True)
class Imported:
    outcome: str  # created, replaced, unchanged
    name: str
    edges: int
    nodes: int
    regions: list[str]


async def import_extract(conn: AsyncConnection, extract: osm.Extract, name: str, *, replace: bool) -> Imported:
    """Store `extract` as network `name` in the caller's transaction. The same file again changes nothing; another
    file under a taken name needs `replace` (the old network goes in the same transaction). ImportRefused, with
    nothing written, for an extract that touches no region of the register."""
    # One import of a name at a time: the second waits, then sees what the first did.
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('road_networks:' || :n))"), {"n": name})
    same = (
        await conn.execute(text("SELECT name FROM road_networks WHERE source_sha256 = :s"), {"s": extract.sha256})
    ).scalar()
    if same is not None:
        return Imported("unchanged", same, len(extract.edges), extract.nodes, [])
    existing = await repository.network_named(conn, name)
    if existing is not None and not replace:
        raise ImportRefused(
            f"a network named {name!r} exists (from {existing['source_file']}); --replace swaps it for this file"
        )
    if existing is not None:
        await repository.delete_network(conn, existing["id"])
    network_id = await repository.insert_network(conn, name, extract)
    regions = await repository.regions_touched(conn, network_id)
    if not regions:
        raise ImportRefused(f"{extract.path.name}: its roads touch no county of the register (load the regions first)")
    return Imported("replaced" if existing else "created", name, len(extract.edges), extract.nodes, regions)


def default_name(path: Path) -> str:
    """shanghai_huangpu_osmnx.osm → shanghai_huangpu_osmnx; Helsinki.osm.pbf → Helsinki."""
    name = path.name
    for suffix in (".osm.pbf", ".pbf", ".osm"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
