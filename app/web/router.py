"""The pages the service serves itself: the planners' map (/map) and the API docs (/docs, /redoc), with every
script, style and icon from app/web/static (vendored from npm by scripts/vendor_web.sh): they work offline."""

from functools import cache
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from app.config import Settings
from app.paths import PROJECT_ROOT

STATIC_DIR = PROJECT_ROOT / "app" / "web" / "static"
STATIC = "/static"
router = APIRouter(include_in_schema=False)


@cache
def _map_template() -> str:
    return (STATIC_DIR / "map.html").read_text("utf-8")


# Every page: no other site may frame it (clickjacking), and a response is read as the type it is sent as.
NO_FRAMING = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}


def _base_map_origin(template: str | None) -> str | None:
    """The origin of a {z}/{x}/{y} base map template, a subdomain placeholder ({s}) as a wildcard."""
    if not template:
        return None
    url = urlsplit(template)
    host = ".".join("*" if "{" in label else label for label in (url.hostname or "").split("."))
    return f"{url.scheme}://{host}" + (f":{url.port}" if url.port else "")


def _map_policy(settings: Settings) -> str:
    """The map's Content-Security-Policy: its scripts, styles and data from here, the base map's tiles from its
    host; MapLibre's web worker from a blob: URL, its inline element styles allowed."""
    base = _base_map_origin(settings.map_base_url)
    extra = f" {base}" if base else ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob:{extra}",
            f"connect-src 'self'{extra}",
            "worker-src 'self' blob:",
            "child-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@router.get("/map", response_class=HTMLResponse)
async def map_page(request: Request) -> Response:
    """The planners' map: its view (region, kind, as_of, site) lives in the URL."""
    settings = request.app.state.settings
    page = _map_template()
    # The optional online base map, as the deployment configures it (offline the boundaries are the base layer).
    page = (
        page.replace("__BASE_MAP_URL__", settings.map_base_url or "")
        .replace("__BASE_MAP_ATTRIBUTION__", settings.map_base_attribution or "")
        .replace("__BASE_MAP_COORDSYS__", settings.map_base_coordsys.value)
    )
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": _map_policy(settings), **NO_FRAMING}
    return HTMLResponse(page, headers=headers)


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> Response:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} — API",
        swagger_js_url=f"{STATIC}/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC}/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{STATIC}/favicon.svg",
    )
    page.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    page.headers.update(NO_FRAMING)
    return page


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> Response:
    page = get_redoc_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} — API",
        redoc_js_url=f"{STATIC}/vendor/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{STATIC}/favicon.svg",
        with_google_fonts=False,
    )
    # ReDoc's menu shows its maker's logo from their CDN; images come from here only (offline it would fail anyway).
    page.headers["Content-Security-Policy"] = "img-src 'self' data:; frame-ancestors 'none'"
    page.headers.update(NO_FRAMING)
    return page


def mount_pages(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(STATIC, StaticFiles(directory=STATIC_DIR), name="static")
