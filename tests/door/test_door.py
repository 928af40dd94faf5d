"""The QR code at the door: read back by a real QR reader (zbar) to the site's door URL with its current token; a
rotated token is refused; only the site's operator (a write key for its region) sees or rotates it."""

import asyncio
import base64
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import httpx
import pytest
import weasyprint
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import service as keys
from tests.tools import run

BINCHENG = "371602"  # 滨城区
HUIMIN = "371621"  # 惠民县


@pytest.fixture
async def site(conn: asyncpg.Connection) -> dict:
    row = await conn.fetchrow(
        "SELECT id, name, opening_hours FROM sites WHERE region_adcode = $1 AND kind = 'outdoor_station' "
        "AND deleted_at IS NULL ORDER BY id LIMIT 1",
        BINCHENG,
    )
    return dict(row)


@pytest.fixture
async def operator(sa_conn: AsyncConnection) -> dict[str, str]:
    return {"Authorization": f"Bearer {await keys.create(sa_conn, '滨城区总工会', ['write'], BINCHENG)}"}


def _decode(image: bytes, suffix: str) -> list[str]:
    """What zbar reads in an image: every code's text."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(image)
        f.flush()
        done = subprocess.run(["zbarimg", "--raw", "-q", f.name], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()


async def decode(image: bytes, suffix: str = ".png") -> list[str]:
    return await asyncio.to_thread(_decode, image, suffix)


async def pdf_page_as_png(pdf: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "page.pdf"
        source.write_bytes(pdf)
        await run("pdftoppm", "-png", "-r", "150", "-singlefile", str(source), str(Path(folder) / "page"))
        return (Path(folder) / "page.png").read_bytes()


async def test_the_png_code_reads_back_as_the_door_url_with_the_current_token(
    client: httpx.AsyncClient, site: dict, operator: dict[str, str]
) -> None:
    door = (await client.get(f"/v1/sites/{site['id']}/door", headers=operator)).json()
    assert door["url"] == f"http://yizhan.test/d/{door['token']}" and len(door["token"]) == 22
    png = await client.get(f"/v1/sites/{site['id']}/qr.png", headers=operator)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"] == "no-store"
    assert await decode(png.content) == [door["url"]]
    again = (await client.get(f"/v1/sites/{site['id']}/door", headers=operator)).json()
    assert again["token"] == door["token"]  # issued once, then kept


async def test_the_svg_code_reads_back_the_same(
    client: httpx.AsyncClient, site: dict, operator: dict[str, str]
) -> None:
    door = (await client.get(f"/v1/sites/{site['id']}/door", headers=operator)).json()
    svg = await client.get(f"/v1/sites/{site['id']}/qr.svg", headers=operator)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    # Drawn by an SVG renderer other than the code's maker, then read by zbar.
    page = f'<img style="width:80mm" src="data:image/svg+xml;base64,{base64.b64encode(svg.content).decode()}">'
    pdf = await asyncio.to_thread(weasyprint.HTML(string=page).write_pdf)
    assert await decode(await pdf_page_as_png(pdf)) == [door["url"]]


async def test_the_poster_is_a5_with_the_name_hours_what_scanning_does_and_a_readable_code(
    client: httpx.AsyncClient, site: dict, operator: dict[str, str]
) -> None:
    door = (await client.get(f"/v1/sites/{site['id']}/door", headers=operator)).json()
    answer = await client.get(f"/v1/sites/{site['id']}/poster.pdf", headers=operator)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(answer.content)
        f.flush()
        text = await run("pdftotext", "-layout", f.name, "-")
        info = await run("pdfinfo", f.name)
    assert site["name"] in text and "户外劳动者驿站" in text and "扫码入站 · 评价 · 反映问题" in text
    assert "开放时间" in text
    # A5 is 148 × 210 mm: 419.53 × 595.28 pt.
    size = next(line for line in info.splitlines() if line.startswith("Page size:")).split()
    assert float(size[2]) == pytest.approx(419.53, abs=0.5) and float(size[4]) == pytest.approx(595.28, abs=0.5)
    assert await decode(await pdf_page_as_png(answer.content)) == [door["url"]]


async def test_a_rotated_token_is_refused_and_the_new_code_carries_the_new_one(
    client: httpx.AsyncClient, site: dict, operator: dict[str, str]
) -> None:
    old = (await client.get(f"/v1/sites/{site['id']}/door", headers=operator)).json()
    new = (await client.post(f"/v1/sites/{site['id']}/door/rotate", headers=operator)).json()
    assert new["token"] != old["token"]
    png = await client.get(f"/v1/sites/{site['id']}/qr.png", headers=operator)
    assert await decode(png.content) == [new["url"]]
    refused = await client.post("/v1/visits", json={"token": old["token"]})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "token"
    accepted = await client.post("/v1/visits", json={"token": new["token"]})
    assert accepted.status_code in (201, 200)


async def test_only_the_sites_operator_sees_or_rotates_the_token(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, site: dict
) -> None:
    other_county = {"Authorization": f"Bearer {await keys.create(sa_conn, '惠民县总工会', ['write'], HUIMIN)}"}
    reader = {"Authorization": f"Bearer {await keys.create(sa_conn, '只读', ['read'], None)}"}
    for path, method in (("door", "GET"), ("door/rotate", "POST"), ("qr.png", "GET"), ("poster.pdf", "GET")):
        url = f"/v1/sites/{site['id']}/{path}"
        assert (await client.request(method, url)).status_code == 401
        assert (await client.request(method, url, headers=reader)).status_code == 403
        refused = await client.request(method, url, headers=other_county)
        assert refused.status_code == 403 and BINCHENG in refused.json()["detail"]
