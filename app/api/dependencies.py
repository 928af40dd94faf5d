"""Request-scoped dependencies, as Annotated aliases so routes read `reader: ReaderDep`."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.read_pool import Reader
from app.keys import service as keys
from app.keys.service import Principal
from app.observability.requests import note_key_name
from app.problems import Forbidden, Unauthorized
from app.vocabularies.service import Vocabularies


async def get_reader(request: Request) -> Reader:
    """The read pool for request-time reads: the standby's while it keeps up (app.database.replica), else the
    primary's."""
    reader: Reader = request.app.state.db.reader
    return reader


ReaderDep = Annotated[Reader, Depends(get_reader)]


async def get_primary_reader(request: Request) -> Reader:
    """The primary's read pool, for reads that must see every commit: the change feed (a partner's sync must not
    skip ahead of a lagging standby), API keys (one issued a moment ago works at once). The same pool as
    get_reader without a standby."""
    reader: Reader = request.app.state.db.primary
    return reader


PrimaryReaderDep = Annotated[Reader, Depends(get_primary_reader)]


async def get_vocabularies(request: Request) -> Vocabularies:
    """The application's vocabularies, kept as long as it runs."""
    vocabularies: Vocabularies = request.app.state.vocabularies
    return vocabularies


VocabulariesDep = Annotated[Vocabularies, Depends(get_vocabularies)]


async def get_transaction(request: Request) -> AsyncIterator[AsyncConnection]:
    """One transaction on the primary per request: committed when the handler returns, rolled back if it raises."""
    async with request.app.state.db.engine.begin() as conn:
        yield conn


# scope="function": the transaction ends before the response is sent, so a client never sees a 2xx for a write
# that then failed to commit.
TransactionDep = Annotated[AsyncConnection, Depends(get_transaction, scope="function")]


# How a key is presented, as security schemes: a route that asks for a key says so in the OpenAPI document
# (app.problems.openapi documents its 401 and 403 from that).
BEARER = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")
KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key, as a header of its own")


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only keys with `scope` (401 without a valid key, 403 with the wrong one)."""

    async def principal(
        request: Request,
        reader: PrimaryReaderDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
        header: Annotated[str | None, Security(KEY_HEADER)],
    ) -> Principal:
        secret = bearer.credentials.strip() if bearer is not None else header or None
        if secret is None:
            raise Unauthorized("this needs an API key: Authorization: Bearer <key> or X-API-Key")
        found = await keys.find(reader, secret)
        if found is None:
            raise Unauthorized("unknown or revoked API key")
        note_key_name(request.scope, found.name)
        if scope not in found.scopes and "admin" not in found.scopes:
            raise Forbidden(f"this key lacks the '{scope}' scope")
        return found

    return principal


# The caller, holding a key with the write scope.
WriteKeyDep = Annotated[Principal, Depends(require("write"))]

# The caller, holding a key with the plan scope (targets, closing a month).
PlanKeyDep = Annotated[Principal, Depends(require("plan"))]
# The caller, holding a key with the inspect scope (an inspector's: records inspections, reads what is due).
InspectKeyDep = Annotated[Principal, Depends(require("inspect"))]
