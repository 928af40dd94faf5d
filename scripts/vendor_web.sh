#!/usr/bin/env bash
# Copy the front-end libraries the service serves itself (map page, API docs) from npm, at the versions pinned in
# web/package.json and web/package-lock.json, into app/web/static/vendor/ with their licences. Run it after
# changing a version; the copied files are committed, so serving needs neither npm nor the network.
set -euo pipefail
cd "$(dirname "$0")/../web"
npm ci --no-audit --no-fund --ignore-scripts >/dev/null
out=../app/web/static/vendor
rm -rf "$out" && mkdir -p "$out/maplibre-gl" "$out/swagger-ui" "$out/redoc"
cp node_modules/maplibre-gl/dist/{maplibre-gl.mjs,maplibre-gl-worker.mjs,maplibre-gl.css} node_modules/maplibre-gl/LICENSE.txt "$out/maplibre-gl/"
cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css} node_modules/swagger-ui-dist/LICENSE "$out/swagger-ui/"
cp node_modules/redoc/bundles/redoc.standalone.js node_modules/redoc/LICENSE "$out/redoc/"
for package in maplibre-gl swagger-ui-dist redoc; do
  printf '%s %s\n' "$package" "$(node -p "require('./node_modules/$package/package.json').version")"
done > "$out/VERSIONS"
cat "$out/VERSIONS"
