"""Problems in the OpenAPI document: every error answer documented as problem+json, with the errors any operation
of its kind can answer whatever its own declarations say."""

from http import HTTPStatus
from typing import Any

from app.problems import MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` names each bad field",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "urn:request:<X-Request-ID>"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,  # RFC 9457 extension members (a rejected bulk import's row report)
}

WRITES = frozenset({"post", "put", "patch", "delete"})


def _possible_errors(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["429", "503"]  # the rate limit (/v1, /ogc), the database away
    if operation.get("parameters") or operation.get("requestBody"):
        codes.append("400" if path.startswith("/ogc") else "422")
    if "{" in path:
        codes.append("404")
    if operation.get("requestBody"):
        codes += ["400", "408", "413", "422"]  # a body that does not parse, stops arriving, is too large, or is invalid
    if operation.get("security"):  # the route asks for a key (app.api.dependencies.require)
        codes += ["401", "403"]  # no valid key; its scope or its region
        if method in WRITES:
            codes.append("409")  # a concurrent write
    return codes


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Every error answer in an OpenAPI document as what it is: problem+json (FastAPI documents its own
    HTTPValidationError, which this service never sends)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    problem_content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _possible_errors(path, method, operation):
                responses.setdefault(code, {"description": HTTPStatus(int(code)).phrase})
            for code, answer in responses.items():
                if code[0] in "45":
                    answer["content"] = problem_content
                    if answer.get("description") in (None, "", "Validation Error"):
                        answer["description"] = HTTPStatus(int(code)).phrase
    return document
