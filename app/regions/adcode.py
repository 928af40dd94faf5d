"""A region's six-digit administrative code (行政区划代码), as every request and the schema check it."""

from typing import Annotated

from fastapi import Path

ADCODE_PATTERN = r"^[0-9]{6}$"
ADCODE_DESCRIPTION = "Six-digit administrative code"
Adcode = Annotated[str, Path(pattern=ADCODE_PATTERN, description=ADCODE_DESCRIPTION)]
