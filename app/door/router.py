"""HTTP shape of the door: the token and its QR code for the site's operator (a write key for its region)."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import HTMLResponse, Response

from app.api.dependencies import ReaderDep, TransactionDep, WriteKeyDep
from app.api.parameters import SiteId
from app.api.query import StrictQueryRoute
from app.api.responses import JSON, public_base_url
from app.compute import offload
from app.door import page, poster, service
from app.door.schemas import DoorToken
from app.web.router import NO_FRAMING

router = APIRouter(prefix="/v1/sites", tags=["door"], route_class=StrictQueryRoute)
KEY_PROBLEMS: dict[int | str, dict[str, Any]] = {401: {}, 403: {"description": "A site outside the key's region"}}
# The token is the operator's to print, not the public's to read: never kept by a shared cache.
PRIVATE = {"Cache-Control": "no-store"}


def _answer(request: Request, door: dict[str, Any]) -> Response:
    url = service.door_url(public_base_url(request), door["token"])
    return JSON({**door, "url": url}, headers=PRIVATE)


@router.get("/{site_id:int}/door", response_model=DoorToken, responses={**KEY_PROBLEMS, 404: {}})
async def door_token(request: Request, principal: WriteKeyDep, tx: TransactionDep, site_id: SiteId) -> Response:
    """The site's door token and the URL its QR code encodes (issued on first use)."""
    return _answer(request, await service.current(tx, principal, site_id))


@router.post("/{site_id:int}/door/rotate", response_model=DoorToken, responses={**KEY_PROBLEMS, 404: {}})
async def rotate_door_token(request: Request, principal: WriteKeyDep, tx: TransactionDep, site_id: SiteId) -> Response:
    """A new door token: the old one, and every poster printed with it, is refused from now on."""
    return _answer(request, await service.rotate(tx, principal, site_id))


async def _door_url(request: Request, principal: Any, tx: Any, site_id: int) -> str:
    door = await service.current(tx, principal, site_id)
    return service.door_url(public_base_url(request), door["token"])


def _code(render: Callable[[str], bytes], media_type: str) -> Callable[..., Any]:
    async def code(request: Request, principal: WriteKeyDep, tx: TransactionDep, site_id: SiteId) -> Response:
        return Response(
            render(await _door_url(request, principal, tx, site_id)), media_type=media_type, headers=PRIVATE
        )

    return code


router.add_api_route(
    "/{site_id:int}/qr.svg",
    _code(poster.svg, "image/svg+xml"),
    methods=["GET"],
    summary="The site's QR code (SVG)",
    description="The QR code of the site's door URL with its current token, as SVG.",
    response_class=Response,
    responses={**KEY_PROBLEMS, 404: {}, 200: {"content": {"image/svg+xml": {}}}},
)
router.add_api_route(
    "/{site_id:int}/qr.png",
    _code(poster.png, "image/png"),
    methods=["GET"],
    summary="The site's QR code (PNG)",
    description="The QR code of the site's door URL with its current token, as PNG.",
    response_class=Response,
    responses={**KEY_PROBLEMS, 404: {}, 200: {"content": {"image/png": {}}}},
)


@router.get(
    "/{site_id:int}/poster.pdf",
    response_class=Response,
    responses={**KEY_PROBLEMS, 404: {}, 200: {"content": {"application/pdf": {}}}},
)
async def door_poster(request: Request, principal: WriteKeyDep, tx: TransactionDep, site_id: SiteId) -> Response:
    """The A5 poster for the door: the station's name, kind, hours, its QR code and what scanning does."""
    url = await _door_url(request, principal, tx, site_id)
    fields = await service.poster_fields(tx, site_id)
    pdf = await offload.run(poster.poster, fields, url)
    headers = {**PRIVATE, "Content-Disposition": f'inline; filename="site-{site_id}-poster.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


pages = APIRouter(include_in_schema=False)
# The door page's policy: its script and data from here only; its inline styles allowed.
DOOR_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@pages.get("/d/{token}", response_class=HTMLResponse)
async def door_page(reader: ReaderDep, token: Annotated[str, Path(max_length=64)]) -> Response:
    """Where the QR code leads: check in, rate, report a problem. A forged or rotated token finds no station."""
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": DOOR_POLICY, **NO_FRAMING}
    site = await service.door_page_fields(reader, token)
    if site is None:
        gone = "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><p>二维码已失效 This QR code is no longer valid"
        return HTMLResponse(gone, status_code=404, headers=headers)
    return HTMLResponse(page.render(token, site), headers=headers)
