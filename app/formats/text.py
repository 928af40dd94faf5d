"""Text the register accepts: what a reader can see.

Control characters (C0, DEL, C1), bidi embeddings, overrides and isolates, and zero-width characters are refused in
every text field: they break the files the register writes (XML, so XLSX, cannot hold most C0 characters), and they
let one name display as another (U+202E shows "站驿gpj.exe" as "exe.jpg驿站"; a zero-width space makes two equal-looking
names differ). Multi-line text keeps its line breaks (LF) and nothing else. Schemas add `ONE_LINE` or `MULTILINE` to
an annotated str; query parameters use `LINE_PATTERN`.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

_INVISIBLE = r"\u200b-\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069"
_HIDDEN_IN_LINE = rf"\x00-\x1f\x7f-\x9f{_INVISIBLE}"
_HIDDEN_IN_TEXT = rf"\x00-\x09\x0b-\x1f\x7f-\x9f{_INVISIBLE}"  # LF kept
_HIDDEN = {False: re.compile(f"[{_HIDDEN_IN_LINE}]"), True: re.compile(f"[{_HIDDEN_IN_TEXT}]")}


def describe(character: str) -> str:
    """U+202E (RIGHT-TO-LEFT OVERRIDE)."""
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X}" + (f" ({name})" if name else "")


@dataclass(frozen=True)
class Visible:
    """Pydantic metadata: the str may hold no hidden character (see the module), and starts with `start` (a regex)."""

    multiline: bool = False
    start: str = ""
    start_label: str = ""

    @property
    def pattern(self) -> str:
        return rf"^{self.start}[^{_HIDDEN_IN_TEXT if self.multiline else _HIDDEN_IN_LINE}]*$"

    def check(self, value: str) -> str:
        if (found := _HIDDEN[self.multiline].search(value)) is not None:
            kind = "a line break" if found.group() in "\r\n" else "a control, bidi or zero-width character"
            raise PydanticCustomError(
                "hidden_character",
                "holds {character}, {kind}, at position {position}",
                {"character": describe(found.group()), "kind": kind, "position": found.start() + 1},
            )
        if self.start and not re.match(self.start, value):
            raise PydanticCustomError("text_start", "must start with {start}", {"start": self.start_label})
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


ONE_LINE = Visible()
MULTILINE = Visible(multiline=True)
URL = Visible(start="https?://", start_label="http:// or https://")
LINE_PATTERN = ONE_LINE.pattern
