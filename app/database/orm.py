"""The ORM's base: table metadata with the naming convention every constraint name (and so every problem a
constraint answers with, app.problems.database) follows."""

from enum import StrEnum

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, vocabulary: type[StrEnum]) -> str:
    """A CHECK constraint's condition: `column` holds one of the vocabulary's codes."""
    return f"{column} IN ({', '.join(repr(member.value) for member in vocabulary)})"
