"""Road networks from OpenStreetMap, routed by pgRouting: travel times, isochrones, nearest by travel time."""
