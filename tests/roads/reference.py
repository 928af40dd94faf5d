"""An independent road network built from the OSM XML itself (ElementTree, pyproj, shapely, networkx): what the
service's travel times, isochrones and nearest-by-time answers are checked against.

It shares with the service only the documented speed model (app.roads.modes: who may use a way, which way, how
fast) and the rule that only the largest connected part of an extract's roads is kept. Reading the file, cutting
ways into edges, lengths, Dijkstra, snapping and geometry are done here again.
"""

import itertools
import math
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from pyproj import Geod, Transformer
from shapely import LineString, Point, Polygon, STRtree, ops, unary_union
from shapely.geometry.base import BaseGeometry

from app.paths import SEED_DIR
from app.roads import modes
from app.roads.modes import Mode

GEOD = Geod(ellps="WGS84")
# The demo's extract of 黄浦区's streets, which the road tests load and rebuild.
EXTRACT = SEED_DIR / "shanghai_huangpu_osmnx.osm"


@dataclass(frozen=True)
class RefEdge:
    source: int
    target: int
    nodes: tuple[int, ...]
    length_m: float
    seconds: dict[str, float]  # "walk" / "walk_reverse" …: -1 where not allowed


class ReferenceNetwork:
    def __init__(self, path: Path) -> None:
        root = ET.parse(path).getroot()
        self.location = {int(n.get("id")): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
        ways = []
        for way in root.iter("way"):
            tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
            refs = [int(nd.get("ref")) for nd in way.iter("nd") if int(nd.get("ref")) in self.location]
            if "highway" in tags and len(refs) >= 2:
                ways.append((tags, refs))
        count = Counter(ref for _, refs in ways for ref in refs)
        ends = {ref for _, refs in ways for ref in (refs[0], refs[-1])}
        self.edges: list[RefEdge] = []
        for tags, refs in ways:
            way = modes.Way(tags)
            if all(way.kmh(mode) is None for mode in Mode):
                continue
            start = 0
            for i in range(1, len(refs)):
                if i == len(refs) - 1 or count[refs[i]] > 1 or refs[i] in ends:
                    self.edges.append(self._edge(way, tuple(refs[start : i + 1])))
                    start = i
        # The largest connected part only, as the service keeps it (the rest are fragments cut by the extract).
        whole = nx.Graph([(e.source, e.target) for e in self.edges])
        largest = max(nx.connected_components(whole), key=len)
        self.edges = [e for e in self.edges if e.source in largest]
        # Metres for geometry: the UTM zone of the extract (51N for Shanghai).
        lon0 = sum(x for x, _ in self.location.values()) / len(self.location)
        zone = int((lon0 + 180) // 6) + 1
        self.utm_epsg = 32600 + zone
        self.to_metres = Transformer.from_crs(4326, self.utm_epsg, always_xy=True).transform
        self.to_degrees = Transformer.from_crs(32600 + zone, 4326, always_xy=True).transform
        self.lines = [LineString([self.to_metres(*self.location[n]) for n in e.nodes]) for e in self.edges]

    def _edge(self, way: modes.Way, nodes: tuple[int, ...]) -> RefEdge:
        length = 0.0
        for a, b in itertools.pairwise(nodes):
            (lon1, lat1), (lon2, lat2) = self.location[a], self.location[b]
            length += GEOD.inv(lon1, lat1, lon2, lat2)[2]
        seconds: dict[str, float] = {}
        for mode in Mode:
            kmh = way.kmh(mode)
            oneway = way.oneway(mode)
            t = length / (kmh / 3.6) if kmh else -1.0
            seconds[mode.value] = t if oneway >= 0 else -1.0
            seconds[f"{mode.value}_reverse"] = t if oneway <= 0 else -1.0
        return RefEdge(nodes[0], nodes[-1], nodes, length, seconds)

    def graph(self, mode: Mode) -> nx.MultiDiGraph:
        g = nx.MultiDiGraph()
        for i, e in enumerate(self.edges):
            if e.seconds[mode.value] >= 0:
                g.add_edge(e.source, e.target, key=i, weight=e.seconds[mode.value])
            if e.seconds[f"{mode.value}_reverse"] >= 0:
                g.add_edge(e.target, e.source, key=i, weight=e.seconds[f"{mode.value}_reverse"])
        return g

    def times_from_node(self, node: int, mode: Mode, budget_s: float) -> dict[int, float]:
        return dict(nx.single_source_dijkstra_path_length(self.graph(mode), node, cutoff=budget_s, weight="weight"))

    def reached_fractions(self, times: dict[int, float], mode: Mode, budget_s: float) -> dict[int, float]:
        """Per edge index: the share of its length reached (from either end)."""
        reached: dict[int, float] = {}
        for i, e in enumerate(self.edges):
            forward = backward = 0.0
            if e.seconds[mode.value] >= 0 and e.source in times:
                forward = share(budget_s - times[e.source], e.seconds[mode.value])
            if e.seconds[f"{mode.value}_reverse"] >= 0 and e.target in times:
                backward = share(budget_s - times[e.target], e.seconds[f"{mode.value}_reverse"])
            if forward or backward:
                reached[i] = min(1.0, forward + backward)
        return reached

    def reached_area_m2(self, times: dict[int, float], mode: Mode, budget_s: float, reach_m: float) -> float:
        """The reached stretches of road, buffered by `reach_m`, in UTM metres."""
        pieces = self._reached_pieces(times, mode, budget_s)
        return float(unary_union([p.buffer(reach_m, quad_segs=8) for p in pieces if p.length > 0]).area)

    def _reached_pieces(self, times: dict[int, float], mode: Mode, budget_s: float) -> list[BaseGeometry]:
        pieces: list[BaseGeometry] = []
        for i, e in enumerate(self.edges):
            line = self.lines[i]
            if e.seconds[mode.value] >= 0 and e.source in times:
                pieces.append(ops.substring(line, 0, share(budget_s - times[e.source], e.seconds[mode.value]), True))
            if e.seconds[f"{mode.value}_reverse"] >= 0 and e.target in times:
                cut = share(budget_s - times[e.target], e.seconds[f"{mode.value}_reverse"])
                pieces.append(ops.substring(line, 1 - cut, 1, True))
        return pieces

    def foot(self, lon: float, lat: float, mode: Mode) -> tuple[int, float, float]:
        """The nearest edge `mode` may use: its index, the share of its length before the foot, metres off."""
        usable = [
            i for i, e in enumerate(self.edges) if e.seconds[mode.value] >= 0 or e.seconds[f"{mode.value}_reverse"] >= 0
        ]
        tree = STRtree([self.lines[i] for i in usable])
        point = Point(self.to_metres(lon, lat))
        best = usable[int(tree.nearest(point))]
        line = self.lines[best]
        fraction = line.project(point, normalized=True)
        foot_lon, foot_lat = self.to_degrees(*line.interpolate(fraction, normalized=True).coords[0])
        return best, fraction, GEOD.inv(lon, lat, foot_lon, foot_lat)[2]

    def isochrone(self, lon: float, lat: float, mode: Mode, budget_s: float, reach_m: float) -> BaseGeometry:
        """The roads reached from a point within the budget (walking to its road first), buffered by `reach_m`, in
        UTM metres; empty when nothing is."""
        index, fraction, off_m = self.foot(lon, lat, mode)
        edge, line = self.edges[index], self.lines[index]
        spare = budget_s - off_m / (modes.WALK_KMH / 3.6)
        if spare <= 0 or off_m > modes.SNAP_M:
            return Polygon()
        fwd, back = edge.seconds[mode.value], edge.seconds[f"{mode.value}_reverse"]
        g = self.graph(mode)
        if fwd >= 0:
            g.add_edge("A", edge.target, weight=(1 - fraction) * fwd)
        if back >= 0:
            g.add_edge("A", edge.source, weight=fraction * back)
        found = nx.single_source_dijkstra_path_length(g, "A", cutoff=spare, weight="weight") if "A" in g else {}
        times = {n: t for n, t in found.items() if n != "A"}
        pieces = self._reached_pieces(times, mode, spare)
        # Along the point's own road, both ways it may go.
        if fwd >= 0:
            pieces.append(ops.substring(line, fraction, min(1.0, fraction + share(spare, fwd)), True))
        if back >= 0:
            pieces.append(ops.substring(line, max(0.0, fraction - share(spare, back)), fraction, True))
        return unary_union([p.buffer(reach_m, quad_segs=8) for p in pieces if p.length > 0])

    def hull(self) -> BaseGeometry:
        """The extent of the network: the convex hull of its roads, UTM metres."""
        return unary_union(self.lines).convex_hull

    def seconds_between(self, a: tuple[float, float], b: tuple[float, float], mode: Mode) -> float:
        """Door to door: walk to a's road, along the network, walk from b's road; math.inf if not connected."""
        walk = modes.WALK_KMH / 3.6
        ia, fa, da = self.foot(*a, mode)
        ib, fb, db = self.foot(*b, mode)
        ea, eb = self.edges[ia], self.edges[ib]
        fwd, back = f"{mode.value}", f"{mode.value}_reverse"
        g = self.graph(mode)
        # Virtual nodes for the two feet, joined to their edges' ends.
        g.add_node("A")
        g.add_node("B")
        if ea.seconds[fwd] >= 0:
            g.add_edge("A", ea.target, weight=(1 - fa) * ea.seconds[fwd])
        if ea.seconds[back] >= 0:
            g.add_edge("A", ea.source, weight=fa * ea.seconds[back])
        if eb.seconds[fwd] >= 0:
            g.add_edge(eb.source, "B", weight=fb * eb.seconds[fwd])
        if eb.seconds[back] >= 0:
            g.add_edge(eb.target, "B", weight=(1 - fb) * eb.seconds[back])
        if ia == ib:
            if fb >= fa and ea.seconds[fwd] >= 0:
                g.add_edge("A", "B", weight=(fb - fa) * ea.seconds[fwd])
            if fb < fa and ea.seconds[back] >= 0:
                g.add_edge("A", "B", weight=(fa - fb) * ea.seconds[back])
        try:
            on_network = nx.dijkstra_path_length(g, "A", "B", weight="weight")
        except nx.NetworkXNoPath:
            return math.inf
        return da / walk + on_network + db / walk


def share(seconds: float, cost: float) -> float:
    return 1.0 if cost <= seconds else max(seconds, 0.0) / cost
