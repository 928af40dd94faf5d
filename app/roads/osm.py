"""Road edges from an OpenStreetMap extract (.osm XML or .osm.pbf), read with pyosmium.

Ways tagged `highway` are cut where they meet another way (or where they end): an edge runs between two such
nodes along the way's own nodes, with its geodesic length (WGS-84 ellipsoid) and the modes' costs. Only the
largest connected part of the roads is kept (see _largest_part).
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import osmium

from app.geo import GEOD
from app.roads import modes

ODBL = "© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"


class NotAnExtract(ValueError):
    """The file is not a readable OpenStreetMap extract, or holds no roads."""


@dataclass
class Edge:
    source: int
    target: int
    way_id: int
    highway: str
    length_m: float
    costs: dict[str, float]
    coordinates: list[tuple[float, float]]  # (lon, lat)


@dataclass
class Extract:
    path: Path
    sha256: str
    extract_date: datetime | None
    edges: list[Edge] = field(default_factory=list)

    @property
    def nodes(self) -> int:
        return len({e.source for e in self.edges} | {e.target for e in self.edges})


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _extract_date(path: Path) -> datetime | None:
    """The header's replication timestamp, when the extract has one."""
    reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
    try:
        stamp = reader.header().get("osmosis_replication_timestamp")
    finally:
        reader.close()
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


def read(path: Path) -> Extract:
    """Every road edge of the extract at `path`; NotAnExtract if it is not one or has no roads."""
    if not path.is_file():
        raise NotAnExtract(f"{path}: no such file")
    ways: list[tuple[int, dict[str, str], list[tuple[int, float, float]]]] = []
    newest: datetime | None = None
    try:
        date = _extract_date(path)
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way):
                continue
            stamp = obj.timestamp
            if stamp is not None and stamp.year > 1970 and (newest is None or stamp > newest):
                newest = stamp
            if "highway" not in obj.tags:
                continue
            tags = {tag.k: tag.v for tag in obj.tags}
            nodes = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if len(nodes) >= 2:
                ways.append((obj.id, tags, nodes))
    except RuntimeError as exc:  # pyosmium's word for a file it cannot parse (not OSM, cut short, damaged)
        raise NotAnExtract(f"{path.name}: not a readable OpenStreetMap extract ({exc})") from None
    extract = Extract(path, sha256_of(path), date or newest)
    # Where ways meet or end: the network's nodes.
    uses = Counter(ref for _, _, nodes in ways for ref, _, _ in nodes)
    ends = {ref for _, _, nodes in ways for ref in (nodes[0][0], nodes[-1][0])}
    for way_id, tags, nodes in ways:
        way = modes.Way(tags)
        if all(way.kmh(mode) is None for mode in modes.Mode):
            continue
        start = 0
        for i in range(1, len(nodes)):
            ref = nodes[i][0]
            if i == len(nodes) - 1 or uses[ref] > 1 or ref in ends:
                extract.edges.append(_edge(way_id, way, nodes[start : i + 1]))
                start = i
    extract.edges = _largest_part([e for e in extract.edges if e.source != e.target or e.length_m > 0])
    if not extract.edges:
        raise NotAnExtract(f"{path.name}: no roads (no way tagged highway that any mode may use)")
    return extract


def _largest_part(edges: list[Edge]) -> list[Edge]:
    """The edges of the largest connected part (directions aside). An extract is cut out of a larger map: roads
    crossing its edge leave fragments that connect to nothing inside, and a point that joined one would reach
    nowhere."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for e in edges:
        parent[root(e.source)] = root(e.target)
    sizes = Counter(root(e.source) for e in edges)
    if not sizes:
        return []
    largest = sizes.most_common(1)[0][0]
    return [e for e in edges if root(e.source) == largest]


def _edge(way_id: int, way: modes.Way, nodes: list[tuple[int, float, float]]) -> Edge:
    lons, lats = [n[1] for n in nodes], [n[2] for n in nodes]
    length = float(GEOD.line_length(lons, lats))
    return Edge(
        source=nodes[0][0],
        target=nodes[-1][0],
        way_id=way_id,
        highway=way.highway,
        length_m=length,
        costs=modes.costs(way, length),
        coordinates=list(zip(lons, lats, strict=True)),
    )


def as_row(network_id: int, edge: Edge) -> tuple[Any, ...]:
    """A road_edges row for COPY (geometry as EWKT)."""
    wkt = "SRID=4326;LINESTRING(" + ",".join(f"{lon} {lat}" for lon, lat in edge.coordinates) + ")"
    costs = [edge.costs[f"{mode}{way}_s"] for mode in modes.Mode for way in ("", "_reverse")]
    return (network_id, edge.source, edge.target, edge.way_id, edge.highway, edge.length_m, *costs, wkt)
