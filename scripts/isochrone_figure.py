"""Draw docs/isochrone.png: a site's 15-minute walk on the real streets beside the radius circle the same rule would
be without a road network (15 min × 4.5 km/h = 1,125 m). Asks a running service (`make run`) for the isochrone,
draws the streets of seed/shanghai_huangpu_osmnx.osm under it, and has Debian's Chromium render the SVG.

    .venv/bin/python scripts/isochrone_figure.py [--base http://127.0.0.1:8000] [--site-lat … --site-lon …]
"""

import argparse
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
SIZE = 900


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--lat", type=float, default=31.2300)
    parser.add_argument("--lon", type=float, default=121.4740)
    parser.add_argument("--minutes", type=float, default=15)
    args = parser.parse_args()
    answer = httpx.get(
        f"{args.base}/v1/isochrones",
        params={"lat": args.lat, "lon": args.lon, "minutes": args.minutes, "mode": "walk"},
        timeout=60,
    )
    answer.raise_for_status()
    ring = answer.json()["features"][0]
    radius_m = args.minutes * 60 * 4.5 / 3.6
    # A local plane in metres around the site (an equirectangular view is exact enough at this size).
    kx, ky = 111_320 * math.cos(math.radians(args.lat)), 110_574.0
    half = radius_m * 1.25
    scale = SIZE / (2 * half)

    def xy(lon: float, lat: float) -> str:
        return f"{(lon - args.lon) * kx * scale + SIZE / 2:.1f},{SIZE / 2 - (lat - args.lat) * ky * scale:.1f}"

    root = ET.parse(ROOT / "seed" / "shanghai_huangpu_osmnx.osm").getroot()
    where = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    streets = []
    for way in root.iter("way"):
        if any(t.get("k") == "highway" for t in way.iter("tag")):
            points = " ".join(xy(*where[nd.get("ref")]) for nd in way.iter("nd") if nd.get("ref") in where)
            streets.append(f'<polyline points="{points}"/>')
    geometry = ring["geometry"]
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    paths = " ".join("M" + " L".join(xy(*p) for p in r) + "Z" for polygon in polygons for r in polygon)
    props = ring["properties"]
    circle_km2 = math.pi * (radius_m / 1000) ** 2
    body = answer.json()
    method, attribution = body["method"], body["network"]["attribution"]
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE + 80}"
 font-family="Noto Sans CJK SC">
<rect width="100%" height="100%" fill="white"/>
<g stroke="#b0b0b0" stroke-width="1.2" fill="none">{"".join(streets)}</g>
<path d="{paths}" fill="#1f77b4" fill-opacity="0.35" stroke="#1f77b4" stroke-width="1.5" fill-rule="evenodd"/>
<circle cx="{SIZE / 2}" cy="{SIZE / 2}" r="{radius_m * scale:.1f}" fill="none" stroke="#d62728" stroke-width="2.5"
 stroke-dasharray="8 6"/>
<circle cx="{SIZE / 2}" cy="{SIZE / 2}" r="6" fill="black"/>
<text x="12" y="{SIZE + 24}" font-size="17"><tspan fill="#1f77b4">■ {args.minutes:g}-minute walk on the streets:
 {props["area_km2"]:.2f} km², {props["road_km"]:.1f} km of road</tspan>
 <tspan fill="#d62728">  ◯ radius {radius_m:,.0f} m: {circle_km2:.2f} km²</tspan></text>
<text x="12" y="{SIZE + 46}" font-size="12" fill="#555">{method}</text>
<text x="12" y="{SIZE + 62}" font-size="12" fill="#555">{attribution}</text></svg>"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": SIZE, "height": SIZE + 80})
        page.set_content(svg)
        page.screenshot(path=str(ROOT / "docs" / "isochrone.png"))
        browser.close()
    print(f"wrote docs/isochrone.png ({props['area_km2']:.2f} km² walk vs {circle_km2:.2f} km² circle)")


if __name__ == "__main__":
    main()
