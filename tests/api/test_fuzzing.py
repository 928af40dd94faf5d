"""schemathesis against the service's own /openapi.json: every operation, without a key and with a write key, on a
database of its own (the fuzzing writes), bounded (a fixed seed, a few examples each), with every check it has: no
server error; every answer as documented (schema, status code, content type, headers, Allow); invalid requests
refused, valid ones taken; undeclared methods answered 405. What the document cannot say (a vocabulary's codes, the
register's state) is in tests/api/schemathesis.toml."""

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import serving
from tests.tools import own_database, run

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[str, str]]:
    """A server on a database of its own (the fuzzing writes), and a write key for it."""
    with own_database("fuzz") as (settings, key), serving(settings) as base:
        yield base, key


@pytest.mark.parametrize("with_key", [False, True], ids=["anonymous", "write-key"])
async def test_every_operation_answers_as_documented(fuzzed: tuple[str, str], with_key: bool, tmp_path: Path) -> None:
    base, key = fuzzed
    schemathesis = shutil.which("schemathesis", path=os.path.dirname(sys.executable))
    assert schemathesis, "schemathesis is a dev dependency"
    args = [schemathesis, "--config-file", str(CONFIG), "run", f"{base}/openapi.json", "--checks", "all"]
    args += ["--max-examples", "8", "--seed", "1"]
    if with_key:
        args += ["-H", f"Authorization: Bearer {key}"]
    try:
        output = await run(*args, "--report-dir", str(tmp_path))
    except Exception as failed:  # its report says which operation and why
        raise AssertionError(getattr(failed, "stdout", str(failed))[-6000:]) from None
    assert "passed" in output
