"""The controlled vocabularies (site kinds, amenities) are data; requests validate against a short-lived cache."""

import time

from app.database.read_pool import Reader
from app.problems import InvalidParameter
from app.vocabularies import repository

# Adding a kind is an INSERT; every worker sees it within this many seconds without a restart.
CACHE_SECONDS = 30.0


class Vocabulary:
    def __init__(self, table: str) -> None:
        self._table = table
        self._codes: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")

    async def codes(self, reader: Reader) -> frozenset[str]:
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:
            self._codes = frozenset(row["code"] for row in await repository.labelled(reader, self._table))
            self._loaded_at = time.monotonic()
        return self._codes

    @staticmethod
    def unknown(known: frozenset[str], values: list[str] | None) -> str | None:
        """What is wrong with `values` against the `known` codes, or None."""
        unknown = [v for v in values or [] if v not in known]
        return f"unknown value(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}" if unknown else None

    async def check(self, reader: Reader, field: str, values: list[str] | None) -> None:
        if values and (problem := self.unknown(await self.codes(reader), values)):
            raise InvalidParameter(field, problem)


class Vocabularies:
    """The vocabularies requests and writes are checked against, each with its cache: one set per application
    (create_app keeps it on app.state), so applications in one process do not share what they have read."""

    def __init__(self) -> None:
        self.site_kinds = Vocabulary("site_kinds")
        self.amenities = Vocabulary("amenities")
