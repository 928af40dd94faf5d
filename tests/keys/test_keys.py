"""API keys: made, listed and revoked by the operator; only a hash is stored; a revoked or unknown key finds no one."""

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.keys import service as keys


async def test_a_key_is_stored_only_as_its_hash_and_found_by_its_secret(
    sa_conn: AsyncConnection, conn: asyncpg.Connection
) -> None:
    secret = await keys.create(sa_conn, "滨城区总工会", ["read", "write"], "371602")
    stored = await conn.fetch("SELECT * FROM api_keys")
    assert stored and all(secret not in str(dict(row).values()) for row in stored)
    found = await keys.find(conn, secret)
    assert found is not None and found.name == "滨城区总工会" and set(found.scopes) == {"read", "write"}
    assert await keys.find(conn, secret + "x") is None
    assert await keys.find(conn, "yz_nope") is None
    assert await keys.revoke(sa_conn, secret.split("_")[1])
    assert await keys.find(conn, secret) is None


def test_keys_from_the_command_line(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
    runner = CliRunner()
    made = runner.invoke(cli, ["keys", "create", "--name", "12351热线", "--scopes", "read", "--region", "3716"])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("yz_")
    listed = runner.invoke(cli, ["keys", "list"])
    prefix = secret.split("_")[1]
    assert prefix in listed.output and "12351热线" in listed.output and secret not in listed.output
    assert runner.invoke(cli, ["keys", "revoke", prefix]).exit_code == 0
    assert runner.invoke(cli, ["keys", "revoke", prefix]).exit_code != 0  # already revoked
    assert runner.invoke(cli, ["keys", "create", "--name", "x", "--scopes", "root"]).exit_code != 0
