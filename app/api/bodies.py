"""Large JSON request bodies read off the event loop.

FastAPI decodes a JSON body and validates it on the event loop: for a siting request with 10,000 candidate points
that is ~150 ms during which no other request is answered. A route that takes such a body declares it with
`documented(Model)` (so OpenAPI shows it as FastAPI would) and reads it with `read(request, Model)`, which parses
and validates it in a thread in one pydantic-core call. pydantic-core holds the GIL for stretches of its work, so
the loop is not wholly free meanwhile: for 10,000 candidates its longest wait was 74 ms, against ~150 ms for the
whole parse on the loop.
"""

import asyncio
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_DOCUMENTED: dict[str, type[BaseModel]] = {}


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body is `model`."""
    _DOCUMENTED[model.__name__] = model
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def document_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """The schemas of the bodies declared with `documented`, among the document's components."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _DOCUMENTED.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return document


async def read(request: Request, model: type[M]) -> M:
    """The request's JSON body as `model`; 422 naming each bad field (as FastAPI's own validation answers)."""
    body = await request.body()
    try:
        return await asyncio.to_thread(model.model_validate_json, body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
        raise RequestValidationError(errors) from None
