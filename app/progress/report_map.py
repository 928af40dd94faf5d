"""The report's small map as SVG: the regions shaded by covered share, the gaps hatched, the sites as dots — drawn
from the geometries the API serves (boundaries, /gaps, the register), in a plane true to scale at the region."""

import math
from collections.abc import Iterable
from html import escape
from typing import Any

from shapely import LineString

WIDTH, HEIGHT, MARGIN = 520.0, 360.0, 8.0
SHOWN_WITHIN = 0.5  # points: what a vertex may move when the map is simplified for drawing
# Covered share → fill: the map page's ramp, pale (little covered) to deep green (all covered).
RAMP = ["#f7fcf5", "#c7e9c0", "#74c476", "#31a354", "#006d2c"]
NO_SHARE = "#eeeeee"
# Gaps in pale red over the shading, outlined: what is left uncovered (a hatch pattern took WeasyPrint seconds).
GAP_FILL = "#fbe0dc"


def fill_of(share: float | None) -> str:
    if share is None:
        return NO_SHARE
    return RAMP[min(len(RAMP) - 1, int(share * len(RAMP)))]


def _rings(geometry: dict[str, Any]) -> Iterable[list[list[float]]]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    for polygon in polygons:
        yield from polygon


class Plane:
    """Longitude and latitude to SVG points: equirectangular at the region's middle latitude (true to scale at the
    size of a county or a city), fitted into the frame."""

    def __init__(self, geometries: list[dict[str, Any]]) -> None:
        lons = [p[0] for g in geometries for ring in _rings(g) for p in ring]
        lats = [p[1] for g in geometries for ring in _rings(g) for p in ring]
        self.west, self.north = min(lons), max(lats)
        self.squeeze = math.cos(math.radians((min(lats) + max(lats)) / 2))
        span_x = (max(lons) - self.west) * self.squeeze or 1e-9
        span_y = (self.north - min(lats)) or 1e-9
        self.scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
        self.offset_x = (WIDTH - span_x * self.scale) / 2
        self.offset_y = (HEIGHT - span_y * self.scale) / 2

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            self.offset_x + (lon - self.west) * self.squeeze * self.scale,
            self.offset_y + (self.north - lat) * self.scale,
        )

    def path(self, geometry: dict[str, Any]) -> str:
        """The geometry as an SVG path, without the vertices the drawing cannot show: each ring simplified to
        within half a point (a boundary of thousands of vertices is a few hundred at this size, and the PDF lays
        out in a fraction of the time)."""
        parts = []
        for ring in _rings(geometry):
            drawn = LineString([self.xy(lon, lat) for lon, lat, *_ in ring]).simplify(SHOWN_WITHIN)
            points = list(drawn.coords)
            if len(points) < 3:
                continue  # smaller than a point at this scale
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
        return "".join(parts)


def svg(
    outlines: list[dict[str, Any]],
    shares: dict[str, float | None],
    sites: list[tuple[float, float]],
    gaps: list[dict[str, Any]],
    legend: tuple[str, str, str],
) -> str:
    """The map; `legend`: the labels of the covered share, a gap and a site."""
    plane = Plane([o["boundary"] for o in outlines])
    shapes = [
        f'<path d="{plane.path(o["boundary"])}" fill="{fill_of(shares.get(o["adcode"]))}" stroke="#555" '
        f'stroke-width="0.8" fill-rule="evenodd"><title>{escape(o["name"])}</title></path>'
        for o in outlines
    ]
    holes = [
        f'<path class="gap" d="{plane.path(g)}" fill="{GAP_FILL}" stroke="#c0392b" '
        'stroke-width="0.4" fill-rule="evenodd"/>'
        for g in gaps
    ]
    dots = [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.6" fill="#1f4e9c"/>' for x, y in (plane.xy(*p) for p in sites)]
    labels = []
    for o in outlines:
        longest = max(_rings(o["boundary"]), key=len)
        lon = sum(p[0] for p in longest) / len(longest)
        lat = sum(p[1] for p in longest) / len(longest)
        x, y = plane.xy(lon, lat)
        labels.append(f'<text x="{x:.1f}" y="{y:.1f}" class="label">{escape(o["name"])}</text>')
    share_label, gap_label, site_label = (escape(t) for t in legend)
    ramp = "".join(
        f'<rect x="{10 + 18 * i}" y="{HEIGHT + 8}" width="18" height="10" fill="{c}" stroke="#999" stroke-width="0.3"/>'
        for i, c in enumerate(RAMP)
    )
    key = (
        f'{ramp}<text x="{16 + 18 * len(RAMP)}" y="{HEIGHT + 17}" class="key">{share_label} 0–100 %</text>'
        f'<rect x="230" y="{HEIGHT + 8}" width="14" height="10" fill="{GAP_FILL}" '
        'stroke="#c0392b" stroke-width="0.4"/>'
        f'<text x="250" y="{HEIGHT + 17}" class="key">{gap_label}</text>'
        f'<circle cx="337" cy="{HEIGHT + 13}" r="2.2" fill="#1f4e9c"/>'
        f'<text x="344" y="{HEIGHT + 17}" class="key">{site_label}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {HEIGHT + 26:.0f}" '
        f'width="{WIDTH:.0f}" height="{HEIGHT + 26:.0f}">'
        "<defs>"
        "<style>.label{font-size:9px;text-anchor:middle;fill:#111}"
        ".key{font-size:9px;fill:#333}</style></defs>"
        f"{''.join(shapes)}{''.join(holes)}{''.join(dots)}{''.join(labels)}{key}</svg>"
    )
