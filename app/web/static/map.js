// The planners' map (挂图作战): every figure on it comes from the same API endpoints other clients use.
import { LngLatBounds, Map as MapLibreMap, Marker, NavigationControl, Popup, ScaleControl } from "/static/vendor/maplibre-gl/maplibre-gl.mjs";

const TEXT = {
  zh: {
    title: "工会服务阵地覆盖一张图", region: "区划", kind: "类型", asOf: "截至", print: "打印 A4", legend: "图例",
    legendGap: "未覆盖区域", legendRing: "服务半径", legendWorst: "最远点",
    colName: "名称", colArea: "面积覆盖率", colPeople: "人口覆盖率", colSites: "站点数",
    colWorst: "最远点(m)", exportGaps: "缺口 GeoJSON", selected: "所选区划", gaps: "覆盖缺口", suggest: "下一步选址",
    suggestCount: "新增数量", suggestRun: "计算", here: "点击地图", clickHint: "点击地图任意位置：是否覆盖、最近站点",
    site: "站点详情", sources: "数据来源：驿站站点登记库；区划边界：天地图（WGS-84）；人口：2020 年第七次人口普查（按格网建模）。",
    rule: "规则", date: "日期", covered: "已覆盖", notCovered: "未覆盖", nearest: "最近站点", openNow: "正在开放",
    closedNow: "当前关闭", opensAt: "下次开放", closesAt: "关闭时间", hours: "开放时间", access: "进入方式",
    amenities: "设施", trust: "提示", verified: "最近核实", phone: "电话", navigate: "高德导航", address: "地址",
    starLevel: "星级", workerRating: "职工评价", ratings: "条", lastInspection: "最近检查", busyNow: "此时段较忙",
    before: "现状", after: "新增后", gainPeople: "新增覆盖人口", gainArea: "新增覆盖面积", people: "人",
    worst: "最远点距最近站点", area: "面积", sitesCount: "站点",
    populationShare: "人口覆盖率", areaShare: "面积覆盖率", none: "无", lang: "English",
    method: "计算方式", compareRadius: "对比半径圈", legendRadius: "半径圈（对比）", travelTime: "用时",
    table_province: "分省覆盖情况", table_city: "分市覆盖情况", table_county: "分区县覆盖情况", table_mixed: "分下级区划覆盖情况",
    share_province: "各省按面积覆盖率着色", share_city: "各市按面积覆盖率着色", share_county: "区县按面积覆盖率着色",
    share_mixed: "下级区划按面积覆盖率着色", breadcrumb: "上级区划", gapsOnRequest: "省级、全国的缺口汇总其全部区县，按需计算",
    gapsLoad: "计算缺口", progress: "目标与进度", reportPdf: "月报 PDF", reportXlsx: "月报 XLSX", reportMonth: "月份",
    noTarget: "尚未设定目标", targetLine: "目标线", status_met: "已完成", status_on_track: "按计划推进",
    status_behind: "滞后", needed: "每月需增",
    operationsLayer: "运营图层", operations: "运营情况", idleSites: "闲置站点", operationsKey: "管理密钥",
    operationsKeyUse: "使用", operationsKeyForget: "清除",
    operationsKeyHint: "检查（inspect）或管理（write）密钥可查看逾期检查、回访和职工报告；密钥只保存在本标签页。",
    inspectionsDue: "逾期未检查站点", callbacksOverdue: "逾期未回访", needsKey: "需要密钥", neverInspected: "从未检查",
    dueSince: "应检于", callbackDue: "应回访于", idleRule: "闲置：近 {days} 天到访少于 {n} 次", visits30: "近 30 天到访",
    operationsOff: "打开“运营图层”查看站点使用情况", operationsLevel: "运营图层按市、区县显示：请选择一个市或区县",
    operationsSites: "站点", operationsVisits: "到访", visits30Until: "截至 {date} 的 30 天到访",
    reportsOpen: "职工报告（待处理）", reportsOverdue: "逾期未处理报告", reportDue: "应处理于", reportTimes: "次",
    legendReported: "有待处理的职工报告",
  },
  en: {
    title: "Union service coverage map", region: "Region", kind: "Kind", asOf: "As of", print: "Print A4", legend: "Legend",
    legendGap: "Not covered", legendRing: "Catchment",
    legendWorst: "Worst-served spot", colName: "Name", colArea: "Area covered",
    colPeople: "People covered", colSites: "Sites", colWorst: "Worst (m)", exportGaps: "Gaps GeoJSON",
    selected: "Selected region", gaps: "Gaps", suggest: "Where the next sites go", suggestCount: "How many",
    suggestRun: "Suggest", here: "Click the map", clickHint: "Click anywhere: covered here? nearest sites",
    site: "Site", sources: "Sources: the Yizhan register; boundaries: Tianditu (WGS-84); population: 2020 census (modelled on a grid).",
    rule: "Rule", date: "Date", covered: "Covered", notCovered: "Not covered", nearest: "Nearest sites", openNow: "Open now",
    closedNow: "Closed now", opensAt: "Opens", closesAt: "Closes", hours: "Opening hours", access: "Access",
    amenities: "Amenities", trust: "Notes", verified: "Last verified", phone: "Phone", navigate: "Navigate (Amap)",
    starLevel: "Star level", workerRating: "Workers' rating", ratings: "ratings", lastInspection: "Last inspection",
    busyNow: "Usually busy now",
    address: "Address", before: "Now", after: "After", gainPeople: "People gained", gainArea: "Area gained",
    people: "people", worst: "Worst-served spot",
    area: "Area", sitesCount: "Sites", populationShare: "People covered", areaShare: "Area covered", none: "none", lang: "中文",
    method: "Method", compareRadius: "Compare with the radius", legendRadius: "Radius circle (comparison)", travelTime: "travel time",
    table_province: "Coverage by province", table_city: "Coverage by city", table_county: "Coverage by county",
    table_mixed: "Coverage by region", share_province: "Provinces shaded by covered share of area",
    share_city: "Cities shaded by covered share of area", share_county: "Counties shaded by covered share of area",
    share_mixed: "Regions shaded by covered share of area", breadcrumb: "Regions above",
    gapsOnRequest: "A province's or the country's gaps gather all its counties': computed on request", gapsLoad: "Compute gaps",
    progress: "Targets and progress", reportPdf: "Monthly report (PDF)", reportXlsx: "Monthly report (XLSX)",
    reportMonth: "month", noTarget: "No target set", targetLine: "Target line", status_met: "Met",
    status_on_track: "On track", status_behind: "Behind", needed: "needed a month",
    operationsLayer: "Operations layer", operations: "Stations in use", idleSites: "Idle stations", operationsKey: "Key",
    operationsKeyUse: "Use", operationsKeyForget: "Forget",
    operationsKeyHint: "An inspect or write key shows overdue inspections, call-backs and workers' reports; it is kept in this tab only.",
    inspectionsDue: "Overdue inspections", callbacksOverdue: "Overdue call-backs", needsKey: "needs a key",
    neverInspected: "never inspected", dueSince: "due", callbackDue: "due", idleRule: "Idle: under {n} visits in {days} days",
    visits30: "Visits in the last 30 days", operationsOff: "Switch the operations layer on to see how stations are used",
    operationsLevel: "The operations layer shows a city or a county: select one", operationsSites: "sites",
    operationsVisits: "visits", visits30Until: "Visits in the 30 days to {date}",
    reportsOpen: "Workers' reports (open)", reportsOverdue: "Overdue reports", reportDue: "due", reportTimes: "×",
    legendReported: "Open workers' reports",
  },
};
const KIND_COLOURS = { outdoor_station: "#e66101", legal_aid: "#2c7fb8", service_centre: "#5e3c99" };
const SHARE_RAMP = ["interpolate", ["linear"], ["coalesce", ["get", "covered_area_share"], -1],
  -1, "rgba(0,0,0,0)", 0, "#d7301f", 0.5, "#fc8d59", 0.75, "#fdcc8a", 0.9, "#b3de69", 1, "#1a9850"];

const params = new URLSearchParams(location.search);
// The datum everything is drawn in: the base map's (GCJ-02 for Amap and Tencent), else WGS-84.
const COORDSYS = document.body.dataset.coordsys === "gcj02" ? "gcj02" : "wgs84";
const DATUM = COORDSYS === "wgs84" ? {} : { coordsys: COORDSYS };
// Every region above a county is listed when the page starts (about 370 for all of China): the breadcrumb's names
// and the children's levels come from them. A county is read when it is selected.
const LEVELS_ABOVE_COUNTY = ["country", "province", "city"];
// A province's or the country's gaps are all of its counties' (megabytes, and minutes cold for all of China): asked
// for on request, so that their view does not wait on them.
const GAPS_ON_REQUEST = new Set(["country", "province"]);
// The operations layer draws each site of the region: a city's or a county's (hundreds), not a province's.
const OPERATIONS_LEVELS = new Set(["city", "county"]);
// A key for the lists that need one (overdue inspections: `inspect`; call-backs: `write`): kept for this tab only,
// never in the URL.
const KEY_STORE = "yizhan.key";
const IDLE_GREY = "#9e9e9e";
const REPORTED_RING = "#e66101";
const USE_RAMP = ["#c6dbef", "#6baed6", "#2171b5", "#08306b"];
const state = {
  region: params.get("region"), kind: params.get("kind") || "legal_aid", asOf: params.get("as_of"),
  site: params.get("site"), lang: params.get("lang") === "en" ? "en" : "zh",
  vocabularies: null, regions: {}, details: new Map(), level: null, tableParent: null, childLevel: "county",
  view: 0, table: [], sort: { key: "name", descending: false },
  gaps: null, markers: [], suggestionMarkers: [], clickMarker: null,
  operations: params.get("layer") === "operations", key: sessionStorage.getItem(KEY_STORE),
  // What the operations layer draws (its features before the reports' marks) and the sites with open reports.
  operationsFeatures: [], reportedSites: new Set(),
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

// A GET stopped by the service's request budget (503) may be asked again: the coverage of every county it finished is
// kept, so the next try goes further (the country's table cold on a small machine).
const RETRIES_AFTER_BUDGET = 3;

async function fetchJson(path, options, retries = RETRIES_AFTER_BUDGET) {
  const response = await fetch(path, options);
  if (response.status === 503 && !options && retries > 0) {
    const seconds = Math.min(Number(response.headers.get("Retry-After")) || 5, 30);
    await new Promise((resume) => setTimeout(resume, seconds * 1000));
    return fetchJson(path, options, retries - 1);
  }
  if (!response.ok) {
    // A problem's detail says what was wrong (application/problem+json); else the status.
    const problem = await response.json().catch(() => null);
    throw new Error(problem?.detail ?? `${path}: ${response.status}`);
  }
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

function viewUrl(region) {
  const q = new URLSearchParams();
  if (region) q.set("region", region);
  q.set("kind", state.kind);
  if (state.asOf) q.set("as_of", state.asOf);
  if (state.site) q.set("site", state.site);
  if (state.lang === "en") q.set("lang", "en");
  if (state.operations) q.set("layer", "operations");
  return `${location.pathname}?${q}`;
}

// A region selected is a step in the browser's history (back goes up again); other changes of the view replace it.
function writeUrl(history = "replace") {
  if (history === "push") window.history.pushState(null, "", viewUrl(state.region));
  else if (history === "replace") window.history.replaceState(null, "", viewUrl(state.region));
}

function todayInChina() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
}

function translate() {
  document.documentElement.lang = state.lang === "en" ? "en" : "zh-CN";
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  $("lang").textContent = t("lang");
  $("breadcrumb").setAttribute("aria-label", t("breadcrumb"));
  fillKinds();
  fillRegions();
  drawLevelTexts();
}

function fillKinds() {
  $("kind").innerHTML = state.vocabularies.kinds
    .map((k) => `<option value="${k.code}" ${k.code === state.kind ? "selected" : ""}>${escape(k[state.lang])}</option>`)
    .join("");
}

function remember(region) {
  const { adcode, name, level, parent_adcode, area_km2 } = region;
  state.regions[adcode] = { adcode, name, level, parent_adcode, area_km2 };
}

// The regions from the top down to `adcode` (as far up as they are loaded).
function pathTo(adcode) {
  const path = [];
  for (let at = adcode; at && state.regions[at] && !path.includes(state.regions[at]); at = state.regions[at].parent_adcode) {
    path.unshift(state.regions[at]);
  }
  return path;
}

// The table lists the selected region's children; a county's table is its parent's, the county marked in it.
function tableParentOf(region) {
  return region.level === "county" ? region.parent_adcode : region.adcode;
}

function levelOf(adcode) {
  return state.regions[adcode]?.level ?? "county";
}

function drawBreadcrumb() {
  const path = pathTo(state.region);
  $("breadcrumb").innerHTML = path
    .map((r, i) => (i === path.length - 1
      ? `<b data-adcode="${r.adcode}">${escape(r.name)}</b>`
      : `<a href="${escape(viewUrl(r.adcode))}" data-adcode="${r.adcode}">${escape(r.name)}</a>`))
    .join(" › ");
}

// The select: the regions above the table, then the table's regions, to jump to one.
function fillRegions() {
  const above = pathTo(state.tableParent);
  const options = above.map((r, depth) => `<option value="${r.adcode}">${"　".repeat(depth)}${escape(r.name)}</option>`);
  for (const row of state.table) options.push(`<option value="${row.adcode}">${"　".repeat(above.length)}${escape(row.name)}</option>`);
  $("region").innerHTML = options.join("");
  $("region").value = state.region;
}

function drawLevelTexts() {
  $("table-title").textContent = t(`table_${state.childLevel}`);
  $("legend-share").textContent = t(`share_${state.childLevel}`);
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

const NOTHING = ["==", ["get", "adcode"], ""];

function addLayers() {
  map.addSource("regions", { type: "vector", tiles: [tileUrl("regions")], promoteId: "adcode", attribution: "驿站 Yizhan; 天地图 Tianditu" });
  // The tiles carry every level: the table's regions (the children of its parent) are shaded, their parent and its
  // peers outlined around them.
  map.addLayer({ id: "region-fill", type: "fill", source: "regions", "source-layer": "regions", filter: NOTHING,
    paint: { "fill-color": SHARE_RAMP, "fill-opacity": 0.45 } });
  map.addLayer({ id: "region-peers", type: "line", source: "regions", "source-layer": "regions", filter: NOTHING,
    paint: { "line-color": "#999", "line-width": 0.8 } });
  map.addLayer({ id: "region-line", type: "line", source: "regions", "source-layer": "regions", filter: NOTHING,
    paint: { "line-color": "#777", "line-width": 1 } });
  map.addLayer({ id: "region-parent", type: "line", source: "regions", "source-layer": "regions", filter: NOTHING,
    paint: { "line-color": "#333", "line-width": 2 } });
  map.addLayer({ id: "region-selected", type: "line", source: "regions", "source-layer": "regions",
    filter: NOTHING, paint: { "line-color": "#ffb000", "line-width": 3 } });
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
  // The operations layer: the region's sites by their visits in the last 30 days, the idle ones grey (their colour
  // ramp set from the region's idle rule when its usage arrives); a site not serving on the page's date, never idle,
  // faded as on the register's layer.
  map.addSource("operations", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "operations-use", type: "circle", source: "operations", filter: ["!", ["get", "idle"]],
    layout: { visibility: "none" },
    paint: { "circle-color": USE_RAMP[1], "circle-radius": 6, "circle-stroke-color": "#fff", "circle-stroke-width": 1,
      "circle-opacity": ["case", ["get", "serving"], 1, 0.4] } });
  map.addLayer({ id: "operations-idle", type: "circle", source: "operations", filter: ["get", "idle"],
    layout: { visibility: "none" },
    paint: { "circle-color": IDLE_GREY, "circle-radius": 6, "circle-stroke-color": "#616161", "circle-stroke-width": 1 } });
  // A ring around each site a worker has an open report on (a key's region, app/reports).
  map.addLayer({ id: "operations-reported", type: "circle", source: "operations", filter: ["get", "reported"],
    layout: { visibility: "none" },
    paint: { "circle-color": "rgba(0, 0, 0, 0)", "circle-radius": 10, "circle-stroke-color": REPORTED_RING,
      "circle-stroke-width": 2.5 } });
  showOperations();
}

const EMPTY = { type: "FeatureCollection", features: [] };
const OPERATIONS_LAYERS = ["operations-use", "operations-idle", "operations-reported"];

// With the operations layer on, the register's own site dots make way for it.
function showOperations() {
  $("operations-toggle").checked = state.operations;
  $("operations-legend").hidden = !state.operations;
  if (!map.getSource("operations")) return;
  for (const id of OPERATIONS_LAYERS) map.setLayoutProperty(id, "visibility", state.operations ? "visible" : "none");
  for (const id of ["sites", "site-counts"]) map.setLayoutProperty(id, "visibility", state.operations ? "none" : "visible");
}

// Children of an element, each made from text (data never goes through innerHTML).
function fillList(list, rows, item) {
  list.replaceChildren(...rows.map((row) => {
    const li = document.createElement("li");
    item(li, row);
    return li;
  }));
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

// Every site of the region as points in the map's datum, page by page.
async function regionPoints(adcode) {
  const points = [];
  let cursor = null;
  do {
    const q = new URLSearchParams({ region: adcode, f: "geojson", limit: 1000, ...DATUM });
    if (cursor) q.set("cursor", cursor);
    const page = await api(`/v1/sites?${q}`);
    points.push(...page.features);
    cursor = page.next_cursor;
  } while (cursor);
  return points;
}

async function loadOperations(region, view) {
  $("operations-region").textContent = region.name;
  document.body.dataset.operations = "loading";
  const lists = loadKeyedLists(region, view);
  if (!state.operations || !OPERATIONS_LEVELS.has(region.level)) {
    state.operationsFeatures = [];
    map.getSource("operations")?.setData(EMPTY);
    $("operations-summary").textContent = t(state.operations ? "operationsLevel" : "operationsOff");
    $("idle-count").textContent = "—";
    $("idle-sites").replaceChildren();
  } else {
    try {
      // The page's kind, and the idle rule judged on the page's date, as the overdue lists are.
      const q = new URLSearchParams({ kind: state.kind, ...(state.asOf ? { as_of: state.asOf } : {}) });
      const [usage, points] = await Promise.all([
        api(`/v1/coverage/regions/${region.adcode}/usage?${q}`), regionPoints(region.adcode),
      ]);
      if (view !== state.view) return;
      drawOperations(usage, points);
    } catch (error) {
      if (view === state.view) $("operations-summary").textContent = error.message;
    }
  }
  await lists;
  if (view === state.view) document.body.dataset.operations = "ready";
}

function drawOperations(usage, points) {
  const use = new Map(usage.sites.map((site) => [site.site_id, site]));
  state.operationsFeatures = points.filter((point) => use.has(point.id)).map((point) => {
    const site = use.get(point.id);
    return { type: "Feature", id: point.id, geometry: point.geometry,
      properties: { id: point.id, name: site.name, visits: site.visits_last_30_days, idle: site.idle,
        serving: site.serving } };
  });
  markReported();
  const { below_visits: below, days } = usage.idle_rule;
  const n = Math.max(below, 1);
  const stops = [n, 2 * n, 4 * n, 8 * n];
  map.setPaintProperty("operations-use", "circle-color",
    ["interpolate", ["linear"], ["get", "visits"], ...stops.flatMap((stop, i) => [stop, USE_RAMP[i]])]);
  $("operations-legend-idle").textContent = t("idleRule").replace("{n}", below).replace("{days}", days);
  $("operations-legend-days").textContent = t("visits30Until").replace("{date}", usage.as_of);
  $("operations-legend-ramp").replaceChildren(
    ...stops.map((stop, i) => span("", i === stops.length - 1 ? `≥ ${stop}` : String(stop))));
  $("operations-summary").textContent =
    `${usage.from} – ${usage.to} · ${t("operationsSites")} ${usage.site_count} · ${t("operationsVisits")} ${usage.visits}`;
  const idle = usage.sites.filter((site) => site.idle)
    .sort((a, b) => a.visits_last_30_days - b.visits_last_30_days || a.name.localeCompare(b.name, "zh-CN"));
  $("idle-count").textContent = idle.length;
  fillList($("idle-sites"), idle, (li, site) => {
    li.dataset.siteId = site.site_id;
    li.append(site.name, span("muted", ` · ${site.visits_last_30_days}`));
  });
}

// The operations layer's sites, those with an open report ringed.
function markReported() {
  const features = state.operationsFeatures.map((feature) => (
    { ...feature, properties: { ...feature.properties, reported: state.reportedSites.has(feature.id) } }));
  map.getSource("operations")?.setData({ type: "FeatureCollection", features });
}

// Every page of a keyed list.
async function allPages(path, params, headers) {
  const rows = [];
  let cursor = null;
  do {
    const q = new URLSearchParams({ ...params, limit: 500 });
    if (cursor) q.set("cursor", cursor);
    const page = await api(`${path}?${q}`, { headers });
    rows.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
}

// The lists that need a key: the region's sites overdue for inspection (an `inspect` key), its overdue call-backs
// and its workers' open and overdue reports (a `write` key); each says why when the key does not open it.
async function loadKeyedLists(region, view) {
  const on = state.asOf || todayInChina();
  const headers = { Authorization: `Bearer ${state.key}` };
  state.reportedSites = new Set();
  markReported();
  const show = async (list, count, status, load, item) => {
    list.replaceChildren();
    count.textContent = "—";
    status.textContent = state.key ? "" : t("needsKey");
    if (!state.key) return;
    try {
      const rows = await load();
      if (view !== state.view) return;
      count.textContent = rows.length;
      fillList(list, rows, item);
    } catch (error) {
      if (view === state.view) status.textContent = error.message;
    }
  };
  await Promise.all([
    show($("inspections-due"), $("due-count"), $("due-status"),
      async () => (await api(`/v1/inspections/due?${new URLSearchParams({ region: region.adcode, on })}`, { headers })).items,
      (li, due) => {
        li.dataset.siteId = due.site_id;
        li.append(due.name, span("when", due.due_on ? `${t("dueSince")} ${due.due_on}` : t("neverInspected")));
      }),
    show($("callbacks-overdue"), $("callbacks-count"), $("callbacks-status"),
      () => allPages("/v1/callbacks", { region: region.adcode, overdue_on: on }, headers),
      (li, callback) => {
        li.dataset.siteId = callback.site_id;
        li.dataset.callbackId = callback.id;
        li.append(callback.site_name, ` · ${"★".repeat(callback.stars)} · ${label("callback_reasons", callback.reason)}`,
          span("when", `${t("callbackDue")} ${callback.due_on}`));
        if (callback.comment) li.append(document.createElement("br"), span("muted", callback.comment));
      }),
    show($("reports-open"), $("reports-open-count"), $("reports-open-status"),
      async () => {
        const rows = await allPages("/v1/reports", { region: region.adcode, status: "open" }, headers);
        if (view === state.view) {
          state.reportedSites = new Set(rows.map((report) => report.site_id));
          markReported();
        }
        return rows;
      },
      reportItem),
    show($("reports-overdue"), $("reports-overdue-count"), $("reports-overdue-status"),
      () => allPages("/v1/reports", { region: region.adcode, overdue_on: on }, headers), reportItem),
  ]);
}

function reportItem(li, report) {
  li.dataset.siteId = report.site_id;
  li.dataset.reportId = report.id;
  li.append(report.site_name, ` · ${label("report_types", report.type)}`,
    span("muted", ` · ${report.times_reported} ${t("reportTimes")}`), span("when", `${t("reportDue")} ${report.due_on}`));
  if (report.note) li.append(document.createElement("br"), span("muted", report.note));
}

function shadeTable() {
  const parent = state.tableParent ?? "";
  map.setFilter("region-fill", ["==", ["get", "parent_adcode"], parent]);
  map.setFilter("region-line", ["==", ["get", "parent_adcode"], parent]);
  map.setFilter("region-parent", ["==", ["get", "adcode"], parent]);
  map.setFilter("region-peers", parent
    ? ["all", ["==", ["get", "level"], levelOf(parent)], ["!=", ["get", "adcode"], parent]] : NOTHING);
  map.setFilter("region-selected", ["==", ["get", "adcode"], state.region]);
}

function refreshTiles() {
  if (!map.getSource("regions")) return; // the first view is not drawn yet
  map.getSource("regions").setTiles([tileUrl("regions")]);
  map.getSource("catchments").setTiles([tileUrl("catchments")]);
  showRadiusComparison(null);
  map.getSource("sites").setTiles([sitesTileUrl()]);
  map.setPaintProperty("sites", "circle-radius", ["case", ["==", ["get", "kind"], ["literal", state.kind]], 6, 3.5]);
}

// The selected region with its boundary, read once a page.
function regionDetail(adcode) {
  if (!state.details.has(adcode)) {
    const asking = api(`/v1/regions/${adcode}?${new URLSearchParams(DATUM)}`);
    asking.catch(() => state.details.delete(adcode));
    state.details.set(adcode, asking);
  }
  return state.details.get(adcode);
}

async function loadTable(view) {
  const parent = state.tableParent;
  if (!parent) return;
  const body = await api(`/v1/coverage/regions/${parent}/children?${query()}`);
  if (view !== state.view) return;
  state.table = body.items;
  const levels = new Set(body.items.map((row) => levelOf(row.adcode)));
  state.childLevel = levels.size === 1 ? [...levels][0] : "mixed";
  drawLevelTexts();
  $("table-region").textContent = `${state.regions[parent].name} · ${body.as_of}`;
  $("export-csv").href = `/v1/coverage/regions/${parent}/children?${query({ f: "csv" })}`;
  $("export-xlsx").href = `/v1/coverage/regions/${parent}/children?${query({ f: "xlsx" })}`;
  drawTable();
  fillRegions();
  const rules = [...new Set(body.items.map((row) => row.rule_label))];
  const methods = [...new Set(body.items.map((row) => row.method).filter((m) => m !== "radius" && !rules.includes(m)))];
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

function fit(region, padding = 30) {
  const bounds = new LngLatBounds();
  const visit = (coords) => (typeof coords[0] === "number" ? bounds.extend(coords) : coords.forEach(visit));
  visit(region.boundary.coordinates);
  map.fitBounds(bounds, { padding, duration: 0 });
}

async function loadRegion(region, view) {
  const { adcode } = region;
  const coverage = api(`/v1/coverage/regions/${adcode}?${query()}`);
  const onRequest = GAPS_ON_REQUEST.has(region.level);
  const gaps = onRequest ? null : api(`/v1/coverage/regions/${adcode}/gaps?${query()}`);
  $("export-gaps").href = `/v1/coverage/regions/${adcode}/gaps?${query()}`;
  $("gaps-on-request").hidden = !onRequest;
  if (onRequest) drawGaps({ type: "FeatureCollection", features: [] }, "—");
  const [gapsFound, coverageFound] = await Promise.all([gaps, coverage]);
  if (view !== state.view) return;
  if (gapsFound) drawGaps(gapsFound);
  drawSummary(region, coverageFound);
}

// The last month that has ended on the date evaluated: the one whose report can be made.
function lastEndedMonth() {
  const [year, month] = (state.asOf || todayInChina()).split("-").map(Number);
  const previous = new Date(Date.UTC(year, month - 2, 1));
  return previous.toISOString().slice(0, 7);
}

// The region's progress, twelve months to the date evaluated, as the progress API answers it.
async function loadProgress(region, view) {
  const q = new URLSearchParams({ kind: state.kind, by: "month" });
  if (state.asOf) q.set("to", state.asOf);
  const month = lastEndedMonth();
  const report = new URLSearchParams({ kind: state.kind, month, lang: state.lang });
  $("report-pdf").href = `/v1/progress/${region.adcode}/report?${report}&f=pdf`;
  $("report-xlsx").href = `/v1/progress/${region.adcode}/report?${report}&f=xlsx`;
  $("report-month").textContent = `${t("reportMonth")} ${month}`;
  $("progress-region").textContent = region.name;
  try {
    const progress = await api(`/v1/progress/${region.adcode}?${q}`);
    if (view !== state.view) return;
    drawProgress(progress);
  } catch (error) {
    if (view === state.view) $("progress-chart").innerHTML = `<p class="muted">${escape(error.message)}</p>`;
  }
}

const CHART = { width: 400, height: 170, left: 34, right: 40, top: 10, bottom: 22 };
const TARGET_COLOURS = ["#5e3c99", "#e66101", "#2c7fb8"];

// The count (left axis) and the covered share of the area (right axis, 0–100 %) per month, each target's line
// dashed; every point carries the figures it is drawn from.
function drawProgress(progress) {
  const points = progress.periods;
  const { width, height, left, right, top, bottom } = CHART;
  const counts = points.map((p) => p.site_count);
  const countTargets = progress.targets.filter((target) => target.measure === "count").map((target) => target.value);
  const most = Math.max(1, ...counts, ...countTargets);
  const x = (i) => left + (points.length > 1 ? (i * (width - left - right)) / (points.length - 1) : 0);
  const yCount = (v) => top + (height - top - bottom) * (1 - v / most);
  const yShare = (v) => top + (height - top - bottom) * (1 - v);
  const line = (values, y) => values.map((v, i) => (v === null || v === undefined ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`))
    .filter(Boolean).join(" ");
  const shares = points.map((p) => p.covered_area_share);
  const targetLines = progress.targets.map((target, n) => {
    const values = points.map((p) => p.targets.find((s) => s.target_id === target.id)?.line ?? null);
    const y = target.measure === "count" ? yCount : yShare;
    return `<polyline class="target" data-testid="progress-target" data-target="${target.id}" stroke="${TARGET_COLOURS[n % 3]}" points="${line(values, y)}"><title>${escape(t("targetLine"))} ${escape(label("target_measures", target.measure))} ${target.value} · ${target.due_on}</title></polyline>`;
  });
  const dots = points.map((p, i) => `<g data-testid="progress-point" data-period="${p.period}" data-count="${p.site_count}" data-share="${p.covered_area_share ?? ""}">
    <circle cx="${x(i).toFixed(1)}" cy="${yCount(p.site_count).toFixed(1)}" r="2.5" fill="#8e1b10"/>
    ${p.covered_area_share === null ? "" : `<circle cx="${x(i).toFixed(1)}" cy="${yShare(p.covered_area_share).toFixed(1)}" r="2.5" fill="#1a9850"/>`}
    <title>${p.period}: ${t("sitesCount")} ${p.site_count} · ${t("areaShare")} ${percent(p.covered_area_share)}</title></g>`);
  const ticks = points.map((p, i) => (i % 3 === points.length % 3 || i === points.length - 1
    ? `<text class="axis" x="${x(i).toFixed(1)}" y="${height - 6}" text-anchor="middle">${p.period.slice(2)}</text>` : ""));
  $("progress-chart").innerHTML = `<svg viewBox="0 0 ${width} ${height + 14}" role="img" aria-label="${escape(t("progress"))}">
    <line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#999"/>
    <line x1="${width - right}" y1="${top}" x2="${width - right}" y2="${height - bottom}" stroke="#999"/>
    <line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#999"/>
    <text class="axis" x="${left - 4}" y="${top + 8}" text-anchor="end">${most}</text>
    <text class="axis" x="${left - 4}" y="${height - bottom}" text-anchor="end">0</text>
    <text class="axis" x="${width - right + 4}" y="${top + 8}">100 %</text>
    <text class="axis" x="${width - right + 4}" y="${height - bottom}">0 %</text>
    <polyline class="count" points="${line(counts, yCount)}"/><polyline class="share" points="${line(shares, yShare)}"/>
    ${targetLines.join("")}${dots.join("")}${ticks.join("")}
    <text class="key" x="${left}" y="${height + 10}" fill="#8e1b10">● ${escape(t("sitesCount"))}</text>
    <text class="key" x="${left + 70}" y="${height + 10}" fill="#1a9850">● ${escape(t("areaShare"))}</text>
    <text class="key" x="${left + 160}" y="${height + 10}" fill="#5e3c99">- - ${escape(t("targetLine"))}</text>
  </svg>`;
  const standing = progress.standing;
  $("progress-status").innerHTML = standing
    ? `<span class="status-${standing.status}" data-testid="progress-standing">${escape(t(`status_${standing.status}`))}</span>
       · ${escape(label("target_measures", standing.measure))} ${standing.measure === "count" ? standing.actual : percent(standing.actual)}
       / ${standing.measure === "count" ? standing.line?.toFixed(1) : percent(standing.line)}
       ${standing.needed_per_month ? ` · ${escape(t("needed"))} ${standing.measure === "count" ? standing.needed_per_month.toFixed(1) : percent(standing.needed_per_month)}` : ""}`
    : `<span class="muted">${escape(t("noTarget"))}</span>`;
}

async function loadGapsOnRequest() {
  const view = state.view;
  $("gaps-load").disabled = true;
  try {
    const gaps = await api(`/v1/coverage/regions/${state.region}/gaps?${query()}`);
    if (view !== state.view) return;
    drawGaps(gaps);
    $("gaps-on-request").hidden = true;
  } catch (error) {
    if (view === state.view) $("gaps").innerHTML = `<li class="muted">${escape(error.message)}</li>`;
  } finally {
    $("gaps-load").disabled = false;
  }
}

function drawGaps(gaps, count = gaps.features.length) {
  state.gaps = gaps;
  map.getSource("gaps").setData(gaps);
  $("gap-count").textContent = count;
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

async function refresh(history = "replace") {
  const view = ++state.view;
  writeUrl(history);
  const region = await regionDetail(state.region);
  if (view !== state.view) return;
  remember(region);
  state.current = region;
  state.level = region.level;
  if (tableParentOf(region) !== state.tableParent) {
    state.tableParent = tableParentOf(region);
    state.table = [];
  }
  drawBreadcrumb();
  fillRegions();
  drawTable();
  await mapReady;
  fit(region);
  // Our layers from the first region on: tiles asked for before it is in view would be thrown away.
  if (!map.getSource("regions")) {
    addLayers();
    // Marks for people and benchmarks who time the page (bench/tiles.py): its first idle drawn, the table filled.
    map.once("idle", () => performance.mark("map-idle"));
  }
  shadeTable();
  await Promise.all([
    loadTable(view).then(() => performance.mark("table")),
    loadRegion(region, view).then(() => performance.mark("region")),
    loadProgress(region, view),
    loadOperations(region, view),
  ]);
  if (view === state.view) document.body.dataset.ready = "true";
}

function changed(history = "replace") {
  document.body.dataset.ready = "false";
  clearSuggestions();
  refreshTiles();
  return refresh(history);
}

// Down (a row, a shape), up (the breadcrumb) or across (the select) to another region: a step back can undo.
function select(adcode) {
  if (adcode === state.region) return;
  state.region = adcode;
  changed("push");
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
  let result;
  try {
    result = await api("/v1/coverage/suggest", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch (error) {
    $("suggest-summary").textContent = error.message;
    return;
  }
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
    · <a href="${escape(site.links.amap)}" target="_blank" rel="noopener">${t("navigate")}</a>
    <div data-testid="site-in-use"></div>`;
  // The station in use: its star level, workers' rating and latest comments (text, never HTML), last inspection.
  const [rated, inspected] = await Promise.all([
    api(`/v1/sites/${id}/ratings?limit=3`),
    api(`/v1/sites/${id}/inspections?limit=1`),
  ]);
  if (state.site !== String(site.id)) return;  // another site was clicked meanwhile
  const stars = site.star_level ? "★".repeat(site.star_level) : "—";
  const mean = site.worker_rating.mean === null ? "—" : `${site.worker_rating.mean} (${site.worker_rating.count} ${t("ratings")})`;
  const last = inspected.items[0];
  const comments = rated.items.filter((r) => r.comment).map((r) => `<li>${"★".repeat(r.stars)} ${escape(r.comment)}</li>`);
  $("site-details").querySelector("[data-testid=site-in-use]").innerHTML =
    `${t("starLevel")}: <span data-testid="site-star-level">${stars}</span>
    · ${t("workerRating")}: <span data-testid="site-worker-rating">${escape(mean)}</span>
    ${site.busy_now ? ` · ${t("busyNow")}` : ""}<br>
    ${t("lastInspection")}: <span data-testid="site-last-inspection">${escape(last ? `${last.inspected_on} (${last.total})` : "—")}</span>
    <ul data-testid="site-comments">${comments.join("")}</ul>`;
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
  if (row) select(row.dataset.adcode);
});
$("breadcrumb").addEventListener("click", (event) => {
  const link = event.target.closest("a[data-adcode]");
  if (!link) return;
  event.preventDefault();
  select(link.dataset.adcode);
});
$("region").addEventListener("change", () => select($("region").value));
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
$("gaps-load").addEventListener("click", loadGapsOnRequest);
$("operations-toggle").addEventListener("change", () => {
  state.operations = $("operations-toggle").checked;
  writeUrl();
  showOperations();
  if (state.current) loadOperations(state.current, state.view);
});
function keyChanged(key) {
  state.key = key || null;
  if (state.key) sessionStorage.setItem(KEY_STORE, state.key);
  else sessionStorage.removeItem(KEY_STORE);
  $("operations-key").value = "";
  $("operations-key").placeholder = state.key ? "••••••" : "";
  if (state.current) loadKeyedLists(state.current, state.view);
}
$("operations-key-use").addEventListener("click", () => keyChanged($("operations-key").value.trim()));
$("operations-key-forget").addEventListener("click", () => keyChanged(null));
$("operations-panel").addEventListener("click", (event) => {
  const item = event.target.closest("li[data-site-id]");
  if (item) showSite(item.dataset.siteId);
});
$("suggest-button").addEventListener("click", suggest);
// Printing: the map's printed box (map.css) is not the screen's, so the view is fitted to the region again in it
// before the page is printed, and put back after. A print from the browser's menu fires beforeprint; a print
// preview or emulation (Playwright) switches the print media query.
let screenView = null;
function fitForPrint() {
  if (screenView || !state.current) return;
  screenView = { center: map.getCenter(), zoom: map.getZoom() };
  map.resize();
  fit(state.current, 10);
  map.redraw();
  map.once("idle", () => { document.body.dataset.printReady = "true"; });
}
function backFromPrint() {
  if (!screenView) return;
  document.body.dataset.printReady = "false";
  map.resize();
  map.jumpTo(screenView);
  screenView = null;
}
window.addEventListener("beforeprint", fitForPrint);
window.addEventListener("afterprint", backFromPrint);
window.matchMedia("print").addEventListener("change", (event) => (event.matches ? fitForPrint() : backFromPrint()));
$("print").addEventListener("click", () => window.print());
$("lang").addEventListener("click", () => { state.lang = state.lang === "zh" ? "en" : "zh"; translate(); refresh(); });
// Back and forward: the view the URL holds (it is written already).
window.addEventListener("popstate", () => {
  const view = new URLSearchParams(location.search);
  state.region = view.get("region") || state.region;
  state.kind = view.get("kind") || "legal_aid";
  state.asOf = view.get("as_of");
  state.operations = view.get("layer") === "operations";
  showOperations();
  $("kind").value = state.kind;
  $("as-of").value = state.asOf || todayInChina();
  changed("kept");
});

// Above a county, a click on one of the shaded regions selects it; in a county, a click asks what is near.
function childAt(point) {
  if (state.level === "county") return null;
  const [child] = map.queryRenderedFeatures(point, { layers: ["region-fill"] });
  return child?.properties.adcode ?? null;
}

map.on("click", (event) => {
  const [site] = map.queryRenderedFeatures(event.point, { layers: ["sites", ...OPERATIONS_LAYERS] });
  const [cell] = map.queryRenderedFeatures(event.point, { layers: ["site-counts"] });
  const child = childAt(event.point);
  if (site) showSite(site.id ?? site.properties.id);
  else if (child) select(child);
  else if (cell) map.easeTo({ center: event.lngLat, zoom: map.getZoom() + 2 });
  else clickedAt(event.lngLat);
});
for (const layer of ["sites", ...OPERATIONS_LAYERS]) {
  map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
}
let hover;
map.on("mousemove", "region-fill", (event) => {
  const region = event.features[0]?.properties;
  if (!region) return;
  map.getCanvas().style.cursor = state.level === "county" ? "" : "pointer";
  hover?.remove();
  hover = new Popup({ closeButton: false, closeOnClick: false }).setLngLat(event.lngLat)
    .setHTML(`${escape(region.name)} · ${percent(region.covered_area_share)}`).addTo(map);
});
map.on("mouseleave", "region-fill", () => { hover?.remove(); map.getCanvas().style.cursor = ""; });

// The region in the URL is known before anything else: ask for its answers while the page starts (a province's or
// the country's gaps only on request; a city or above has children).
if (state.region) {
  prefetch(`/v1/regions/${state.region}?${new URLSearchParams(DATUM)}`);
  prefetch(`/v1/coverage/regions/${state.region}?${query()}`);
  if (!state.region.endsWith("0000")) prefetch(`/v1/coverage/regions/${state.region}/gaps?${query()}`);
  if (state.region.endsWith("00")) prefetch(`/v1/coverage/regions/${state.region}/children?${query()}`);
}

// The map's style loaded: what drawing on it waits for.
const mapReady = new Promise((resolve) => map.once("load", () => { performance.mark("map-load"); resolve(); }));

// Where the page opens without a region in its URL: the largest region at the top of what is loaded — China when
// the country is, else e.g. the demo's city.
async function topRegion() {
  let tops = Object.values(state.regions).filter((r) => !r.parent_adcode);
  if (!tops.length) {
    for (const county of (await api("/v1/regions?level=county")).items) remember(county);
    tops = Object.values(state.regions).filter((r) => !r.parent_adcode);
  }
  return tops.sort((a, b) => b.area_km2 - a.area_km2)[0]?.adcode ?? null;
}

async function start() {
  const [vocabularies, ...levels] = await Promise.all([
    api("/v1/vocabularies"), ...LEVELS_ABOVE_COUNTY.map((level) => api(`/v1/regions?level=${level}`)),
  ]);
  state.vocabularies = vocabularies;
  for (const region of levels.flatMap((level) => level.items)) remember(region);
  if (state.region) await regionDetail(state.region).catch(() => { state.region = null; });
  state.region ??= await topRegion();
  // The date shown is the one evaluated: today in China unless the URL names one (which then stays in the URL).
  $("as-of").value = state.asOf || todayInChina();
  translate();
  if (state.key) $("operations-key").placeholder = "••••••";
  await refresh();
  if (state.site) await showSite(state.site);
}

start().catch((error) => {
  document.body.dataset.ready = "error";
  console.error(error);
});
