"""What the database's refusals mean to the client: a constraint of the register broken, a value it cannot hold,
the database away, a transaction given up for another's sake."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import asyncpg
from sqlalchemy.exc import DBAPIError

from app.observability import metrics
from app.problems import Conflict, InvalidParameter, YizhanError

# What the driver raises when the database is not there: gone (a restart, a failover, a network cut), refusing
# connections, or shutting down. A query that fails for any other reason is a bug or a client error, not these.
DATABASE_UNREACHABLE: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused or reset while connecting or talking
    TimeoutError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57P01 admin shutdown, 57P02 crash, 57P03 cannot connect now
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


def _driver_error(exc: BaseException) -> BaseException:
    """asyncpg's exception, under SQLAlchemy's wrapping when there is one."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return exc.orig.__cause__ or exc.orig
    return exc


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what SQLAlchemy wraps) says the database cannot be reached."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(_driver_error(exc), DATABASE_UNREACHABLE)


def lost_race(exc: BaseException) -> bool:
    """Whether the database refused a transaction for another's sake (40001 serialization failure, 40P01
    deadlock): nothing of it was written, and the same request may well succeed now."""
    return isinstance(_driver_error(exc), asyncpg.TransactionRollbackError)


# What a constraint means to the client that broke it: the field, and what to do. The module that declares a table
# declares what its constraints mean (app.sites.models for the register); a violation not explained (a bug:
# validation should have caught it first) still names its column.
CONSTRAINT_PROBLEMS: dict[str, tuple[str, str]] = {}


def explain_constraints(problems: Mapping[str, tuple[str, str]]) -> None:
    """Declare what each named constraint means: its field, and what the client should do."""
    CONSTRAINT_PROBLEMS.update(problems)


def _constraint_problem(exc: asyncpg.IntegrityConstraintViolationError) -> YizhanError:
    metrics.DATABASE_ERRORS.labels("constraint").inc()
    name = getattr(exc, "constraint_name", None) or ""
    column = getattr(exc, "column_name", None)
    field, message = CONSTRAINT_PROBLEMS.get(name, (column or "body", f"refused by the register ({name or column})"))
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict(f"{field}: {message}", errors=[{"field": field, "message": message}])
    if isinstance(exc, asyncpg.NotNullViolationError):
        return InvalidParameter(field, "required")
    return InvalidParameter(field, message)


def data_problem(exc: asyncpg.DataError) -> YizhanError:
    """A value validation let through that the database cannot hold (out of its range, a character it refuses)."""
    metrics.DATABASE_ERRORS.labels("data").inc()
    return InvalidParameter(getattr(exc, "column_name", None) or "body", f"the register cannot hold it ({exc})")


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn the register's constraint violations into client errors, by exception class and constraint name.

    SQLAlchemy wraps the driver's exception (its __cause__ is asyncpg's); raw asyncpg calls raise it directly.
    """
    try:
        yield
    except DBAPIError as exc:
        cause = exc.orig.__cause__ if exc.orig is not None else None
        if isinstance(cause, asyncpg.IntegrityConstraintViolationError):
            raise _constraint_problem(cause) from None
        if isinstance(cause, asyncpg.DataError):
            raise data_problem(cause) from None
        raise
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise _constraint_problem(exc) from None
    except asyncpg.DataError as exc:
        raise data_problem(exc) from None
