"""Targets: set by a planner's key within its region, changed with If-Match, withdrawn, every change kept with the
key's name; bad input answered 4xx naming the field."""

import datetime as dt

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.china_time import today
from app.keys import service as keys

BINZHOU, HUIMIN, BINCHENG = "371600", "371621", "371602"


@pytest.fixture
async def planner(sa_conn: AsyncConnection) -> dict[str, str]:
    """A key of 滨州市总工会 with the plan scope, limited to the city."""
    return {"Authorization": f"Bearer {await keys.create(sa_conn, '滨州市总工会', ['plan'], '3716')}"}


def due(days: int = 365) -> str:
    return (today() + dt.timedelta(days=days)).isoformat()


async def test_a_target_is_set_read_changed_and_withdrawn_with_its_history(
    client: httpx.AsyncClient, planner: dict[str, str]
) -> None:
    body = {"region": HUIMIN, "kind": "legal_aid", "measure": "count", "value": 40, "due_on": due()}
    r = await client.post("/v1/targets", json=body, headers=planner)
    assert r.status_code == 201, r.text
    target = r.json()
    assert r.headers["location"] == f"/v1/targets/{target['id']}"
    # Without a start value the line starts from the county's figure today, as the coverage answer gives it.
    coverage = (await client.get(f"/v1/coverage/regions/{HUIMIN}", params={"kind": "legal_aid"})).json()
    assert target["start_value"] == coverage["site_count"]
    assert (target["starts_on"], target["region_name"], target["set_by"]) == (
        today().isoformat(),
        "惠民县",
        "滨州市总工会",
    )
    assert target["status"] == "active" and target["version"] == 1

    listed = (await client.get("/v1/targets", params={"region": BINZHOU, "kind": "legal_aid"})).json()["items"]
    assert [t["id"] for t in listed] == [target["id"]]
    assert [t["id"] for t in (await client.get(f"/v1/regions/{BINZHOU}/targets")).json()["items"]] == [target["id"]]
    assert (await client.get(f"/v1/regions/{BINCHENG}/targets")).json()["items"] == []

    url = f"/v1/targets/{target['id']}"
    assert (await client.patch(url, json={"value": 45}, headers=planner)).status_code == 428
    stale = {**planner, "If-Match": f'"target-{target["id"]}-0"'}
    assert (await client.patch(url, json={"value": 45}, headers=stale)).status_code == 412
    read = await client.get(url)
    unchanged = await client.patch(url, json={}, headers={**planner, "If-Match": read.headers["etag"]})
    assert (unchanged.status_code, unchanged.headers["etag"]) == (200, read.headers["etag"])
    changed = await client.patch(url, json={"value": 45}, headers={**planner, "If-Match": read.headers["etag"]})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["value"], changed.json()["version"]) == (45, 2)
    # The ETag read before the change is stale now.
    assert (await client.delete(url, headers={**planner, "If-Match": read.headers["etag"]})).status_code == 412
    withdrawn = await client.delete(url, headers={**planner, "If-Match": changed.headers["etag"]})
    assert withdrawn.status_code == 204
    assert (await client.get(url)).json()["status"] == "withdrawn"
    assert (await client.get("/v1/targets", params={"region": BINZHOU})).json()["items"] == []
    kept = (await client.get("/v1/targets", params={"region": BINZHOU, "status": "withdrawn"})).json()["items"]
    assert [t["id"] for t in kept] == [target["id"]]

    history = (await client.get(f"{url}/history")).json()["items"]
    assert [(h["action"], h["version"], h["actor"]) for h in history] == [
        ("created", 1, "滨州市总工会"),
        ("updated", 2, "滨州市总工会"),
        ("withdrawn", 3, "滨州市总工会"),
    ]
    assert (history[1]["before"]["value"], history[1]["after"]["value"]) == (40, 45)
    assert (history[2]["before"]["status"], history[2]["after"]["status"]) == ("active", "withdrawn")
    # A withdrawn target is not changed again: a new one is set.
    again = await client.patch(url, json={"value": 50}, headers={**planner, "If-Match": "*"})
    assert again.status_code == 409


async def test_a_share_target_with_its_own_line(client: httpx.AsyncClient, planner: dict[str, str]) -> None:
    body = {
        "region": BINCHENG,
        "kind": "legal_aid",
        "measure": "area_share",
        "value": 0.98,
        "due_on": due(200),
        "starts_on": "2026-01-01",
        "start_value": 0.5,
        "note": "市辖区 2 公里全覆盖",
    }
    r = await client.post("/v1/targets", json=body, headers=planner)
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ("value", "starts_on", "start_value", "note")} == {
        k: body[k] for k in ("value", "starts_on", "start_value", "note")
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"due_on": "2020-01-01"}, "due_on"),
        ({"due_on": today().isoformat()}, "due_on"),
        ({"measure": "population_share", "value": 1.5}, "value"),
        ({"measure": "area_share", "value": 0.9, "start_value": 2}, "start_value"),
        ({"region": "999999"}, "region"),
        ({"kind": "no_such_kind"}, "kind"),
        ({"measure": "percent"}, "measure"),
        ({"value": -1}, "value"),
        ({"starts_on": due(30), "due_on": due(20)}, "starts_on"),
    ],
)
async def test_bad_targets_are_refused_naming_the_field(
    client: httpx.AsyncClient, planner: dict[str, str], change: dict[str, object], field: str
) -> None:
    body = {"region": HUIMIN, "kind": "legal_aid", "measure": "count", "value": 40, "due_on": due(), **change}
    r = await client.post("/v1/targets", json=body, headers=planner)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"].split(".")[-1] for e in r.json()["errors"]]
    assert (await client.get("/v1/targets", params={"region": BINZHOU})).json()["items"] == []


async def test_a_key_sets_targets_only_in_its_region_and_only_with_the_plan_scope(
    client: httpx.AsyncClient, sa_conn: AsyncConnection
) -> None:
    county = {"X-API-Key": await keys.create(sa_conn, "滨城区总工会", ["plan"], BINCHENG)}
    writer = {"X-API-Key": await keys.create(sa_conn, "登记员", ["write"], None)}
    body = {"region": HUIMIN, "kind": "legal_aid", "measure": "count", "value": 40, "due_on": due()}
    outside = await client.post("/v1/targets", json=body, headers=county)
    assert outside.status_code == 403
    assert outside.json()["errors"][0]["field"] == "region"
    assert (await client.post("/v1/targets", json=body, headers=writer)).status_code == 403
    assert (await client.post("/v1/targets", json=body)).status_code == 401
    inside = await client.post("/v1/targets", json={**body, "region": BINCHENG}, headers=county)
    assert inside.status_code == 201
    # Nor may it change a target of another county.
    city = {"X-API-Key": await keys.create(sa_conn, "滨州市总工会", ["plan"], "3716")}
    other = (await client.post("/v1/targets", json=body, headers=city)).json()
    r = await client.patch(f"/v1/targets/{other['id']}", json={"value": 1}, headers={**county, "If-Match": "*"})
    assert r.status_code == 403
