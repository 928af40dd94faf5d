"""Bind parameters of statements composed from fragments.

A fragment shared between statements is a function of its placeholders (`serving_on(as_of, is_today)`); the
statement that composes it takes those placeholders from one `Params`, so no fragment assumes which `$n` its caller
used. The same values added in the same order give the same text: asyncpg prepares a statement once per connection
by its text, so each variant of a statement must be written the same way every time.
"""


class Params:
    """One statement's bind parameters: each value added gets the next placeholder, `$1` first."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: list[object] = []

    def add(self, value: object) -> str:
        """The placeholder of `value` in the statement; a value the statement uses twice is added once."""
        self.values.append(value)
        return f"${len(self.values)}"
