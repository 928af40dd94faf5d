"""Every problem type in one framework-free module, and the OpenAPI document's error answers drawn from what each
route declares."""

import importlib
import pkgutil
import subprocess
import sys

import app
from app.main import create_app
from app.problems import YizhanError

WEB_OR_DATABASE = ("fastapi", "starlette", "sqlalchemy", "asyncpg")


def _all_modules() -> None:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        importlib.import_module(module.name)


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def test_every_problem_type_is_defined_in_the_problem_module() -> None:
    _all_modules()
    typed = [cls for cls in _subclasses(YizhanError) if "type" in vars(cls) or "status" in vars(cls)]
    assert len(typed) > 20
    outside = [
        cls.__qualname__ for cls in typed if cls.__module__.startswith("app.") and cls.__module__ != "app.problems"
    ]
    assert outside == []


def test_problem_types_are_distinct_per_meaning() -> None:
    typed = {cls.type: cls for cls in _subclasses(YizhanError) if "type" in vars(cls)}
    assert "/problems/validation" in typed and "/problems/over-budget" in typed
    assert all(t.startswith("/problems/") for t in typed)


def test_the_geometry_rules_and_the_problem_types_import_nothing_of_the_web_or_the_database() -> None:
    code = (
        "import sys, app.geo, app.problems; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({WEB_OR_DATABASE!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_routes_that_ask_for_a_key_document_401_and_403_and_no_other_does(settings) -> None:  # type: ignore[no-untyped-def]
    document = create_app(settings).openapi()
    keyed, open_ = [], []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            (keyed if operation.get("security") else open_).append((method, path, operation["responses"]))
    assert ("get", "/v1/reports") in [(m, p) for m, p, _ in keyed]
    assert ("post", "/v1/sites") in [(m, p) for m, p, _ in keyed]
    for _, _, responses in keyed:
        assert {"401", "403"} <= set(responses)
    suggest = [r for m, p, r in open_ if (m, p) == ("post", "/v1/coverage/suggest")]
    assert suggest and "401" not in suggest[0]
    worker_report = [r for m, p, r in open_ if (m, p) == ("post", "/v1/sites/{site_id}/reports")]
    assert worker_report and "401" not in worker_report[0]
    assert set(document["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
