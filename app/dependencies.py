"""Request-scoped dependencies, as Annotated aliases so routes read `reader: ReaderDep`."""

from typing import Annotated

from fastapi import Depends, Request

from app.db import Reader


async def get_reader(request: Request) -> Reader:
    """The read pool; tests override this with a connection inside a rolled-back transaction."""
    reader: Reader = request.app.state.db.reader
    return reader


ReaderDep = Annotated[Reader, Depends(get_reader)]
