// The planners' map (挂图作战): every figure on it comes from the same API endpoints other clients use.
import { LngLatBounds, Map as MapLibreMap, Marker, NavigationControl, Popup, ScaleControl } from "/static/vendor/maplibre-gl/maplibre-gl.mjs";

const TEXT = {
  zh: {
    title: "工会服务阵地覆盖一张图", region: "区划", kind: "类型", asOf: "截至", print: "打印 A4", legend: "图例",
    legendShare: "区县按面积覆盖率着色", legendGap: "未覆盖区域", legendRing: "服务半径", legendWorst: "最远点",
    table: "分区县覆盖情况", colName: "名称", colArea: "面积覆盖率", colPeople: "人口覆盖率", colSites: "站点数",
    colWorst: "最远点(m)", exportGaps: "缺口 GeoJSON", selected: "所选区划", gaps: "覆盖缺口", suggest: "下一步选址",
    suggestCount: "新增数量", suggestRun: "计算", here: "点击地图", clickHint: "点击地图任意位置：是否覆盖、最近站点",
    site: "站点详情", sources: "数据来源：驿站站点登记库；区划边界：天地图（WGS-84）；人口：2020 年第七次人口普查（按格网建模）。",
    rule: "规则", date: "日期", covered: "已覆盖", notCovered: "未覆盖", nearest: "最近站点", openNow: "正在开放",
    closedNow: "当前关闭", opensAt: "下次开放", closesAt: "关闭时间", hours: "开放时间", access: "进入方式",
    amenities: "设施", trust: "提示", verified: "最近核实", phone: "电话", navigate: "高德导航", address: "地址",
    before: "现状", after: "新增后", gainPeople: "新增覆盖人口", gainArea: "新增覆盖面积", people: "人",
    worst: "最远点距最近站点", area: "面积", sitesCount: "站点",
    populationShare: "人口覆盖率", areaShare: "面积覆盖率", none: "无", lang: "English",
    method: "计算方式", compareRadius: "对比半径圈", legendRadius: "半径圈（对比）", travelTime: "用时",
  },
  en: {
    title: "Union service coverage map", region: "Region", kind: "Kind", asOf: "As of", print: "Print A4", legend: "Legend",
    legendShare: "Counties shaded by covered share of area", legendGap: "Not covered", legendRing: "Catchment",
    legendWorst: "Worst-served spot", table: "Coverage by county", colName: "Name", colArea: "Area covered",
    colPeople: "People covered", colSites: "Sites", colWorst: "Worst (m)", exportGaps: "Gaps GeoJSON",
    selected: "Selected region", gaps: "Gaps", suggest: "Where the next sites go", suggestCount: "How many",
    suggestRun: "Suggest", here: "Click the map", clickHint: "Click anywhere: covered here? nearest sites",
    site: "Site", sources: "Sources: the Yizhan register; boundaries: Tianditu (WGS-84); population: 2020 census (modelled on a grid).",
    rule: "Rule", date: "Date", covered: "Covered", notCovered: "Not covered", nearest: "Nearest sites", openNow: "Open now",
    closedNow: "Closed now", opensAt: "Opens", closesAt: "Closes", hours: "Opening hours", access: "Access",
    amenities: "Amenities", trust: "Notes", verified: "Last verified", phone: "Phone", navigate: "Navigate (Amap)",
    address: "Address", before: "Now", after: "After", gainPeople: "People gained", gainArea: "Area gained",
    people: "people", worst: "Worst-served spot",
    area: "Area", sitesCount: "Sites", populationShare: "People covered", areaShare: "Area covered", none: "none", lang: "中文",
    method: "Method", compareRadius: "Compare with the radius", legendRadius: "Radius circle (comparison)", travelTime: "travel time",
  },
};
const KIND_COLOURS = { outdoor_station: "#e66101", legal_aid: "#2c7fb8", service_centre: "#5e3c99" };
const SHARE_RAMP = ["interpolate", ["linear"], ["coalesce", ["get", "covered_area_share"], -1],
  -1, "rgba(0,0,0,0)", 0, "#d7301f", 0.5, "#fc8d59", 0.75, "#fdcc8a", 0.9, "#b3de69", 1, "#1a9850"];

const params = new URLSearchParams(location.search);
// The datum everything is drawn in: the base map's (GCJ-02 for Amap and Tencent), else WGS-84.
const COORDSYS = document.body.dataset.coordsys === "gcj02" ? "gcj02" : "wgs84";
const DATUM = COORDSYS === "wgs84" ? {} : { coordsys: COORDSYS };
const state = {
  region: params.get("region"), kind: params.get("kind") || "legal_aid", asOf: params.get("as_of"),
  site: params.get("site"), lang: params.get("lang") === "en" ? "en" : "zh",
  vocabularies: null, regions: {}, table: [], tableParent: null, sort: { key: "name", descending: false },
  gaps: null, markers: [], suggestionMarkers: [], clickMarker: null,
};
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[state.lang][key] ?? key;
const label = (list, code) => {
  const found = (state.vocabularies?.[list] || []).find((term) => term.code === code);
  return found ? found[state.lang] : code;
};
const percent = (share) => (share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)} %`);
const metres = (m) => (m === null || m === undefined ? "—" : Math.round(m).toLocaleString("en-US"));
const escape = (text) => String(text ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// Answers asked for before the page needs them (prefetch), taken once by api().
const asked = new Map();

async function fetchJson(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function api(path, options) {
  const early = options ? undefined : asked.get(path);
  asked.delete(path);
  return early ?? fetchJson(path, options);
}

function prefetch(path) {
  const promise = fetchJson(path);
  promise.catch(() => {}); // a failed prefetch is asked again, and reported, when the page needs it
  asked.set(path, promise);
}

function query(extra = {}) {
  const q = new URLSearchParams({ kind: state.kind, ...DATUM, ...extra });
  if (state.asOf) q.set("as_of", state.asOf);
  return q.toString();
}

function writeUrl() {
  const q = new URLSearchParams();
  if (state.region) q.set("region", state.region);
  q.set("kind", state.kind);
  if (state.asOf) q.set("as_of", state.asOf);
  if (state.site) q.set("site", state.site);
  if (state.lang === "en") q.set("lang", "en");
  history.replaceState(null, "", `${location.pathname}?${q}`);
}

function todayInChina() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
}

function translate() {
  document.documentElement.lang = state.lang === "en" ? "en" : "zh-CN";
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  $("lang").textContent = t("lang");
  fillKinds();
  fillRegions();
}

function fillKinds() {
  $("kind").innerHTML = state.vocabularies.kinds
    .map((k) => `<option value="${k.code}" ${k.code === state.kind ? "selected" : ""}>${escape(k[state.lang])}</option>`)
    .join("");
}

function fillRegions() {
  const options = [];
  // Cities, and municipalities (直辖市: a province whose counties are its own children), each with its counties.
  const all = Object.values(state.regions);
  const parents = all.filter((r) => r.level !== "county" && all.some((c) => c.level === "county" && c.parent_adcode === r.adcode));
  for (const city of parents) {
    options.push(`<option value="${city.adcode}">${escape(city.name)}</option>`);
    for (const county of Object.values(state.regions).filter((r) => r.parent_adcode === city.adcode)) {
      options.push(`<option value="${county.adcode}">　${escape(county.name)}</option>`);
    }
  }
  $("region").innerHTML = options.join("");
  $("region").value = state.region;
}

const map = new MapLibreMap({
  container: "map",
  style: baseStyle(),
  center: [117.9, 37.4],
  zoom: 8,
  maxZoom: 18,
  attributionControl: { compact: false },
  // So the printed page (and a screenshot) holds the map as drawn.
  canvasContextAttributes: { preserveDrawingBuffer: true },
});
map.addControl(new NavigationControl({ showCompass: false }), "top-right");
map.addControl(new ScaleControl({ unit: "metric" }), "bottom-right");
window.yizhan = { map, state };

function baseStyle() {
  const sources = {};
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#eef1f4" } }];
  const url = document.body.dataset.baseMapUrl;
  if (url && !url.startsWith("__")) {
    sources.base = { type: "raster", tiles: [url], tileSize: 256, attribution: document.body.dataset.baseMapAttribution };
    layers.push({ id: "base", type: "raster", source: "base" });
  }
  return { version: 8, sources, layers };
}

function tileUrl(layer, extra = {}) {
  return `${location.origin}/v1/tiles/${layer}/{z}/{x}/{y}.mvt?${query(extra)}`;
}

// Where the selected region's rule is travelled on roads, its radius form can be drawn beside the isochrones.
function showRadiusComparison(rule) {
  const box = $("compare-radius");
  const comparable = Boolean(rule?.network);
  $("compare-radius-label").hidden = !comparable;
  if (!comparable) box.checked = false;
  else map.getSource("catchments-radius").setTiles([tileUrl("catchments", { radius_m: rule.radius_m })]);
  map.setLayoutProperty("catchments-radius", "visibility", box.checked ? "visible" : "none");
}

function sitesTileUrl() {
  // Every kind's sites are drawn (the asked kind's larger), as they stood on the date.
  const q = new URLSearchParams({ ...DATUM, ...(state.asOf ? { as_of: state.asOf } : {}) });
  return `${location.origin}/v1/tiles/sites/{z}/{x}/{y}.mvt?${q}`;
}

function addLayers() {
  map.addSource("regions", { type: "vector", tiles: [tileUrl("regions")], promoteId: "adcode", attribution: "驿站 Yizhan; 天地图 Tianditu" });
  map.addLayer({ id: "region-fill", type: "fill", source: "regions", "source-layer": "regions", filter: ["==", ["get", "level"], "county"],
    paint: { "fill-color": SHARE_RAMP, "fill-opacity": 0.45 } });
  map.addLayer({ id: "region-line", type: "line", source: "regions", "source-layer": "regions",
    paint: { "line-color": ["match", ["get", "level"], "city", "#333", "#777"], "line-width": ["match", ["get", "level"], "city", 2, 1] } });
  map.addLayer({ id: "region-selected", type: "line", source: "regions", "source-layer": "regions",
    filter: ["==", ["get", "adcode"], ""], paint: { "line-color": "#ffb000", "line-width": 3 } });
  map.addSource("catchments", { type: "vector", tiles: [tileUrl("catchments")], minzoom: 7 });
  map.addLayer({ id: "catchments", type: "line", source: "catchments", "source-layer": "catchments",
    paint: { "line-color": "#2c7fb8", "line-width": 1, "line-opacity": 0.6 } });
  // The same sites' circles under the rule's radius form (minutes × assumed speed), beside their isochrones on roads.
  map.addSource("catchments-radius", { type: "vector", tiles: [tileUrl("catchments")], minzoom: 7 });
  map.addLayer({ id: "catchments-radius", type: "line", source: "catchments-radius", "source-layer": "catchments",
    layout: { visibility: "none" }, paint: { "line-color": "#555", "line-width": 1, "line-dasharray": [3, 2] } });
  map.addSource("gaps", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({ id: "gaps", type: "fill", source: "gaps", paint: { "fill-color": "#d7301f", "fill-opacity": 0.45, "fill-outline-color": "#b2182b" } });
  map.addSource("sites", { type: "vector", tiles: [sitesTileUrl()] });
  map.addLayer({ id: "site-counts", type: "circle", source: "sites", "source-layer": "sites", filter: ["has", "count"],
    paint: { "circle-color": ["match", ["get", "kind"], ...Object.entries(KIND_COLOURS).flat(), "#666"],
      "circle-radius": ["interpolate", ["linear"], ["get", "count"], 1, 3, 100, 10, 1000, 18], "circle-opacity": 0.7 } });
  map.addLayer({ id: "sites", type: "circle", source: "sites", "source-layer": "sites", filter: ["!", ["has", "count"]],
    paint: { "circle-color": ["match", ["get", "kind"], ...Object.entries(KIND_COLOURS).flat(), "#666"],
      "circle-radius": ["case", ["==", ["get", "kind"], ["literal", state.kind]], 6, 3.5],
      "circle-stroke-color": ["case", ["any", ["get", "access_reported"], ["get", "unverified"]], "#ffb000", "#fff"],
      "circle-stroke-width": 1.5, "circle-opacity": ["case", ["==", ["get", "status"], "active"], 1, 0.4] } });
  map.addSource("suggestions", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
}

function refreshTiles() {
  map.getSource("regions").setTiles([tileUrl("regions")]);
  map.getSource("catchments").setTiles([tileUrl("catchments")]);
  showRadiusComparison(null);
  map.getSource("sites").setTiles([sitesTileUrl()]);
  map.setPaintProperty("sites", "circle-radius", ["case", ["==", ["get", "kind"], ["literal", state.kind]], 6, 3.5]);
}

function cityOf(adcode) {
  const region = state.regions[adcode];
  return region?.level === "city" ? adcode : region?.parent_adcode;
}

async function loadTable() {
  const city = cityOf(state.region);
  if (!city) return;
  const body = await api(`/v1/coverage/regions/${city}/children?${query()}`);
  state.table = body.items;
  state.tableParent = city;
  $("table-region").textContent = `${state.regions[city].name} · ${body.as_of}`;
  $("export-csv").href = `/v1/coverage/regions/${city}/children?${query({ f: "csv" })}`;
  $("export-xlsx").href = `/v1/coverage/regions/${city}/children?${query({ f: "xlsx" })}`;
  drawTable();
  const rules = [...new Set(body.items.map((row) => row.rule_label))];
  const methods = [...new Set(body.items.map((row) => row.method).filter((m) => m !== "radius"))];
  const networks = [...new Set(body.items.map((row) => row.rule?.network?.attribution).filter(Boolean))];
  $("legend-rule").textContent = [`${t("rule")}: ${rules.join("; ")}`, ...methods, ...networks].join(" · ");
  $("legend-date").textContent = `${t("date")}: ${body.as_of}`;
}

function sortValue(row, key) {
  if (key === "worst") return row.worst_served?.distance_m ?? -1;
  return row[key] ?? -1;
}

function drawTable() {
  const { key, descending } = state.sort;
  const rows = [...state.table].sort((a, b) => {
    const [x, y] = [sortValue(a, key), sortValue(b, key)];
    const order = typeof x === "string" ? x.localeCompare(y, "zh-CN") : x - y;
    return descending ? -order : order;
  });
  $("coverage-table").querySelector("tbody").innerHTML = rows
    .map((row) => `<tr data-adcode="${row.adcode}" class="${row.adcode === state.region ? "selected" : ""}">
      <td>${escape(row.name)}</td><td>${percent(row.covered_area_share)}</td><td>${percent(row.covered_population_share)}</td>
      <td>${row.site_count}</td><td>${metres(row.worst_served?.distance_m)}</td></tr>`)
    .join("");
}

async function loadRegion() {
  const adcode = state.region;
  const coverage = api(`/v1/coverage/regions/${adcode}?${query()}`);
  const gaps = api(`/v1/coverage/regions/${adcode}/gaps?${query()}`);
  // The boundary first: the map moves there (and asks for its tiles) while coverage is being worked out.
  const region = await api(`/v1/regions/${adcode}?${new URLSearchParams(DATUM)}`);
  const bounds = new LngLatBounds();
  const visit = (coords) => (typeof coords[0] === "number" ? bounds.extend(coords) : coords.forEach(visit));
  visit(region.boundary.coordinates);
  await mapReady;
  map.fitBounds(bounds, { padding: 30, duration: 0 });
  map.setFilter("region-selected", ["==", ["get", "adcode"], adcode]);
  $("export-gaps").href = `/v1/coverage/regions/${adcode}/gaps?${query()}`;
  await Promise.all([drawGaps(await gaps), drawSummary(region, await coverage)]);
}

function drawGaps(gaps) {
  state.gaps = gaps;
  map.getSource("gaps").setData(gaps);
  $("gap-count").textContent = gaps.features.length;
  $("gaps").innerHTML = gaps.features
    .slice(0, 30)
    .map((f) => `<li>${f.properties.area_km2.toFixed(2)} km²${f.properties.population !== null ? ` · ${f.properties.population.toLocaleString()} ${t("people")}` : ""}</li>`)
    .join("");
}

function drawSummary(region, coverage) {
  $("region-summary").innerHTML = `<b>${escape(region.name)}</b> · ${t("areaShare")} ${percent(coverage.covered_area_share)}
    · ${t("populationShare")} ${percent(coverage.covered_population_share)} · ${t("sitesCount")} ${coverage.site_count}
    <br>${t("rule")}: ${escape(coverage.rule_label)}
    <br><span data-testid="region-method">${t("method")}: ${escape(coverage.method)}</span>
    ${coverage.rule?.network ? `<br><small>${escape(coverage.rule.network.attribution)}</small>` : ""}`;
  showRadiusComparison(coverage.rule);
  for (const marker of state.markers) marker.remove();
  state.markers = [];
  if (coverage.worst_served) {
    const worst = coverage.worst_served;
    const element = document.createElement("div");
    element.className = "marker-worst";
    element.dataset.testid = "worst-served";
    const minutes = worst.travel_time_s != null ? ` · ${(worst.travel_time_s / 60).toFixed(1)} min` : "";
    element.textContent = `${t("worst")} ${metres(worst.distance_m)} m${minutes}`;
    state.markers.push(new Marker({ element, anchor: "left" }).setLngLat([worst.lon, worst.lat]).addTo(map));
  }
}

async function refresh() {
  writeUrl();
  drawTable();
  await Promise.all([loadTable().then(() => performance.mark("table")), loadRegion().then(() => performance.mark("region"))]);
  document.body.dataset.ready = "true";
}

function changed() {
  document.body.dataset.ready = "false";
  clearSuggestions();
  refreshTiles();
  return refresh();
}

function monthStep(iso, months) {
  // A month later or earlier; from a month's last day to the other month's last day (monthly reports).
  const [y, m, d] = iso.split("-").map(Number);
  const lastDay = (year, month) => new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const target = d === lastDay(y, m - 1) ? lastDay(y, m - 1 + months) : Math.min(d, lastDay(y, m - 1 + months));
  return new Date(Date.UTC(y, m - 1 + months, target)).toISOString().slice(0, 10);
}

function clearSuggestions() {
  for (const marker of state.suggestionMarkers) marker.remove();
  state.suggestionMarkers = [];
  $("suggestions").innerHTML = "";
  $("suggest-summary").textContent = "";
}

async function suggest() {
  clearSuggestions();
  const body = { region: state.region, kind: state.kind, count: Number($("suggest-count").value), ...DATUM };
  if (state.asOf) body.as_of = state.asOf;
  const result = await api("/v1/coverage/suggest", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  for (const s of result.suggestions) {
    const element = document.createElement("div");
    element.className = "marker-rank";
    element.dataset.testid = "suggestion-marker";
    element.textContent = s.rank;
    state.suggestionMarkers.push(new Marker({ element }).setLngLat([s.lon, s.lat]).addTo(map));
  }
  $("suggestions").innerHTML = result.suggestions
    .map((s) => `<li data-lat="${s.lat}" data-lon="${s.lon}">${s.lat.toFixed(5)}, ${s.lon.toFixed(5)} · ${t("gainPeople")} ${s.gain_population.toLocaleString()} · ${t("gainArea")} ${s.gain_area_km2.toFixed(2)} km²</li>`)
    .join("");
  $("suggest-summary").textContent = `${t("populationShare")}: ${t("before")} ${percent(result.before.covered_population_share)} → ${t("after")} ${percent(result.after.covered_population_share)}`;
}

async function clickedAt(lngLat) {
  const q = new URLSearchParams({ lat: lngLat.lat, lon: lngLat.lng, kind: state.kind, limit: 3, ...DATUM });
  const coverageQuery = new URLSearchParams({ lat: lngLat.lat, lon: lngLat.lng, kind: state.kind, ...DATUM });
  if (state.asOf) coverageQuery.set("as_of", state.asOf);
  if (state.clickMarker) state.clickMarker.remove();
  state.clickMarker = new Marker({ color: "#333", scale: 0.7 }).setLngLat(lngLat).addTo(map);
  const [nearest, covered] = await Promise.all([
    api(`/v1/sites/nearest?${q}`),
    fetch(`/v1/coverage/point?${coverageQuery}`).then((r) => (r.ok ? r.json() : null)),
  ]);
  $("nearest").innerHTML = nearest.items
    .map((i) => `<li data-site-id="${i.id}">${escape(i.name)} · ${metres(i.distance_m)} m</li>`)
    .join("");
  const travel = (site) => (site?.travel_time_s != null ? ` · ${t("travelTime")} ${(site.travel_time_s / 60).toFixed(1)} min` : "");
  $("coverage-answer").innerHTML = covered
    ? `<b>${covered.covered ? t("covered") : t("notCovered")}</b> · ${t("rule")}: ${escape(ruleText(covered.rule))}
       · ${t("nearest")}: ${covered.nearest_site ? `${metres(covered.nearest_site.distance_m)} m${travel(covered.nearest_site)}` : t("none")}
       <br><small data-testid="point-method">${escape(covered.method)}</small>`
    : `<span class="muted">${t("notCovered")}</span>`;
}

function ruleText(rule) {
  const reach = rule.travel_minutes ? `${rule.travel_minutes} min (${rule.radius_m} m)` : `${rule.radius_m} m`;
  return rule.min_sites > 1 ? `${reach} · ≥ ${rule.min_sites}` : reach;
}

async function showSite(id) {
  // The site with its open status, trust flags and links, as the nearest answer gives them.
  const site = await api(`/v1/sites/${id}?${new URLSearchParams(DATUM)}`);
  state.site = String(site.id);
  writeUrl();
  const openState = site.open_now === true ? t("openNow") : site.open_now === false ? t("closedNow") : "—";
  const next = site.open_now ? (site.closes_at ? `${t("closesAt")} ${site.closes_at}` : "") : site.opens_at ? `${t("opensAt")} ${site.opens_at}` : "";
  $("site-details").innerHTML = `<b data-testid="site-name">${escape(site.name)}</b> (${escape(label("kinds", site.kind))})<br>
    ${t("address")}: ${escape(site.address)}<br>
    ${t("hours")}: <span data-testid="site-hours">${escape(site.opening_hours ?? "—")}</span>
    · <span data-testid="site-open-now">${openState}</span> <span data-testid="site-next-change">${escape(next)}</span><br>
    ${t("access")}: ${escape(label("access", site.access))}${site.access_note ? ` (${escape(site.access_note)})` : ""}<br>
    ${t("amenities")}: ${site.amenities.map((a) => escape(label("amenities", a))).join("、") || "—"}<br>
    ${t("trust")}: ${site.trust.join(", ") || "—"} · ${t("verified")}: ${escape(site.last_verified_at ?? "—")}<br>
    ${t("phone")}: ${escape(site.phone ?? "—")}
    · <a href="${escape(site.links.amap)}" target="_blank" rel="noopener">${t("navigate")}</a>`;
}

$("coverage-table").addEventListener("click", (event) => {
  const header = event.target.closest("th[data-sort]");
  if (header) {
    const key = header.dataset.sort;
    state.sort = { key, descending: state.sort.key === key ? !state.sort.descending : key !== "name" };
    drawTable();
    return;
  }
  const row = event.target.closest("tr[data-adcode]");
  if (row) {
    state.region = row.dataset.adcode;
    $("region").value = state.region;
    changed();
  }
});
$("region").addEventListener("change", () => { state.region = $("region").value; changed(); });
$("kind").addEventListener("change", () => { state.kind = $("kind").value; changed(); });
$("compare-radius").addEventListener("change", () =>
  map.setLayoutProperty("catchments-radius", "visibility", $("compare-radius").checked ? "visible" : "none"));
$("as-of").addEventListener("change", () => { state.asOf = $("as-of").value || null; changed(); });
for (const [id, months] of [["month-back", -1], ["month-next", 1]]) {
  $(id).addEventListener("click", () => {
    state.asOf = monthStep(state.asOf || todayInChina(), months);
    $("as-of").value = state.asOf;
    changed();
  });
}
$("suggest-button").addEventListener("click", suggest);
$("print").addEventListener("click", () => window.print());
$("lang").addEventListener("click", () => { state.lang = state.lang === "zh" ? "en" : "zh"; translate(); writeUrl(); refresh(); });
map.on("click", (event) => {
  const [site] = map.queryRenderedFeatures(event.point, { layers: ["sites"] });
  const [cell] = map.queryRenderedFeatures(event.point, { layers: ["site-counts"] });
  if (site) showSite(site.id ?? site.properties.id);
  else if (cell) map.easeTo({ center: event.lngLat, zoom: map.getZoom() + 2 });
  else clickedAt(event.lngLat);
});
for (const layer of ["sites"]) {
  map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
}
let hover;
map.on("mousemove", "region-fill", (event) => {
  const region = event.features[0]?.properties;
  if (!region) return;
  hover?.remove();
  hover = new Popup({ closeButton: false, closeOnClick: false }).setLngLat(event.lngLat)
    .setHTML(`${escape(region.name)} · ${percent(region.covered_area_share)}`).addTo(map);
});
map.on("mouseleave", "region-fill", () => hover?.remove());

// The region in the URL is known before anything else: ask for its answers while the page starts.
if (state.region) {
  prefetch(`/v1/regions/${state.region}?${new URLSearchParams(DATUM)}`);
  prefetch(`/v1/coverage/regions/${state.region}?${query()}`);
  prefetch(`/v1/coverage/regions/${state.region}/gaps?${query()}`);
  if (state.region.endsWith("00")) prefetch(`/v1/coverage/regions/${state.region}/children?${query()}`);
}

// The map's style loaded and our layers added: what drawing on it waits for.
const mapReady = new Promise((resolve) => map.once("load", () => { performance.mark("map-load"); addLayers(); resolve(); }));
// Marks for people and benchmarks who time the page (bench/tiles.py): its first idle, the table filled.
map.once("idle", () => performance.mark("map-idle"));

async function start() {
  const [vocabularies, regions] = await Promise.all([api("/v1/vocabularies"), api("/v1/regions")]);
  state.vocabularies = vocabularies;
  for (const region of regions.items) state.regions[region.adcode] = region;
  state.region = state.region && state.regions[state.region]
    ? state.region
    : (regions.items.find((r) => r.adcode === "371600") || regions.items.find((r) => r.level === "city") || regions.items[0]).adcode;
  // The date shown is the one evaluated: today in China unless the URL names one (which then stays in the URL).
  $("as-of").value = state.asOf || todayInChina();
  translate();
  await refresh();
  if (state.site) await showSite(state.site);
}

start().catch((error) => {
  document.body.dataset.ready = "error";
  console.error(error);
});
